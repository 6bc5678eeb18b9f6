"""Reading config.toml: parse, validate every value against its declaration, merge over defaults."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from glmchat.backend.providers import BUILTIN_PROVIDERS, DIALECT_REASONING_FIELD, ProviderConfig
from glmchat.catalogue.model_info import ModelOverride
from glmchat.config.report import Report
from glmchat.config.rules import PROVIDER_NAME, did_you_mean
from glmchat.config.settings import (
    KEYS_RULE,
    MCP_SERVER_RULES,
    MODEL_RULES,
    PROVIDER_RULES,
    SECTIONS,
    SETTINGS,
    BudgetTable,
    CodingPlanTable,
    ConfigError,
    Declared,
    Settings,
    ToolsTable,
    UiSettings,
)
from glmchat.keybindings import BINDING_IDS, key_problems
from glmchat.paths import config_path
from glmchat.tools.base import McpServerConfig

if TYPE_CHECKING:
    from glmchat.toml_positions import Path as KeyPath

MODEL_ENV = "GLMCHAT_MODEL"

# How a new provider thinks by default, by dialect: vLLM and llama.cpp serve GLM-4.5's chat
# template, which takes `enable_thinking` through chat_template_kwargs.
_DIALECT_THINKING = {"zai": "zai", "openrouter": "openrouter", "openai": "chat_template_kwargs"}


# --- reading ----------------------------------------------------------------------------

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


class UnparsedConfig(ConfigError):
    """config.toml is not UTF-8 TOML: no value in it can be read, nor one changed alone."""

    def __init__(self, path: Path, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.line = line
        self.column = column


def read_document(path: Path) -> tuple[dict[str, Any], bytes | None]:
    """The parsed file and its exact bytes; a missing file is an empty document."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UnparsedConfig(path, at, column, "not valid UTF-8") from None
    import tomllib  # with a file to parse only: without one, a command starts 2 ms sooner

    try:
        return tomllib.loads(text), raw
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if m := _AT.search(message):
            line, col = int(m.group(1)), int(m.group(2))
            message = message[: m.start()]
        else:
            lines = text.split("\n")
            line, col = len(lines), len(lines[-1]) + 1
            message = _AT_END.sub("", message) + " at end of file"
        raise UnparsedConfig(path, line, col, message) from None


def build(
    doc: Mapping[str, Any],
    path: Path,
    environ: Mapping[str, str],
    source: str | None,
    *,
    changed: str | None = None,
) -> Settings:
    """Validate a parsed document and merge it over the defaults; ConfigError lists every problem.

    `source` is the document's text, for positions; `changed` the dotted key `config set` is
    changing, which is blamed for a key clash rather than the binding it clashes with."""
    settings, report = assess(doc, path, environ, source, changed=changed)
    if report.errors:
        # Every problem of the file at once, in its order: an unknown key too (a misspelt one
        # is often why a value is missing), so that one edit fixes them all.
        raise ConfigError("\n".join(report.lines(report.errors + report.warnings)))
    return settings


def assess(
    doc: Mapping[str, Any],
    path: Path,
    environ: Mapping[str, str],
    source: str | None,
    *,
    changed: str | None = None,
) -> tuple[Settings, Report]:
    """`build` that never raises: the settings from the document's valid values, and its
    problems (for the commands that repair a file or need only part of it)."""
    report = Report(path, source)
    top = _declared_values(report, "", doc, SECTIONS)
    ui_values = _declared_values(report, "ui", report.table(("ui",), doc.get("ui", {})))
    tools_values = _declared_values(report, "tools", report.table(("tools",), doc.get("tools", {})))
    budget_values = _declared_values(
        report, "budget", report.table(("budget",), doc.get("budget", {}))
    )
    plan_values = _declared_values(
        report, "coding_plan", report.table(("coding_plan",), doc.get("coding_plan", {}))
    )
    sources = dict(_DEFAULT_SOURCES)
    for table, values in (
        ("", top),
        ("ui", ui_values),
        ("tools", tools_values),
        ("budget", budget_values),
        ("coding_plan", plan_values),
    ):
        for name in values:
            sources[_TABLES[table][name].key] = "file"

    keys = _keys(report, doc.get("keys", {}), changed)
    for key in BINDING_IDS:
        sources[f"keys.{key}"] = "file" if key in keys else "default"

    providers = dict(BUILTIN_PROVIDERS)
    for name in providers:
        sources[f"providers.{name}"] = "default"
    for name, table in report.table(("providers",), doc.get("providers", {})).items():
        if (provider := _provider(report, name, table)) is not None:
            providers[name] = provider
            sources[f"providers.{name}"] = "file"

    mcp_servers = _mcp_servers(report, doc.get("mcp", {}))
    for name in mcp_servers:
        sources[f"mcp.servers.{name}"] = "file"

    models = _models(report, doc.get("models", {}), providers)
    for name in models:
        sources[f"models.{name}"] = "file"

    default_model = top.pop("default_model", SETTINGS["default_model"].default)
    env_model = environ.get(MODEL_ENV, "").strip()
    if env_model:
        default_model = env_model
        sources["default_model"] = "environment"

    settings = Settings(
        default_model=default_model,
        providers=MappingProxyType(providers),
        keys=MappingProxyType(keys),
        ui=UiSettings(**ui_values),
        tools=ToolsTable(**tools_values),
        budget=BudgetTable(**budget_values),
        coding_plan=CodingPlanTable(**plan_values),
        mcp_servers=MappingProxyType(mcp_servers),
        models=MappingProxyType(models),
        sources=MappingProxyType(sources),
        path=path,
        **top,
    )
    try:
        settings.resolve_model()
    except ConfigError as exc:
        if env_model:
            report.error(None, f"{MODEL_ENV}: {exc}")
        else:
            report.error(("default_model",) if "default_model" in doc else None, str(exc))
    if report.errors:
        return settings, report  # the warnings go with the errors, placed in one list
    return dataclasses.replace(settings, warnings=tuple(report.lines(report.warnings))), report


