"""The catalogue shipped with glmchat (models.toml), read once, on first use."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from glmchat.catalogue.model_info import ModelInfo

# Providers whose models are Z.ai's ids; the coding plan is a flat fee, so it gets no prices.
ZAI_PRICED = frozenset({"zai", "bigmodel"})
_PRICE_FIELDS = ("price_input", "price_cached", "price_output", "price_date", "price_source")
_FIELDS = ("context", "max_output", "thinking", "default_effort", "tool_stream", *_PRICE_FIELDS)


@cache
def _document() -> dict[str, Any]:
    # Read (and its parser imported) on the first lookup, never at start-up. The file sits
    # beside this module: importlib.resources took 6 ms to import for the same path, on the
    # way to the first paint (the status bar shows the model's context window).
    import tomllib

    return tomllib.loads(Path(__file__).with_name("models.toml").read_text("utf-8"))


@cache
def family_entries(family: str) -> MappingProxyType[str, dict[str, Any]]:
    """One family's entries by lower-case model id, aliases resolved."""
    table: dict[str, dict[str, Any]] = _document().get(family, {})
    entries = {model.lower(): entry for model, entry in table.items() if "alias" not in entry}
    for model, entry in table.items():
        if "alias" in entry:
            entries[model.lower()] = entries[entry["alias"].lower()]
    return MappingProxyType(entries)


def family_of(provider: str, dialect: str | None) -> str | None:
    """The catalogue family a provider's model ids belong to, or None (a local server)."""
    if dialect == "zai" or provider in ("zai", "zai-coding", "bigmodel"):
        return "zai"
    if dialect == "openrouter" or provider == "openrouter":
        return "openrouter"
    return None


def shipped_info(provider: str, dialect: str | None, model: str) -> ModelInfo | None:
    """The shipped entry for a model on a provider, or None if it has none.

    A Z.ai-dialect provider other than zai and bigmodel (the coding plan, a proxy of one's
    own) gets the limits without prices: what it bills per token is not known here."""
    family = family_of(provider, dialect)
    if family is None:
        return None
    entry = family_entries(family).get(model.lower())
    if entry is None:
        return None
    values = {name: entry[name] for name in _FIELDS if name in entry}
    if family == "zai" and provider not in ZAI_PRICED:
        for name in _PRICE_FIELDS:
            values.pop(name, None)
        if provider == "zai-coding":
            values["price_source"] = "coding plan: a flat fee, no per-token price"
    return ModelInfo(
        provider=provider,
        model=model,
        known=True,
        efforts=tuple(entry.get("efforts", ())),
        source="catalogue",
        **values,
    )


def family_models(family: str) -> tuple[str, ...]:
    """The ids of a family as the file lists them (aliases included)."""
    return tuple(_document().get(family, {}))
