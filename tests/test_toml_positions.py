"""glmchat.toml_positions: where each key of a TOML document is written."""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from glmchat.toml_positions import key_positions, position_of

KEY = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=6
)
SCALAR = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    # No "\r": a multi-line string reads it back as "\n", as TOML says.
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r"),
        max_size=12,
    ),
    st.lists(st.integers(), max_size=3),
)
TABLE = st.recursive(
    st.dictionaries(KEY, SCALAR, max_size=4),
    lambda children: st.dictionaries(KEY, st.one_of(SCALAR, children), max_size=4),
    max_leaves=12,
)


def leaves(doc: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in doc.items():
        path = (*prefix, key)
        found.append(path)
        if isinstance(value, dict):
            found.extend(leaves(value, path))
    return found


def written_at(text: str, line: int, col: int, path: tuple[str, ...]) -> bool:
    """Does `path` begin at line:col: a table header naming it (or a table inside it), or a key
    of the path written as tomli-w writes keys?"""
    rest = text.split("\n")[line - 1][col - 1 :]  # not splitlines: "\x85" is no newline here
    if rest.startswith("["):
        chain: list[str] = []
        table = tomllib.loads(rest + "\n")  # tomli-w writes a header alone on its line
        while table:
            (key, table), *_ = table.items()
            chain.append(key)
        n = min(len(chain), len(path))
        return tuple(chain[:n]) == path[:n]
    return any(rest.startswith(tomli_w.dumps({key: 0})[: -len(" = 0\n")]) for key in path)


def encoded(key: str) -> str:
    return tomli_w.dumps({key: 0})[: -len(" = 0\n")]


def inline(value: Any) -> str:
    """A value on one line: tables as inline tables, arrays flat."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{encoded(k)} = {inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    return tomli_w.dumps({"x": value})[len("x = ") : -1]


def dotted(doc: dict[str, Any], prefix: str = "") -> list[str]:
    """Every scalar as one `a.b.c = value` line (an empty table stays an inline `{ }`)."""
    lines = []
    for key, value in doc.items():
        name = prefix + encoded(key)
        if isinstance(value, dict) and value:
            lines.extend(dotted(value, name + " . "))
        else:
            lines.append(f"{name} = {inline(value)}")
    return lines


@settings(max_examples=150, deadline=None)
@given(TABLE, st.sampled_from(["tables", "inline", "dotted"]))
def test_every_key_of_a_written_document_is_found_where_it_is(
    doc: dict[str, Any], style: str
) -> None:
    if style == "tables":
        text = tomli_w.dumps(doc, multiline_strings=True)
    elif style == "inline":
        text = "".join(f"{encoded(k)} = {inline(v)}\n" for k, v in doc.items())
    else:
        text = "\n".join(dotted(doc)) + "\n"
    assert tomllib.loads(text) == doc
    positions = key_positions(text)
    for path in leaves(doc):
        assert path in positions, path
        line, col = positions[path]
        assert written_at(text, line, col, path), (path, line, col)


def test_dotted_keys_inline_tables_and_strings_that_look_like_keys() -> None:
    text = (
        "# [ui] in a comment\n"  # 1
        'title = """\n'  # 2
        "[keys]\n"  # 3
        'send = "x"\n'  # 4
        '"""\n'  # 5
        "a.'b.c' . d = 1\n"  # 6
        "[providers]\n"  # 7
        'local = { base_url = "http://h", headers = { "X-A" = "b" } }\n'  # 8
        "[ 'keys' ]\n"  # 9
        "  send = 'enter' # note\n"  # 10
        "list = [\n  { a = 1 },\n  [2, 3], # x\n]\n"  # 11-14
        "[[arr]]\n"  # 15
        "x = 1\n"  # 16
    )
    positions = key_positions(text)
    assert positions[("title",)] == (2, 1)
    assert ("keys", "send") in positions and positions[("keys", "send")] == (10, 3)
    assert positions[("a",)] == (6, 1)
    assert positions[("a", "b.c", "d")] == (6, 1)
    assert positions[("providers", "local")] == (8, 1)
    assert positions[("providers", "local", "base_url")] == (8, 11)
    assert positions[("providers", "local", "headers", "X-A")] == (8, 46)
    assert positions[("keys",)] == (9, 1)
    assert positions[("keys", "list")] == (11, 1)
    assert ("keys", "list", "a") not in positions
    assert positions[("arr",)] == (15, 1)


def test_a_missing_key_falls_back_to_its_table_then_the_first_line() -> None:
    positions = key_positions("x = 1\n\n[providers.local]\nmodels = []\n")
    assert position_of(positions, ("providers", "local", "base_url")) == (3, 1)
    assert position_of(positions, ("theme",)) == (1, 1)
    assert position_of({}, ("anything",)) == (1, 1)


def test_crlf_and_non_ascii_columns_count_characters() -> None:
    text = '"é" = "ü"\r\n[ui]\r\n\tcompact = true\r\n'
    positions = key_positions(text)
    assert positions[("é",)] == (1, 1)
    assert positions[("ui", "compact")] == (3, 2)


def test_what_it_cannot_follow_stops_the_scan_without_an_error() -> None:
    positions = key_positions('a = 1\nb = "never closed\nc = 2\n')
    assert positions == {("a",): (1, 1), ("b",): (2, 1)}