# The declared settings of each table ("" is the top level), by their names there.
_TABLES: dict[str, dict[str, Declared]] = {
    table: {d.name: d for d in SETTINGS.values() if d.table == table}
    for table in dict.fromkeys(d.table for d in SETTINGS.values())
}


# Where each declared setting comes from when the file gives nothing: copied, not rebuilt, per load.
_DEFAULT_SOURCES = dict.fromkeys(SETTINGS, "default")


def _declared_values(
    report: Report, table: str, given: Mapping[str, Any], sections: Sequence[str] = ()
) -> dict[str, Any]:
    """The valid values of one table's settings, by name: a wrong value is reported, an
    unknown key warned about (`sections`, the tables inside this one, are known too)."""
    declared = _TABLES[table]
    where: KeyPath = (table,) if table else ()
    values: dict[str, Any] = {}
    for name, value in given.items():
        if name in declared:
            if (checked := report.check((*where, name), declared[name].rule, value)) is not None:
                values[name] = checked
        elif name not in sections:
            report.unknown((*where, name), [*declared, *sections])
    return values


def _keys(report: Report, table: Any, changed: str | None) -> dict[str, str]:
    """The `[keys]` remappings that can work; every one that cannot is reported."""
    keys: dict[str, str] = {}
    for key, value in report.table(("keys",), table).items():
        if key not in BINDING_IDS:
            hint = did_you_mean(key, list(BINDING_IDS), "keys.")
            report.error(
                ("keys", key), f"no binding has this id{hint}; ids: {', '.join(BINDING_IDS)}"
            )
        elif (checked := report.check(("keys", key), KEYS_RULE, value)) is not None:
            keys[key] = checked
    binding = changed.partition(".")[2] if changed and changed.startswith("keys.") else None
    order = [k for k in keys if k != binding] + ([binding] if binding in keys else [])
    for binding_id, message in key_problems(keys, order):
        report.error(("keys", binding_id), message)
    return keys


def _named_table(
    report: Report, key: KeyPath, table: Any, rules: Mapping[str, Any], what: str
) -> tuple[dict[str, Any], bool] | None:
    """A `[KIND.NAME]` table's checked values and whether all were valid; None when the name or
    the table itself is wrong. Every problem is reported."""
    if not PROVIDER_NAME.match(str(key[-1])):
        report.error(key, f'{what} may use only letters, digits, "-" and "_"')
        return None
    if not isinstance(table, dict):
        report.table(key, table)
        return None
    values: dict[str, Any] = {}
    valid = True
    for field_name, value in table.items():
        if field_name not in rules:
            report.unknown((*key, field_name), list(rules))
        elif (checked := report.check((*key, field_name), rules[field_name], value)) is None:
            valid = False
        else:
            values[field_name] = checked
    return values, valid


