"""Settings from config.toml: defaults, validation with readable errors, and safe rewriting."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomli_w

from glmchat.backend.providers import (
    BUILTIN_PROVIDERS,
    DEFAULT_MODEL,
    DEFAULT_PROVIDER,
    ProviderConfig,
    resolve_model,
)
from glmchat.config_schema import (
    KEYS_FIELD,
    OPTIONAL,
    PROVIDER_FIELDS,
    PROVIDER_NAME,
    SECTIONS,
    TOP_FIELDS,
    UI_FIELDS,
    Field,
    Invalid,
    show_value,
    validate,
    value_range,
)
from glmchat.keybindings import BINDING_IDS, key_problems
from glmchat.paths import config_path, write_atomic
from glmchat.toml_positions import Path as KeyPath
from glmchat.toml_positions import key_positions, position_of

MODEL_ENV = "GLMCHAT_MODEL"


class ConfigError(Exception):
    """A config problem: one line per problem, each naming the file (and line:column when known)."""


@dataclass(frozen=True, slots=True)
class UiSettings:
    show_thinking: bool = True  # reasoning panels visible at all
    fold_thinking_when_answer_starts: bool = True
    refresh_rate: float = 12.0  # Hz: how often a streaming message is redrawn
    code_theme: str = "monokai"
    compact: bool = False


def _builtin_providers() -> Mapping[str, ProviderConfig]:
    return MappingProxyType(dict(BUILTIN_PROVIDERS))


@dataclass(frozen=True, slots=True)
class Settings:
    default_model: str = DEFAULT_MODEL
    thinking: bool = True
    theme: str = "textual-dark"
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    system_prompt: str | None = None
    providers: Mapping[str, ProviderConfig] = field(default_factory=_builtin_providers)
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ui: UiSettings = field(default_factory=UiSettings)
    warnings: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    path: Path = field(default_factory=config_path)

    @property
    def default_provider(self) -> str:
        """The provider used for a bare model name: the default model's, else zai."""
        provider, sep, _ = self.default_model.partition("/")
        return provider if sep and provider in self.providers else DEFAULT_PROVIDER

    def resolve_model(self, name: str | None = None) -> tuple[ProviderConfig, str]:
        """`PROVIDER/MODEL` (or a bare model, or None for the default) -> (provider, model id)."""
        name = name or self.default_model
        try:
            provider, model = resolve_model(name, dict(self.providers), self.default_provider)
        except KeyError as exc:
            known = ", ".join(self.providers)
            raise ConfigError(
                f'unknown provider "{exc.args[0]}" in model "{name}"; known providers: {known}'
            ) from None
        if not model:
            raise ConfigError(f'no model name in "{name}"; use PROVIDER/MODEL, like "zai/glm-4.5"')
        return provider, model

    def key_for(self, binding_id: str) -> str:
        """The effective keys of a binding id: the `[keys]` remapping, else the default."""
        return self.keys.get(binding_id, BINDING_IDS[binding_id])


# --- checking one value -----------------------------------------------------------

# How a new provider thinks by default, by dialect: vLLM and llama.cpp serve GLM-4.5's chat
# template, which takes `enable_thinking` through chat_template_kwargs.
_DIALECT_THINKING = {"zai": "zai", "openrouter": "openrouter", "openai": "chat_template_kwargs"}


def _check(where: str, f: Field, value: Any) -> Any:
    """`validate`, with a failure as a ConfigError whose line starts with `where` (the key)."""
    try:
        return validate(f, value)
    except Invalid as exc:
        raise ConfigError(f"{where}: {exc}") from None


# --- reading ----------------------------------------------------------------------------

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


def _read_document(path: Path) -> tuple[dict[str, Any], bytes | None]:
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
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"{path}:{line}:{col}: not valid UTF-8") from None
    try:
        return tomllib.loads(text), raw
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if m := _AT.search(message):
            line, col = m.group(1), m.group(2)
            message = message[: m.start()]
        else:
            lines = text.split("\n")
            line, col = str(len(lines)), str(len(lines[-1]) + 1)
            message = _AT_END.sub("", message) + " at end of file"
        raise ConfigError(f"{path}:{line}:{col}: {message}") from None


