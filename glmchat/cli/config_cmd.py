"""`glmchat config`: where the files are, the effective settings, and setting values and keys."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import shlex
import sys
from collections.abc import Iterable, Mapping

from rich.cells import cell_len

from glmchat import paths
from glmchat.backend.providers import BUILTIN_PROVIDERS, ProviderConfig
from glmchat.catalogue import ModelOverride
from glmchat.cli.cells import clip
from glmchat.cli.errors import CliError, exit_status
from glmchat.config import (
    BINDING_IDS,
    SETTINGS,
    ConfigError,
    Settings,
    StillBroken,
    UnparsedConfig,
    load_leniently,
    load_settings,
    save_value,
)
from glmchat.credentials import (
    CredentialStore,
    KeyLookup,
    Secret,
    env_names,
    key_problem,
)
from glmchat.secret_values import mask_args, mask_setting, mask_text, shown_url
from glmchat.sentences import join_sentences
from glmchat.terminal_text import dumps_json
from glmchat.tools.base import McpServerConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # noqa: SLF001
    parser = sub.add_parser(
        "config",
        description="Show or change settings (config.toml) and API keys (credentials.toml).",
    )
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)

    p = actions.add_parser("path", help="print where glmchat keeps its files")
    p.set_defaults(func=cmd_path)

    p = actions.add_parser("show", help="print the effective settings and where each comes from")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_show)

    p = actions.add_parser(
        "set",
        help="set one setting in config.toml",
        description="Set KEY (like thinking, ui.compact, keys.send, providers.NAME.base_url, "
        'models."zai/glm-4.5".context) to VALUE. An empty VALUE ("") removes the key, restoring '
        "its default.",
    )
    p.add_argument("key", metavar="KEY")
    p.add_argument("value", metavar="VALUE")
    p.set_defaults(func=cmd_set)

    p = actions.add_parser(
        "set-key",
        help="store a provider's API key (read from stdin)",
        description="Read an API key from stdin (hidden when typed at a terminal) and store it "
        "in credentials.toml, readable only by you.",
    )
    p.add_argument("provider", metavar="PROVIDER")
    p.add_argument(
        "--check",
        action="store_true",
        help="make one request with the key first; keep it only if accepted",
    )
    p.set_defaults(func=cmd_set_key)

    p = actions.add_parser("unset-key", help="remove a provider's stored API key")
    p.add_argument("provider", metavar="PROVIDER")
    p.set_defaults(func=cmd_unset_key)


def _warn(lines: Iterable[str]) -> None:
    for line in lines:
        print(f"glmchat: warning: {line}", file=sys.stderr)


def _unknown_provider(name: str, known: Iterable[str]) -> CliError:
    return CliError(f'unknown provider "{name}"; known providers: {", ".join(known)}', 2)


def cmd_path(args: argparse.Namespace) -> int:
    rows = [
        ("config dir", paths.config_dir()),
        ("config file", paths.config_path()),
        ("credentials", paths.credentials_path()),
        ("data dir", paths.data_dir()),
        ("database", paths.database_path()),
    ]
    for name, path in rows:
        print(f"{name}: {path}")
    return 0


def _setting_rows(settings: Settings) -> list[tuple[str, object, str]]:
    rows: list[tuple[str, object, str]] = [
        (key, settings.value_of(declared), settings.sources.get(key, "default"))
        for key, declared in SETTINGS.items()
    ]
    for key in BINDING_IDS:
        dotted = f"keys.{key}"
        rows.append((dotted, settings.key_for(key), settings.sources.get(dotted, "default")))
    return rows


def _key_status(provider: ProviderConfig, found: KeyLookup | None) -> str:
    if found is None:
        return "not set" if provider.requires_key else "not needed"
    where = f"environment {found.variable}" if found.origin == "environment" else "credentials.toml"
    return f"{found.secret} ({where})"


# A longer value (a system prompt) is cut in the table, so the source column stays aligned;
# `config show --json` has it whole.
_VALUE_CELLS = 40


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as lines, every column but the last padded to its widest cell (in terminal cells,
    so wide characters line up too)."""
    widths = [max(cell_len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        padded = zip(row[:-1], widths, strict=True)
        cells = [cell + " " * (width - cell_len(cell)) for cell, width in padded]
        lines.append("  " + "  ".join([*cells, row[-1]]))
    return lines


def _toml_value(value: object) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return str(value)


def _masked_table(pairs: Iterable[tuple[str, str]], *, header: bool = False) -> dict[str, str]:
    return {name: mask_setting(name, value, header=header) for name, value in pairs}


def _mcp_server_doc(server: McpServerConfig, source: str) -> dict[str, object]:
    # Shown as secret_values masks them: the text table and this JSON show the same.
    return {
        "transport": server.transport,
        "command": server.command and mask_text(server.command),
        "args": mask_args(server.args),
        "env": _masked_table(server.env),
        "url": server.url and mask_text(server.url),
        "headers": _masked_table(server.headers, header=True),
        "enabled": server.enabled,
        "approve": server.approve,
        "source": source,
    }


def _mcp_server_line(server: McpServerConfig) -> str:
    if server.url:
        where = mask_text(server.url)
        extra = _masked_table(server.headers, header=True)
    else:
        where = shlex.join([mask_text(server.command or ""), *mask_args(server.args)])
        extra = _masked_table(server.env)
    shown = " ".join(f"{name}={value}" for name, value in extra.items())
    return f"{where} {shown}".rstrip()


def cmd_show(args: argparse.Namespace) -> int:
    settings = load_settings()
    store = CredentialStore()
    found = {name: store.find(p) for name, p in settings.providers.items()}
    warnings = [*settings.warnings, *store.warnings]
    _warn(warnings)
    rows = _setting_rows(settings)

    if args.json:
        doc = {
            "path": str(settings.path),
            "settings": {key: {"value": value, "source": src} for key, value, src in rows},
            "providers": {
                name: {
                    "label": p.display_name,
                    "dialect": p.dialect,
                    "base_url": shown_url(p.base_url),  # as the text shows it
                    "api_key_env": p.api_key_env,
                    "thinking_param": p.thinking_param,
                    "reasoning_field": p.reasoning_field,
                    "requires_key": p.requires_key,
                    "models": list(p.models),
                    "source": settings.sources.get(f"providers.{name}", "default"),
                    "api_key": key.secret.masked if key else None,
                    "api_key_source": key.describe(store.path.name) if key else None,
                }
                for name, p in settings.providers.items()
                for key in [found[name]]
            },
            "mcp_servers": {
                name: _mcp_server_doc(server, settings.sources.get(f"mcp.servers.{name}", "file"))
                for name, server in settings.mcp_servers.items()
            },
            "models": {name: _model_fields(override) for name, override in settings.models.items()},
            "warnings": warnings,
        }
        print(dumps_json(doc, indent=2))
        return 0

    print(f"settings ({settings.path})")
    for line in _columns(
        [(key, clip(_toml_value(value), _VALUE_CELLS), f"({src})") for key, value, src in rows]
    ):
        print(line)
    print(f"providers (keys from the environment or {store.path})")
    for line in _columns(
        [
            (
                name,
                f"api key: {_key_status(p, found[name])}",
                shown_url(p.base_url),  # a password or token in it masked, as an MCP url's
                f"({settings.sources.get(f'providers.{name}', 'default')})",
            )
            for name, p in settings.providers.items()
        ]
    ):
        print(line)
    if settings.mcp_servers:
        print("mcp servers (glmchat tools list starts them and lists their tools)")
        for line in _columns(
            [
                (name, "on" if server.enabled else "off", _mcp_server_line(server))
                for name, server in settings.mcp_servers.items()
            ]
        ):
            print(line)
    if settings.models:
        print("models (config.toml's figures over the catalogue's; glmchat models shows them all)")
        for line in _columns(
            [
                (name, " ".join(f"{k}={_toml_value(v)}" for k, v in _model_fields(o).items()))
                for name, o in settings.models.items()
            ]
        ):
            print(line)
    return 0


def _model_fields(override: ModelOverride) -> dict[str, object]:
    """The fields a `[models."PROVIDER/MODEL"]` table sets."""
    return {k: v for k, v in dataclasses.asdict(override).items() if v is not None}


def _set_line(args: argparse.Namespace, path: object) -> str:
    if args.value == "":
        return f"{args.key} reset to its default in {path}"
    return f"{args.key} set in {path}"


def cmd_set(args: argparse.Namespace) -> int:
    try:
        settings = save_value(args.key, args.value)
    except StillBroken as exc:
        # The value is written (the file is better for it); the edge prints each problem the
        # file still has, one line each, and exits 2, as a broken config does.
        _warn(exc.notices)
        print(_set_line(args, exc.path))
        raise
    _warn(settings.warnings)
    print(_set_line(args, settings.path))
    if args.key == "default_model" and settings.sources.get("default_model") == "environment":
        print(
            f"glmchat: note: GLMCHAT_MODEL={settings.default_model} overrides it for now",
            file=sys.stderr,
        )
    return 0


def _read_key(provider: str) -> str:
    stdin = sys.stdin
    if stdin is None:
        raise CliError("no stdin to read the API key from", 2)
    if stdin.isatty():
        try:
            key = getpass.getpass(f"API key for {provider} (typing is hidden): ")
        except EOFError:
            key = ""
    else:
        key = stdin.read()
    key = key.strip()
    if not key:
        raise CliError(f"no API key given; pipe it in, like: glmchat config set-key {provider}", 2)
    if (problem := key_problem(key)) is not None:
        raise CliError(problem, 2)
    return key


def _check_key(provider: ProviderConfig, secret: Secret) -> None:
    try:
        from glmchat.backend.errors import ProviderError
        from glmchat.backend.openai_compat import list_models
        from glmchat.backend.provider_errors import set_key_hint
    except ImportError:
        raise CliError("--check is not available in this build", 2) from None
    try:
        import asyncio

        asyncio.run(list_models(provider, secret.reveal()))
    except ProviderError as exc:
        # Without the error's advice to run set-key: this is set-key (found by QA).
        message = " ".join(exc.message.replace(set_key_hint(provider), "").split())
        # The provider's word, with ours added; the exit status stays the provider error's.
        raise CliError(
            join_sentences(message, "The key was not saved."), exit_status(exc)
        ) from None
    print("accepted")


def _env_note(provider: ProviderConfig) -> None:
    for var in env_names(provider):
        if os.environ.get(var, "").strip():
            print(
                f"glmchat: note: {var} is set in the environment and takes precedence",
                file=sys.stderr,
            )
            return


_NOT_SAVED = "nothing was saved"


def _key_provider(name: str, check: bool) -> tuple[ProviderConfig, str | None]:
    """The provider a key is stored for, and a note on config.toml's problems, whatever state
    that file is in: a key lives in credentials.toml, so config.toml matters only for a provider
    it defines or changes. A refusal comes before the key is read and says nothing was saved."""
    try:
        settings, report = load_leniently()
    except ConfigError as exc:  # config.toml does not parse, or cannot be read at all
        state, fix = ("cannot be read", "")
        if isinstance(exc, UnparsedConfig):
            state, fix = ("is not valid TOML", f": fix line {exc.line}, column {exc.column} first")
        if name in BUILTIN_PROVIDERS and not check:
            return BUILTIN_PROVIDERS[name], f"{exc} (config.toml {state})"
        if name in BUILTIN_PROVIDERS:
            why = f"--check cannot tell which [providers.{name}] settings to try the key with"
            fix += " (or leave out --check)"
        else:
            why = f'glmchat cannot tell whether it defines a provider "{name}"'
        raise CliError(f"{exc}; config.toml {state}, so {why}{fix}; {_NOT_SAVED}", 2) from None
    own = report.lines(report.about(("providers", name)))
    if own and name not in BUILTIN_PROVIDERS:
        first = f'cannot store a key for "{name}": [providers.{name}] in config.toml is wrong'
        raise CliError("\n".join([f"{first}; {_NOT_SAVED}", *own]), 2)
    if own and check:
        # The settings --check would send the key to are not the ones the user wrote.
        first = f"--check cannot try the key: [providers.{name}] in config.toml is wrong"
        raise CliError("\n".join([f"{first} (fix it, or leave out --check); {_NOT_SAVED}", *own]))
    provider = settings.providers.get(name)
    if provider is None:
        raise CliError(f"{_unknown_provider(name, settings.providers)}; {_NOT_SAVED}", 2)
    count = len(report.errors)
    if count:
        problems = f"{count} problem{'s' if count > 1 else ''}"
        return provider, f"{settings.path} has {problems} (glmchat config show lists them)"
    return provider, None


def cmd_set_key(args: argparse.Namespace) -> int:
    provider, config_note = _key_provider(args.provider, args.check)
    secret = Secret(_read_key(provider.name))
    if args.check:
        _check_key(provider, secret)
    store = CredentialStore()
    store.set(provider.name, secret)
    _warn(store.warnings)
    print(f"saved the API key for {provider.name} ({secret}) in {store.path}")
    if config_note:
        # Said after the key is safe, so that it reads as no reason to type it again.
        _warn([f"{config_note}; the key is stored apart from it"])
    _env_note(provider)
    return 0


def cmd_unset_key(args: argparse.Namespace) -> int:
    """A stored key is removed by its provider's name whatever state config.toml is in: keys
    live in credentials.toml. config.toml is read (leniently) only to tell a mistyped name from
    a provider with nothing stored, and for the note on an environment variable."""
    name = args.provider
    try:
        settings, report = load_leniently()
        providers: Mapping[str, ProviderConfig] = settings.providers
        # A [providers.NAME] table with a wrong value is left out of the settings, but is one.
        known = name in providers or bool(report.about(("providers", name)))
    except ConfigError:  # it does not parse (or cannot be read): NAME may be one it defines
        providers, known = BUILTIN_PROVIDERS, True
    store = CredentialStore()
    removed = store.unset(name)  # a corrupt credentials.toml raises here, left untouched
    _warn(store.warnings)
    if removed:
        print(f"removed the API key for {name} from {store.path}")
    elif not known:
        raise _unknown_provider(name, providers)
    else:
        print(f"no key stored for {name} in {store.path}")
    if name in providers:
        _env_note(providers[name])
    return 0