def _provider(report: Report, name: str, table: Any) -> ProviderConfig | None:
    """One `[providers.NAME]` table over its built-in (or a new provider), or None if wrong."""
    key: KeyPath = ("providers", name)
    checked = _named_table(report, key, table, PROVIDER_RULES, "a provider name")
    if checked is None:
        return None
    values, valid = checked
    if name in BUILTIN_PROVIDERS:
        return dataclasses.replace(BUILTIN_PROVIDERS[name], **values) if valid else None
    if "base_url" not in table:
        hint = did_you_mean(name, list(BUILTIN_PROVIDERS))
        report.error(key, f"not a built-in provider{hint}; a new provider needs base_url")
        return None
    if not valid:
        return None
    dialect = values.setdefault("dialect", "openai")
    values.setdefault("api_key_env", name.upper().replace("-", "_") + "_API_KEY")
    values.setdefault("thinking_param", _DIALECT_THINKING[dialect])
    values.setdefault("reasoning_field", DIALECT_REASONING_FIELD[dialect])
    # Custom providers are mostly local servers, which take no key; hosted dialects do.
    values.setdefault("requires_key", dialect != "openai")
    values.setdefault("label", name)
    return ProviderConfig(name=name, **values)


def _mcp_servers(report: Report, table: Any) -> dict[str, McpServerConfig]:
    """The valid `[mcp.servers.NAME]` tables, by name; every problem is reported."""
    servers: dict[str, McpServerConfig] = {}
    for key, value in report.table(("mcp",), table).items():
        if key != "servers":
            report.unknown(("mcp", key), ["servers"])
            continue
        for name, server in report.table(("mcp", "servers"), value).items():
            if (config := _mcp_server(report, name, server)) is not None:
                servers[name] = config
    return servers


def _mcp_server(report: Report, name: str, table: Any) -> McpServerConfig | None:
    """One `[mcp.servers.NAME]` table, or None if it is wrong."""
    key: KeyPath = ("mcp", "servers", name)
    # The name prefixes its tools' names on the wire (NAME__tool), which allow no more.
    checked = _named_table(report, key, table, MCP_SERVER_RULES, "an MCP server name")
    if checked is None:
        return None
    values, valid = checked
    if "command" in table and "url" in table:
        report.error(key, "give command (a stdio server) or url (streamable HTTP), not both")
        return None
    if "command" not in table and "url" not in table:
        report.error(key, "needs command (a stdio server) or url (a streamable HTTP server)")
        return None
    for stdio_only in ("args", "env"):
        if stdio_only in table and "url" in table:
            report.error((*key, stdio_only), "applies only to a stdio server (with command)")
            valid = False
    if "headers" in table and "command" in table:
        report.error((*key, "headers"), "applies only to an HTTP server (with url)")
        valid = False
    return McpServerConfig(name=name, **values) if valid else None


def _models(
    report: Report, table: Any, providers: Mapping[str, ProviderConfig]
) -> dict[str, ModelOverride]:
    """The valid `[models."PROVIDER/MODEL"]` tables, by their PROVIDER/MODEL name."""
    models: dict[str, ModelOverride] = {}
    for name, entry in report.table(("models",), table).items():
        key: KeyPath = ("models", name)
        provider, sep, model = name.partition("/")
        if not sep or not provider or not model:
            report.error(key, 'name the model as "PROVIDER/MODEL", like "zai/glm-5.3"')
            continue
        if provider not in providers:
            hint = did_you_mean(provider, list(providers))
            report.error(key, f'unknown provider "{provider}"{hint}; known: {", ".join(providers)}')
            continue
        if not isinstance(entry, dict):
            report.table(key, entry)
            continue
        values: dict[str, Any] = {}
        valid = True
        for field_name, value in entry.items():
            if field_name not in MODEL_RULES:
                report.unknown((*key, field_name), list(MODEL_RULES))
            elif (
                checked := report.check((*key, field_name), MODEL_RULES[field_name], value)
            ) is None:
                valid = False
            else:
                values[field_name] = checked
        if valid:
            models[name] = ModelOverride(**values)
    return models


def load_settings(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read config.toml (a missing file means defaults); raises ConfigError on a bad file,
    one line per problem."""
    path = path or config_path()
    doc, raw = read_document(path)
    source = "" if raw is None else raw.decode("utf-8")
    return build(doc, path, os.environ if environ is None else environ, source)


def load_leniently(path: Path | None = None) -> tuple[Settings, Report]:
    """config.toml's valid values over the defaults, and its problems, for a command that needs
    only part of it (`config set-key`); raises only when the file cannot be read as TOML."""
    path = path or config_path()
    doc, raw = read_document(path)
    return assess(doc, path, {}, None if raw is None else raw.decode("utf-8"))