class _Report:
    """The problems found in one document, each tied to the key it is about.

    Every problem is collected (not just the first), and each becomes `PATH:LINE:COL: message`
    when the document has a source text; a document built by `config set` has none yet, and its
    problems are about the command's own KEY VALUE."""

    def __init__(self, path: Path, source: str | None) -> None:
        self.path = path
        self.source = source
        self.errors: list[tuple[KeyPath | None, str]] = []
        self.warnings: list[tuple[KeyPath | None, str]] = []

    def error(self, key: KeyPath | None, message: str) -> None:
        """`key` None: the problem is not in the file (an environment variable)."""
        self.errors.append((key, message if key is None else f"{'.'.join(key)}: {message}"))

    def unknown(self, key: KeyPath, known: list[str]) -> None:
        prefix = "".join(f"{part}." for part in key[:-1])
        close = difflib.get_close_matches(key[-1], known, n=1, cutoff=0.6)
        hint = f' (did you mean "{prefix}{close[0]}"?)' if close else ""
        self.warnings.append((key, f'unknown key "{prefix}{key[-1]}" ignored{hint}'))

    def check(self, key: KeyPath, f: Field, value: Any) -> Any:
        """The value converted, or None (never a valid result) once its problem is recorded."""
        try:
            return validate(f, value)
        except Invalid as exc:
            self.error(key, str(exc))
            return None

    def table(self, key: KeyPath, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.error(key, f"expected a table, got {show_value(value)}")
        return {}

    def lines(self, found: list[tuple[KeyPath | None, str]]) -> list[str]:
        """One line per problem, in the order of the file (positions found only when needed:
        a good file is never scanned)."""
        if self.source is None:
            return [message for _, message in found]
        positions = key_positions(self.source) if any(k for k, _ in found) else {}
        placed: list[tuple[tuple[int, int], str]] = []
        outside: list[str] = []
        for key, message in found:
            if key is None:
                outside.append(message)
            else:
                line, col = position_of(positions, key)
                placed.append(((line, col), f"{self.path}:{line}:{col}: {message}"))
        placed.sort(key=lambda item: item[0])  # stable: one key's problems keep their order
        return [line for _, line in placed] + outside


def _build(
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
    report = _Report(path, source)
    sources: dict[str, str] = {}
    top: dict[str, Any] = {}
    for key, value in doc.items():
        if key in TOP_FIELDS:
            if (checked := report.check((key,), TOP_FIELDS[key], value)) is not None:
                top[key] = checked
        elif key not in SECTIONS:
            report.unknown((key,), [*TOP_FIELDS, *SECTIONS])
    for key in TOP_FIELDS:
        sources[key] = "file" if key in doc else "default"

    ui_values: dict[str, Any] = {}
    for key, value in report.table(("ui",), doc.get("ui", {})).items():
        if key not in UI_FIELDS:
            report.unknown(("ui", key), list(UI_FIELDS))
        elif (checked := report.check(("ui", key), UI_FIELDS[key], value)) is not None:
            ui_values[key] = checked
    for key in UI_FIELDS:
        sources[f"ui.{key}"] = "file" if key in ui_values else "default"

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

    default_model = top.pop("default_model", DEFAULT_MODEL)
    env_model = environ.get(MODEL_ENV, "").strip()
    if env_model:
        default_model = env_model
        sources["default_model"] = "environment"

    settings = Settings(
        default_model=default_model,
        providers=MappingProxyType(providers),
        keys=MappingProxyType(keys),
        ui=UiSettings(**ui_values),
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
        raise ConfigError("\n".join(report.lines(report.errors)))
    return dataclasses.replace(settings, warnings=tuple(report.lines(report.warnings)))


def _keys(report: _Report, table: Any, changed: str | None) -> dict[str, str]:
    """The `[keys]` remappings that can work; every one that cannot is reported."""
    keys: dict[str, str] = {}
    for key, value in report.table(("keys",), table).items():
        if key not in BINDING_IDS:
            close = difflib.get_close_matches(key, list(BINDING_IDS), n=1, cutoff=0.6)
            hint = f' (did you mean "keys.{close[0]}"?)' if close else ""
            report.error(
                ("keys", key), f"no binding has this id{hint}; ids: {', '.join(BINDING_IDS)}"
            )
        elif (checked := report.check(("keys", key), KEYS_FIELD, value)) is not None:
            keys[key] = checked
    binding = changed.partition(".")[2] if changed and changed.startswith("keys.") else None
    order = [k for k in keys if k != binding] + ([binding] if binding in keys else [])
    for binding_id, message in key_problems(keys, order):
        report.error(("keys", binding_id), message)
    return keys


def _provider(report: _Report, name: str, table: Any) -> ProviderConfig | None:
    """One `[providers.NAME]` table over its built-in (or a new provider), or None if wrong."""
    key: KeyPath = ("providers", name)
    if not PROVIDER_NAME.match(name):
        report.error(key, 'a provider name may use only letters, digits, "-" and "_"')
        return None
    if not isinstance(table, dict):
        report.table(key, table)
        return None
    values: dict[str, Any] = {}
    valid = True
    for field_name, value in table.items():
        if field_name not in PROVIDER_FIELDS:
            report.unknown((*key, field_name), list(PROVIDER_FIELDS))
        elif (
            checked := report.check((*key, field_name), PROVIDER_FIELDS[field_name], value)
        ) is None:
            valid = False
        else:
            values[field_name] = checked
    if name in BUILTIN_PROVIDERS:
        return dataclasses.replace(BUILTIN_PROVIDERS[name], **values) if valid else None
    if "base_url" not in table:
        close = difflib.get_close_matches(name, list(BUILTIN_PROVIDERS), n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        report.error(key, f"not a built-in provider{hint}; a new provider needs base_url")
        return None
    if not valid:
        return None
    dialect = values.setdefault("dialect", "openai")
    values.setdefault("api_key_env", name.upper().replace("-", "_") + "_API_KEY")
    values.setdefault("thinking_param", _DIALECT_THINKING[dialect])
    # Custom providers are mostly local servers, which take no key; hosted dialects do.
    values.setdefault("requires_key", dialect != "openai")
    values.setdefault("label", name)
    return ProviderConfig(name=name, **values)


def load_settings(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read config.toml (a missing file means defaults); raises ConfigError on a bad file,
    one line per problem."""
    path = path or config_path()
    doc, raw = _read_document(path)
    source = "" if raw is None else raw.decode("utf-8")
    return _build(doc, path, os.environ if environ is None else environ, source)


# --- writing ----------------------------------------------------------------------------


def _known_dotted_keys(providers: Mapping[str, Any]) -> list[str]:
    return [
        *TOP_FIELDS,
        *(f"ui.{k}" for k in UI_FIELDS),
        *(f"keys.{k}" for k in BINDING_IDS),
        *(f"providers.{p}.{k}" for p in providers for k in PROVIDER_FIELDS),
    ]


def _locate(key: str, providers: Mapping[str, Any]) -> tuple[list[str], Field]:
    """The document path and schema of a dotted key, or ConfigError suggesting a known one."""
    parts = key.split(".")
    found: Field | None = None
    if len(parts) == 1:
        found = TOP_FIELDS.get(key)
    elif len(parts) == 2 and parts[0] == "ui":
        found = UI_FIELDS.get(parts[1])
    elif len(parts) == 2 and parts[0] == "keys":
        found = KEYS_FIELD if parts[1] in BINDING_IDS else None
    elif len(parts) == 3 and parts[0] == "providers":
        if not PROVIDER_NAME.match(parts[1]):
            raise ConfigError(f'{key}: a provider name may use only letters, digits, "-" and "_"')
        found = PROVIDER_FIELDS.get(parts[2])
    if found is None:
        if key in SECTIONS:
            raise ConfigError(f'{key} is a table; set one of its keys, like "{key}.NAME"')
        close = difflib.get_close_matches(key, _known_dotted_keys(providers), n=1, cutoff=0.6)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        raise ConfigError(f'unknown key "{key}"{hint}; see config.example.toml')
    return parts, found


_TRUE = {"true", "on", "yes", "1"}
_FALSE = {"false", "off", "no", "0"}


def _parse_raw(key: str, f: Field, raw: str) -> Any:
    """A command-line string as the key's type; None means "remove the key"."""
    text = raw.strip()
    if raw == "" or (key.rpartition(".")[2] in OPTIONAL and text.lower() in ("none", "null")):
        return None
    if f.kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{key}: expected true or false (or on/off), got {show_value(raw)}")
    if f.kind in ("float", "int"):
        try:
            # An integer stays one so that an error quotes "3", not "3.0".
            return int(text) if f.kind == "int" or text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            kind = "a whole number" if f.kind == "int" else "a number"
            raise ConfigError(
                f"{key}: expected {kind} {value_range(f)}, got {show_value(raw)}"
            ) from None
    if f.kind == "str_list":
        return [item.strip() for item in text.split(",") if item.strip()]
    if f.kind in ("str_table", "table"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            like = '{"X-Title": "glmchat"}'
            raise ConfigError(f"{key}: expected a JSON object, like {like}, got {show_value(raw)}")
        return value
    return raw if f.kind == "text" else text


def parse_setting(key: str, raw: str, label: str | None = None) -> Any:
    """A command-line string for the top-level setting `key` (`ask --temperature`, say),
    checked by the very rule `config set` uses; raises ConfigError prefixed with `label`."""
    f = TOP_FIELDS[key]
    where = label or key
    value = _parse_raw(where, f, raw)
    if value is None:
        raise ConfigError(f"{where}: expected a value, got {show_value(raw)}")
    return _check(where, f, value)


def _has_comment(raw: bytes) -> bool:
    # A "#" inside a string gives a needless backup, which is harmless; a missed comment is not.
    return b"#" in raw


def save_value(key: str, raw_value: str, path: Path | None = None) -> Settings:
    """Set one dotted key from a command-line string and rewrite config.toml atomically.

    An existing file that does not parse or validate is never touched. Comments do not survive
    tomli-w, so a commented file is first copied to config.toml.bak; the returned settings'
    `warnings` then say so. An empty `raw_value` removes the key (back to its default)."""
    path = path or config_path()
    doc, old = _read_document(path)
    # Refuses to rewrite a file that is already wrong, naming every problem in it.
    current = _build(doc, path, {}, "" if old is None else old.decode("utf-8"))
    parts, f = _locate(key, current.providers)
    value = _parse_raw(key, f, raw_value)
    new = copy.deepcopy(doc)
    if value is None:
        _remove(new, parts)
    else:
        stored = _check(key, f, value)
        if f.kind in ("str_list", "str_table", "table"):
            stored = value  # TOML wants the list or table itself, not our tuple form
        container = new
        for i, part in enumerate(parts[:-1]):
            child = container.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(parts[: i + 1])} is not a table in {path}")
            container = child
        container[parts[-1]] = stored
    # Problems of the new document come from this command's KEY VALUE, so they name the key,
    # not a place in a file that is not written yet.
    _build(new, path, {}, None, changed=key)
    text = tomli_w.dumps(new)
    data = text.encode("utf-8")
    # What the caller gets back must match a fresh load, environment included; checked before
    # writing so that a bad GLMCHAT_MODEL fails the command instead of following a write.
    settings = _build(tomllib.loads(text), path, os.environ, text)

    notices: list[str] = []
    if old is not None and _has_comment(old):
        backup = path.with_name(path.name + ".bak")
        write_atomic(backup, old)
        notices.append(
            f"{path}: comments are not kept when glmchat rewrites the file; "
            f"the original is saved as {backup}"
        )
    write_atomic(path, data)
    return dataclasses.replace(settings, warnings=settings.warnings + tuple(notices))


def _remove(doc: dict[str, Any], parts: list[str]) -> None:
    """Delete a dotted key, and the tables it leaves empty."""
    chain = [doc]
    for part in parts[:-1]:
        child = chain[-1].get(part)
        if not isinstance(child, dict):
            return
        chain.append(child)
    chain[-1].pop(parts[-1], None)
    for depth in range(len(parts) - 1, 0, -1):
        if not chain[depth]:
            chain[depth - 1].pop(parts[depth - 1], None)
