"""`glmchat models`: per model, the context window, maximum output, thinking and prices.

Z.ai's prices are never served by its API, so the Z.ai family is shown from the shipped
catalogue; OpenRouter's live list (GET {base_url}/models) is read and kept a day; any other
provider (or `--base-url`) is asked for its model ids, each shown with what is known of it."""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len

from glmchat.backend.errors import ProviderError
from glmchat.cli.cells import aligned, clip, wrap
from glmchat.cli.errors import CliError
from glmchat.sentences import join_sentences
from glmchat.terminal_text import dumps_json

if TYPE_CHECKING:
    from glmchat.backend.providers import ProviderConfig
    from glmchat.catalogue import ModelInfo
    from glmchat.config import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "models",
        description="List a provider's models with their context window, maximum output, "
        "thinking behaviour and prices (USD per million tokens, with the date they were "
        "taken). OpenRouter's come from its live list, kept for a day.",
    )
    p.add_argument(
        "--provider", metavar="NAME", help="provider name (default: the default model's)"
    )
    p.add_argument("--json", action="store_true", help="print a JSON array of the models")
    p.add_argument("--base-url", metavar="URL", help="ask this server for its models")
    p.add_argument(
        "--configured",
        action="store_true",
        help="print the configured models without asking the provider",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glmchat.config import load_settings

    # A config or credentials problem (or a missing key) goes up to the edge as it is.
    settings = load_settings()
    name = args.provider or settings.default_provider
    provider = settings.providers.get(name)
    if provider is None:
        known = ", ".join(settings.providers)
        raise CliError(f'unknown provider "{name}"; known providers: {known}', 2)
    if args.configured:
        for model in provider.models:
            print(f"{provider.name}/{model}")
        return 0
    infos, notes = _models(settings, provider, args.base_url)
    for note in notes:
        print(f"glmchat: note: {note}", file=sys.stderr)
    if args.json:
        print(dumps_json([_as_json(info) for info in infos]))
    else:
        # As wide as the terminal is (COLUMNS, or the terminal's size), as sessions list is.
        print(_table(infos, shutil.get_terminal_size((100, 24)).columns))
    return 0


def _models(
    settings: Settings, provider: ProviderConfig, base_url: str | None
) -> tuple[list[ModelInfo], list[str]]:
    """The models to show and the notes that go with them (where the figures came from)."""
    from glmchat.catalogue import known_models, lookup
    from glmchat.catalogue.shipped import family_of

    family = family_of(provider.name, provider.dialect)
    configured = [*provider.models, *_overridden(settings, provider.name)]
    if family == "openrouter":
        return _openrouter(settings, provider, configured, base_url or provider.base_url)
    if base_url is None and family == "zai":
        return [lookup(settings, provider.name, m) for m in known_models(settings, provider)], []
    ids = _server_ids(provider, base_url) or configured
    return [lookup(settings, provider.name, m) for m in dict.fromkeys(ids)], []


def _overridden(settings: Settings, provider: str) -> list[str]:
    """The models config.toml's [models."PROVIDER/MODEL"] tables add for this provider."""
    return [name.partition("/")[2] for name in settings.models if name.startswith(f"{provider}/")]


def _openrouter(
    settings: Settings, provider: ProviderConfig, configured: list[str], base_url: str
) -> tuple[list[ModelInfo], list[str]]:
    """OpenRouter's GLM models from its live list (kept a day); if it cannot be read, the
    shipped catalogue's, with a note saying so."""
    from glmchat.catalogue import known_models, lookup
    from glmchat.catalogue.openrouter_live import CacheUnusable, read_cache

    notes: list[str] = []
    try:
        live, _ = read_cache(base_url)
    except CacheUnusable as cached:
        try:
            live = _fetch_openrouter(provider, base_url)
        except ProviderError as exc:
            shown = "the shipped catalogue (prices of 2026-08-21)"
            reason = str(cached) if "no cached list" not in str(cached) else ""
            notes.append(
                join_sentences(
                    f"could not read OpenRouter's live model list: {exc.message}",
                    reason and f"{reason[0].upper()}{reason[1:]}",
                    f"Showing {shown}.",
                )
            )
            ids = known_models(settings, provider)
            return [lookup(settings, provider.name, m) for m in ids], notes
    by_id = {info.model: info for info in live if _is_glm(info.model)}
    ids = [*sorted(by_id), *(m for m in configured if m not in by_id)]
    # The live figures over the catalogue's (thinking stays the catalogue's), config over both.
    infos = [lookup(settings, provider.name, m, live=by_id.get(m)) for m in dict.fromkeys(ids)]
    return infos, notes


def _is_glm(model: str) -> bool:
    return model.startswith(("z-ai/", "~z-ai/"))


def _fetch_openrouter(provider: ProviderConfig, base_url: str) -> list[ModelInfo]:
    """GET /models (a key is sent when there is one: the list needs none) and keep it a day."""
    from glmchat.backend.openai_compat import fetch_model_list
    from glmchat.catalogue.openrouter_live import parse_models, write_cache
    from glmchat.credentials import CredentialStore, MissingKeyError, require_key
    from glmchat.store.models import now_iso

    try:
        secret = require_key(provider, CredentialStore())
    except MissingKeyError:
        secret = None
    key = secret.reveal() if secret else None
    import asyncio

    doc = asyncio.run(fetch_model_list(provider, key, base_url=base_url))
    models = parse_models(doc, provider.name, now_iso())
    try:
        write_cache(models, base_url)
    except OSError as exc:  # the list is still shown; the next run asks again
        print(f"glmchat: warning: could not keep OpenRouter's model list: {exc}", file=sys.stderr)
    return models


def _server_ids(provider: ProviderConfig, base_url: str | None) -> list[str]:
    """The ids a server lists at GET {base_url}/models (a local server, or --base-url)."""
    from glmchat.backend.openai_compat import list_models
    from glmchat.credentials import CredentialStore, MissingKeyError, require_key

    try:
        secret = require_key(provider, CredentialStore())
    except MissingKeyError:
        if not base_url and provider.requires_key:
            raise
        secret = None
    try:
        import asyncio

        return asyncio.run(
            list_models(provider, secret.reveal() if secret else None, base_url=base_url)
        )
    except ProviderError as exc:
        if provider.models and exc.http_status == 404:
            # Some servers have no /models endpoint; the configured list is still true.
            shown = join_sentences(exc.message, "Showing the configured models.")
            print(f"glmchat: {shown}", file=sys.stderr)
            return list(provider.models)
        raise


# --- output ----------------------------------------------------------------------------------


def _as_json(info: ModelInfo) -> dict[str, Any]:
    doc = asdict(info)
    doc["efforts"] = list(info.efforts)
    return {"id": f"{info.provider}/{info.model}", **doc}


def _count(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= 1_000_000 and n % 1_000_000 in (0, 48_576):
        return f"{n // 1_048_576 if n % 1_000_000 else n // 1_000_000}M"
    return f"{n // 1024}K" if n % 1024 == 0 else f"{n / 1000:g}K"


def _price(value: float | None) -> str:
    return "?" if value is None else f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _thinking(info: ModelInfo, efforts: bool = True) -> str:
    if info.thinking is None:
        return "?"
    if info.efforts and efforts:
        return f"{info.thinking} ({'/'.join(info.efforts)})"
    return info.thinking


# What gives way, in this order, while the table is wider than the terminal (found by QA: at 80
# columns each row wrapped, its last columns on a line of their own): the provider every row
# shares (named once, in the header), the price date (its notes are dated), the effort levels,
# the cached-input price, the headers' long names, a space between columns, the thinking
# column; then the model ids are cut. What is dropped is named under the table; --json has it.
NARROWER = ("provider", "date", "efforts", "cached", "short", "tight", "thinking")
DROPPED = {
    "date": "the price date",
    "efforts": "the effort levels",
    "cached": "the cached-input price",
    "thinking": "the thinking behaviour",
}
MODEL_MIN = 10  # the least a cut model id keeps


def _table(infos: list[ModelInfo], width: int) -> str:
    """One line per model, no wider than `width` cells where it can be; "?" marks what is not
    known. Where a model's prices come from is a numbered note under the table, the number in
    the row's SOURCE column (a source is often shared by many models, so naming them in the
    note would repeat the table); the notes wrap at spaces."""
    notes = list(dict.fromkeys(info.price_source for info in infos if info.price_source))
    cuts: set[str] = set()
    lines = _columns(infos, notes, cuts)
    for cut in NARROWER:
        if max(map(cell_len, lines)) <= width:
            break
        cuts.add(cut)
        lines = _columns(infos, notes, cuts)
    over = max(map(cell_len, lines)) - width
    if over > 0 and infos:  # the model ids are cut to what is left
        ids = max(cell_len(_model_id(info, cuts)) for info in infos)
        lines = _columns(infos, notes, cuts, max(MODEL_MIN, ids - over))
        cuts.add("ids")
    prices = "input, output" if "cached" in cuts else "input, cached input, output"
    legend = f"Prices: USD per million tokens ({prices}); ? = not known."
    if "short" in cuts:
        legend += " CTX: context window, MAX: maximum output."
    dropped = [DROPPED[cut] for cut in NARROWER if cut in DROPPED and cut in cuts]
    if "ids" in cuts:
        dropped.append("whole model ids")
    if dropped:
        legend += f" Not shown at {width} columns (in --json): {', '.join(dropped)}."
    lines.extend(wrap(legend + (" Sources:" if notes else ""), width))
    mark = len(f"[{len(notes)}]")
    for n, note in enumerate(notes, 1):
        lines.extend(wrap(note, width, " " * (mark + 3), f"  {f'[{n}]':>{mark}} "))
    return "\n".join(lines)


def _model_id(info: ModelInfo, cuts: set[str]) -> str:
    return info.model if "provider" in cuts else f"{info.provider}/{info.model}"


def _columns(
    infos: list[ModelInfo], notes: list[str], cuts: set[str], model_width: int | None = None
) -> list[str]:
    """The table's lines (a header, a row per model) without the columns `cuts` name."""
    short = "short" in cuts
    model = f"{infos[0].provider}/MODEL" if "provider" in cuts and infos else "MODEL"
    header = [model, "CTX" if short else "CONTEXT", "MAX" if short else "MAX OUT"]
    header += [] if "thinking" in cuts else ["THINKING"]
    header += ["IN"] + ([] if "cached" in cuts else ["CACHED"]) + ["OUT"]
    header += [] if "date" in cuts else ["PRICE DATE"]
    header += [("SRC" if short else "SOURCE") if notes else ""]
    rows = [header]
    for info in infos:
        name = _model_id(info, cuts)
        row = [clip(name, model_width) if model_width else name]
        row += [_count(info.context), _count(info.max_output)]
        row += [] if "thinking" in cuts else [_thinking(info, "efforts" not in cuts)]
        row += [_price(info.price_input)]
        row += [] if "cached" in cuts else [_price(info.price_cached)]
        row += [_price(info.price_output)]
        row += [] if "date" in cuts else [info.price_date or ("-" if info.price_source else "?")]
        row += [f"[{notes.index(info.price_source) + 1}]" if info.price_source else ""]
        rows.append(row)
    return aligned(rows, gap=1 if "tight" in cuts else 2)
