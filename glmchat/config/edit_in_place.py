"""`config set` changes one value of config.toml as a person would with an editor: that value's
text, or one line added or taken away, and every other line, comment and blank kept as it was.

The edit is kept only when the edited text reads back as exactly the document `config set`
means to write; otherwise (a key inside an inline table given a list, a table written with
dotted keys, anything this does not follow) the caller rewrites the whole file as before, and
keeps the original beside it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

from glmchat.toml_positions import KeySpans, Path, key_spans

_BLANK = " \t"


def edit_in_place(text: str, parts: Sequence[str], value: Any, want: dict[str, Any]) -> str | None:
    """`text` with the key at `parts` set to `value` (None: taken out), or None when that cannot
    be done in place here. `want` is the whole document that must come out."""
    spans = key_spans(text)
    if not spans.whole:
        return None
    path = tuple(parts)
    if value is None:
        edited = _take_out(text, spans, path, want)
    elif path in spans.values:
        edited = _replace(text, spans.values[path], value)
    else:
        edited = _add(text, spans, path, value)
    if edited is None:
        return None
    try:
        doc = tomllib.loads(edited)
    except tomllib.TOMLDecodeError:
        return None
    return edited if doc == want else None


def _replace(text: str, span: tuple[int, int, int], value: Any) -> str:
    _, value_start, value_end = span
    while value_end > value_start and text[value_end - 1] in _BLANK:
        value_end -= 1
    return text[:value_start] + _value_text(value) + text[value_end:]


def _take_out(text: str, spans: KeySpans, path: Path, want: dict[str, Any]) -> str | None:
    """The key's whole line (lines, for a value over several), its trailing comment included,
    if it is written; and the header of each table left empty (`config set` takes those out)."""
    cuts = []
    if path in spans.values:
        key_start, _, value_end = spans.values[path]
        cuts.append(_lines(text, key_start, value_end))
    for depth in range(len(path) - 1, 0, -1):
        if _has(want, path[:depth]):
            break
        header = next((h for h in spans.headers if h[0] == path[:depth]), None)
        if header is not None:
            cuts.append(_lines(text, header[1], header[2]))
    whole = [cut for cut in cuts if cut is not None]
    if len(whole) < len(cuts):
        return None
    for start, end in sorted(whole, reverse=True):
        text = text[:start] + text[end:]
    return text


def _lines(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The lines from `start` to `end` whole, a trailing comment included, when nothing else
    is written on them (not a key of an inline table)."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end + 1
    after = text[end:line_end].strip(_BLANK + "\r\n")
    if text[line_start:start].strip(_BLANK) or (after and not after.startswith("#")):
        return None
    return line_start, line_end


def _has(doc: dict[str, Any], path: Path) -> bool:
    found: Any = doc
    for part in path:
        if not isinstance(found, dict) or part not in found:
            return False
        found = found[part]
    return True


def _add(text: str, spans: KeySpans, path: Path, value: Any) -> str | None:
    nl = "\r\n" if "\r\n" in text else "\n"  # the file's own line ends
    table, line = path[:-1], f"{_key_text(path[-1])} = {_value_text(value)}{nl}"
    starts = [start for _, start, _, _ in spans.headers]
    if not table:
        # A top-level key goes after the last one written, else before the first table (and
        # the comments just above it, which are about that table).
        first = min(starts, default=len(text))
        at = _after_statements(text, spans, 0, first)
        if at is None:
            at = _above_comments(text, first) if starts else len(text)
            line = line + (nl if starts else "")
        return _insert(text, at, line, nl)
    header = next((h for h in spans.headers if h[0] == table), None)
    if header is None:
        # A new table at the end of the file.
        heading = ".".join(_key_text(part) for part in table)
        end = text if not text or text.endswith("\n") else text + nl
        return end + (nl if end.strip() else "") + f"[{heading}]{nl}{line}"
    _, start, _, array = header
    if array:
        return None
    section_end = min((s for s in starts if s > start), default=len(text))
    at = _after_statements(text, spans, start, section_end)
    if at is None:
        at = text.find("\n", start)
        at = len(text) if at < 0 else at + 1
    return _insert(text, at, line, nl)


def _after_statements(text: str, spans: KeySpans, start: int, end: int) -> int | None:
    """Just after the line where the last statement between `start` and `end` ends."""
    ends = [v_end for k_start, _, v_end in spans.values.values() if start <= k_start < end]
    if not ends:
        return None
    at = text.find("\n", max(ends))
    return len(text) if at < 0 else at + 1


def _above_comments(text: str, at: int) -> int:
    """The start of the comment lines directly above the line starting at `at`."""
    while at > 0:
        previous = text.rfind("\n", 0, at - 1) + 1
        if not text[previous:at].lstrip(_BLANK).startswith("#"):
            break
        at = previous
    return at


def _insert(text: str, at: int, line: str, nl: str) -> str:
    if at > 0 and not text[:at].endswith("\n"):
        line = nl + line
    return text[:at] + line + text[at:]


def _key_text(key: str) -> str:
    import tomli_w

    return tomli_w.dumps({key: 0}).rsplit(" = ", 1)[0]


def _value_text(value: Any) -> str:
    """One line of TOML for a setting's value (a list or a table stays on its line: a
    table-valued setting such as a provider's `headers` is written inline)."""
    import tomli_w

    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value_text(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_key_text(key)} = {_value_text(item)}" for key, item in value.items())
        return "{ " + ", ".join(pairs) + " }" if value else "{}"
    return tomli_w.dumps({"k": value})[len("k = ") :].rstrip("\n")
