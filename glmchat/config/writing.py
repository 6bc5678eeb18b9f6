"""`config set` and command-line values: one value parsed and checked by its declared rule, and
config.toml rewritten atomically (a file with wrong values is repaired one key at a time; one
that does not parse is never touched)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from glmchat.config.loading import UnparsedConfig, assess, read_document
from glmchat.config.rules import (
    PROVIDER_NAME,
    Invalid,
    Rule,
    did_you_mean,
    show_value,
    validate,
    value_range,
)
from glmchat.config.settings import (
    KEYS_RULE,
    MCP_SERVER_RULES,
    MODEL_RULES,
    PROVIDER_RULES,
    SECTIONS,
    SETTINGS,
    ConfigError,
    Declared,
    Settings,
)
from glmchat.keybindings import BINDING_IDS
from glmchat.paths import config_path, write_atomic


def _check(where: str, f: Rule, value: Any) -> Any:
    """`validate`, with a failure as a ConfigError whose line starts with `where` (the key)."""
    try:
        return validate(f, value)
    except Invalid as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _known_dotted_keys(providers: Iterable[str], servers: Iterable[str]) -> list[str]:
    return [
        *SETTINGS,
        *(f"keys.{k}" for k in BINDING_IDS),
        *(f"providers.{p}.{k}" for p in providers for k in PROVIDER_RULES),
        *(f"mcp.servers.{s}.{k}" for s in servers for k in MCP_SERVER_RULES),
    ]


def _locate(
    key: str, providers: Iterable[str], servers: Iterable[str] = ()
) -> tuple[list[str], Rule, bool]:
    """The document path of a dotted key, its rule, and whether it may be left unset; or
    ConfigError suggesting a known key."""
    if key.startswith("models."):
        return _locate_model(key)
    parts = key.split(".")
    declared: Declared | None = SETTINGS.get(key)
    if declared is not None:
        return parts, declared.rule, declared.optional
    found: Rule | None = None
    if len(parts) == 2 and parts[0] == "keys":
        found = KEYS_RULE if parts[1] in BINDING_IDS else None
    elif len(parts) == 3 and parts[0] == "providers":
        if not PROVIDER_NAME.match(parts[1]):
            raise ConfigError(f'{key}: a provider name may use only letters, digits, "-" and "_"')
        found = PROVIDER_RULES.get(parts[2])
    elif len(parts) == 4 and parts[:2] == ["mcp", "servers"]:
        if not PROVIDER_NAME.match(parts[2]):
            raise ConfigError(
                f'{key}: an MCP server name may use only letters, digits, "-" and "_"'
            )
        found = MCP_SERVER_RULES.get(parts[3])
    if found is None:
        if key in SECTIONS:
            raise ConfigError(f'{key} is a table; set one of its keys, like "{key}.NAME"')
        hint = did_you_mean(key, _known_dotted_keys(providers, servers))
        raise ConfigError(f'unknown key "{key}"{hint}; see config.example.toml')
    return parts, found, False


def _locate_model(key: str) -> tuple[list[str], Rule, bool]:
    """`models."PROVIDER/MODEL".FIELD`, quoted as in TOML or not: a model's name has dots of
    its own (glm-4.5), so the field is what follows the last one."""
    rest = key[len("models.") :]
    if rest.startswith('"'):
        end = rest.find('"', 1)
        name, field = rest[1:end], rest[end + 1 :] if end > 0 else ""
        field = field[1:] if field.startswith(".") else ""
    else:
        name, _, field = rest.rpartition(".")
    provider, slash, model = name.partition("/")
    # `models.zai/glm-4.5`, no field: the last dot is the model's own ("5" is no field).
    if not (provider and slash and model and field) or not field.isidentifier():
        raise ConfigError(
            f'{key}: write models."PROVIDER/MODEL".FIELD, like models."zai/glm-4.5".context'
        )
    rule = MODEL_RULES.get(field)
    if rule is None:
        hint = did_you_mean(field, list(MODEL_RULES))
        raise ConfigError(
            f'{key}: unknown model setting "{field}"{hint}; known: {", ".join(MODEL_RULES)}'
        )
    return ["models", name, field], rule, False


_TRUE = {"true", "on", "yes", "1"}
_FALSE = {"false", "off", "no", "0"}


def _parse_raw(key: str, f: Rule, raw: str, optional: bool) -> Any:
    """A command-line string as the key's type; None means "remove the key" (an empty string,
    or "none" for a setting that may be left unset)."""
    text = raw.strip()
    if raw == "" or (optional and text.lower() in ("none", "null")):
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
    if f.kind in ("str_list", "choice_list"):
        if text.startswith("["):
            return _toml_list(key, text)  # as config.toml writes it: ["list_dir", "read_file"]
        return [item.strip() for item in text.split(",") if item.strip()]
    if f.kind in ("str_table", "table"):
        try:
            value = json.loads(text)
        except ValueError:
            value = _toml_table(text)  # as config.toml writes it: {X-Title = "glmchat"}
        if not isinstance(value, dict):
            like = '{"X-Title": "glmchat"}'
            # Not the value itself: a table of headers or environment holds secrets.
            raise ConfigError(
                f"{key}: expected a JSON object, like {like}, or a TOML inline table, "
                'like {X-Title = "glmchat"}'
            )
        return value
    return raw if f.kind == "text" else text


def _toml_table(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return None


def _toml_list(key: str, text: str) -> list[str]:
    import tomllib

    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f'{key}: expected names separated by commas (a,b) or a TOML list (["a", "b"]), '
            f"got {show_value(text)}"
        )
    return [item.strip() for item in value if item.strip()]


def parse_setting(key: str, raw: str, label: str | None = None) -> Any:
    """A command-line string for the top-level setting `key` (`ask --temperature`, say),
    checked by the very rule `config set` uses; raises ConfigError prefixed with `label`."""
    declared = SETTINGS[key]
    where = label or key
    value = _parse_raw(where, declared.rule, raw, declared.optional)
    if value is None:
        raise ConfigError(f"{where}: expected a value, got {show_value(raw)}")
    return _check(where, declared.rule, value)


def _has_comment(raw: bytes) -> bool:
    # A "#" inside a string gives a needless backup, which is harmless; a missed comment is not.
    return b"#" in raw


class StillBroken(ConfigError):
    """`config set` wrote its value, but other settings in the file are still wrong: the message
    lists every remaining problem, one PATH:LINE:COL line each."""

    def __init__(self, path: Path, problems: list[str], notices: tuple[str, ...]) -> None:
        super().__init__("\n".join(problems))
        self.path = path
        self.notices = notices


def save_value(key: str, raw_value: str, path: Path | None = None) -> Settings:
    """Set one dotted key from a command-line string and rewrite config.toml atomically.

    This is also how a wrong file is repaired: the new value must be valid and must not itself
    cause a problem (ConfigError, nothing written), but problems the file already has elsewhere
    do not stop the write; they are raised after it as StillBroken. A file that does not parse
    as TOML is never touched. The value is changed in place (edit_in_place), every other line
    and comment kept; where that cannot be done the file is rewritten by tomli-w, which keeps no
    comments, so a commented file is first copied to config.toml.bak and the notices say so.
    An empty `raw_value` removes the key."""
    path = path or config_path()
    try:
        doc, old = read_document(path)
    except UnparsedConfig as exc:
        raise ConfigError(
            f"{exc}; config set cannot change a file that is not valid TOML: fix line "
            f"{exc.line}, column {exc.column} first (the file is unchanged)"
        ) from None
    current, before = assess(
        doc, path, {}, None if old is None else old.decode("utf-8"), changed=key
    )
    parts, f, optional = _locate(key, current.providers, current.mcp_servers)
    value = _parse_raw(key, f, raw_value, optional)
    new = copy.deepcopy(doc)
    if value is None:
        _remove(new, parts)
    else:
        stored = _check(key, f, value)
        if f.kind in ("str_list", "choice_list", "str_table", "table"):
            stored = value  # TOML wants the list or table itself, not our tuple form
        container = new
        for i, part in enumerate(parts[:-1]):
            child = container.setdefault(part, {})
            if not isinstance(child, dict):
                # Replacing the value would lose what the user wrote there: they decide.
                table = tuple(parts[: i + 1])
                found = before.lines(before.about(table))
                where = found[0] if found else f"{'.'.join(table)} is not a table in {path}"
                raise ConfigError(f"{where}; fix that first to set {key} (the file is unchanged)")
            container = child
        container[parts[-1]] = stored
    # Needed only here: loading the config (every start) never imports them.
    import tomllib

    import tomli_w

    from glmchat.config.edit_in_place import edit_in_place

    # The value's own text changed in place, comments and all; else the whole file rewritten.
    text = None if old is None else edit_in_place(old.decode("utf-8"), parts, _at(new, parts), new)
    rewritten = text is None
    if text is None:
        text = tomli_w.dumps(new)
    _, after = assess(new, path, {}, text, changed=key)
    # A problem the file did not have comes from this command's KEY VALUE, so it names the key,
    # not a place in a file that is not written.
    had = before.messages()
    if caused := [message for message in after.messages() if message not in had]:
        raise ConfigError("\n".join(caused))
    # What the caller gets back must match a fresh load, environment included; checked before
    # writing so that a bad GLMCHAT_MODEL fails the command instead of following a write.
    settings, loaded = assess(tomllib.loads(text), path, os.environ, text)
    if from_env := [m for k, m in loaded.errors if k is None and m not in after.messages()]:
        raise ConfigError("\n".join(from_env))

    notices: tuple[str, ...] = ()
    if rewritten and old is not None and _has_comment(old):
        backup = path.with_name(path.name + ".bak")
        write_atomic(backup, old)
        notices = (
            f"{path}: comments are not kept when glmchat rewrites the file; "
            f"the original is saved as {backup}",
        )
    write_atomic(path, text.encode("utf-8"))
    if after.errors:
        raise StillBroken(path, after.lines(after.errors + after.warnings), notices)
    return dataclasses.replace(settings, warnings=settings.warnings + notices)


def _at(doc: dict[str, Any], parts: list[str]) -> Any:
    """The value at a dotted key's path, None when it is not there."""
    found: Any = doc
    for part in parts:
        found = found.get(part) if isinstance(found, dict) else None
    return found


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
