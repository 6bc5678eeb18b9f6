"""The rule for one value: what a setting may hold, and the one-line message when it does not."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from glmchat.code_themes import is_code_theme
from glmchat.keybindings import KeyProblem, parse_keys


class Invalid(ValueError):
    """One value that breaks its rule; the message says what is allowed, without the key."""


Kind = Literal[
    "bool",
    "float",
    "int",
    "text",  # any string, kept as typed (a system prompt)
    "str",  # a non-empty string
    "model",  # PROVIDER/MODEL or a bare model; whether the provider exists is checked later
    "choice",
    "code_theme",  # a choice, or any Pygments style installed as a plugin
    "url",
    "env",  # an environment variable name
    "str_list",
    "choice_list",  # an array of names from `choices`, each at most once
    "str_table",
    "table",
    "keys",  # one or more key names, as `[keys]` takes them
]


@dataclass(frozen=True, slots=True)
class Rule:
    """What one setting may hold: a kind, and for numbers the range, for choices the names."""

    kind: Kind
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()


PROVIDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def show_value(value: object) -> str:
    """A value as it would look in TOML, short enough for one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # A bad value may hold a secret (a URL's password or token): never echoed whole.
        from glmchat.secret_values import mask_text  # it imports credentials, which imports us

        text = json.dumps(mask_text(value), ensure_ascii=False)
        return text if len(text) <= 40 else text[:36] + '…"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int | float):
        return repr(value)
    return f"a {type(value).__name__}"


def did_you_mean(name: str, known: Sequence[str], prefix: str = "", cutoff: float = 0.6) -> str:
    """` (did you mean "PREFIXclosest"?)`, or "" when nothing known is close."""
    # difflib is loaded only when something is wrong: a good config never pays for it.
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=cutoff)
    return f' (did you mean "{prefix}{close[0]}"?)' if close else ""


def _bound(limit: float | None) -> float:
    if limit is None:
        raise AssertionError("a number setting is declared without its range")
    return limit


def _number(limit: float) -> str:
    # Whole bounds in full (1048576, not 1.04858e+06): the user types the number back.
    return str(int(limit)) if float(limit).is_integer() else f"{limit:g}"


def value_range(f: Rule) -> str:
    return f"from {_number(_bound(f.lo))} to {_number(_bound(f.hi))}"


def validate(f: Rule, value: Any) -> Any:
    """Check one value; returns it converted (ints become floats, arrays tuples, keys parsed)."""

    def fail(expected: str) -> Invalid:
        return Invalid(f"expected {expected}, got {show_value(value)}")

    kind = f.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if kind in ("float", "int"):
        if kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
            expected = f"a whole number {value_range(f)}"
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
            expected = f"a number {value_range(f)}"
        if not ok or not (_bound(f.lo) <= value <= _bound(f.hi)):
            raise fail(expected)
        return float(value) if kind == "float" else value
    if kind == "text":
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if kind in ("str", "model"):
        if not isinstance(value, str) or not value.strip():
            raise fail("a non-empty string")
        return value
    if kind == "choice" or kind == "code_theme":
        known = kind == "code_theme" and isinstance(value, str) and is_code_theme(value)
        if value not in f.choices and not known:
            hint = did_you_mean(value, f.choices) if isinstance(value, str) else ""
            raise Invalid(
                "expected one of "
                + ", ".join(f'"{c}"' for c in f.choices)
                + f", got {show_value(value)}{hint}"
            )
        return value
    if kind == "url":
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise fail("an http:// or https:// URL")
        return value
    if kind == "env":
        if not isinstance(value, str) or not ENV_NAME.match(value):
            raise fail('an environment variable name like "MY_API_KEY"')
        return value
    # A tuple is the converted form (a declared default); a file gives a list.
    if kind == "str_list":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
            raise fail('an array of strings, like ["glm-4.5"]')
        return tuple(value)
    if kind == "choice_list":
        allowed = ", ".join(f'"{c}"' for c in f.choices)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise fail(f"an array of names from {allowed}")
        for item in value:
            if item not in f.choices:
                hint = did_you_mean(item, f.choices)
                raise Invalid(f"unknown name {show_value(item)}{hint}; known: {allowed}")
        if len(set(value)) != len(value):
            raise Invalid("a name is given twice")
        return tuple(value)
    if kind == "str_table":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise fail('a table of strings, like { "X-Title" = "glmchat" }')
        return tuple(value.items())
    if kind == "table":
        if not isinstance(value, dict):
            raise fail("a table")
        return tuple(value.items())
    if kind == "keys":
        if not isinstance(value, str) or not all(part.strip() for part in value.split(",")):
            raise fail('key names separated by commas, like "ctrl+j,shift+enter"')
        try:
            return parse_keys(value)
        except KeyProblem as exc:
            raise Invalid(str(exc)) from None
    raise AssertionError(kind)
