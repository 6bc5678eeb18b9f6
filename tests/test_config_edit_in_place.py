"""`config set` edits config.toml in place: the value's text, one line added or taken out, and
every other line and comment as the user wrote it (glmchat/config/edit_in_place.py)."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from glmchat.config.edit_in_place import edit_in_place

NAME = st.sampled_from(["a", "b", "c", "d-e", "f_g", "h i", "j.k"])
SCALAR = st.one_of(
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet="ab #=[]{}\"'\\\n\t中", max_size=8),
    st.lists(st.text(alphabet="xy #,]", max_size=4), max_size=3),
)
DOC = st.dictionaries(
    NAME,
    st.one_of(SCALAR, st.dictionaries(NAME, SCALAR, max_size=3)),
    max_size=4,
)


def commented(doc: dict[str, Any]) -> str:
    """The document as tomli-w writes it, with a comment line after every statement and a
    trailing comment on every `key = value` on one line: whatever the edit, each comment must
    be kept, but for the one on a line taken out. (A comment inside a list written over
    several lines is part of that value, and goes with it.)"""
    lines: list[str] = []
    for n, line in enumerate(tomli_w.dumps(doc).splitlines()):
        if _parses(line):
            line += f"  # on {n}"
        lines.append(line)
        if _parses("\n".join(lines)):
            lines.append(f"# after {n}")
    return "\n".join(lines) + "\n"


def _parses(text: str) -> bool:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return True


def comments(text: str) -> set[str]:
    marked = (line for line in text.splitlines() if "# on " in line or "# after" in line)
    return {line.split("#")[-1] for line in marked}


@settings(max_examples=300, deadline=None)
@given(DOC, st.data())
def test_any_set_or_removal_keeps_every_other_comment(doc: dict[str, Any], data: Any) -> None:
    text = commented(doc)
    assert tomllib.loads(text) == doc
    tables = [k for k, v in doc.items() if isinstance(v, dict)]
    table = data.draw(st.sampled_from([(), *[(t,) for t in tables], ("new table",)]))
    holder = doc
    for part in table:
        holder = holder.get(part, {})
    keys = [k for k, v in holder.items() if not isinstance(v, dict)]
    key = data.draw(st.sampled_from([*keys, "new key"]))
    value = data.draw(st.one_of(st.none(), SCALAR, st.dictionaries(NAME, SCALAR, max_size=2)))
    if key in doc and isinstance(doc[key], dict) and not table:
        return  # a table, not a value
    want = copy.deepcopy(doc)
    container = want
    for part in table:
        container = container.setdefault(part, {})
    emptied = False
    if value is None:
        container.pop(key, None)
        if table and not container:
            emptied = want.pop(table[0], None) is not None
    else:
        container[key] = value
    edited = edit_in_place(text, [*table, key], value, want)
    assert edited is not None, text
    assert tomllib.loads(edited) == want
    lost = comments(text) - comments(edited)
    # Only what was written on the lines taken out: the key's own, and an emptied table's
    # header.
    assert len(lost) <= (value is None and key in holder) + emptied, (text, edited)


def test_a_value_is_changed_where_it_is_written() -> None:
    text = '# top\nmodel = "a"   # mine\n\n[ui]\n# speed\nrefresh_rate = 6 # slow\n'
    want = {"model": "a", "ui": {"refresh_rate": 12.0}}
    assert edit_in_place(text, ["ui", "refresh_rate"], 12.0, want) == (
        '# top\nmodel = "a"   # mine\n\n[ui]\n# speed\nrefresh_rate = 12.0 # slow\n'
    )


def test_a_new_key_goes_after_its_tables_last_statement_not_the_next_tables_comments() -> None:
    text = '[ui]\ncompact = true\nnames = [\n  "a",  # first\n]\n\n# keys I use\n[keys]\n'
    want = {"ui": {"compact": True, "names": ["a"], "theme": "x"}, "keys": {}}
    assert edit_in_place(text, ["ui", "theme"], "x", want) == (
        '[ui]\ncompact = true\nnames = [\n  "a",  # first\n]\ntheme = "x"\n\n# keys I use\n[keys]\n'
    )


def test_a_new_top_level_key_goes_before_the_first_table_and_its_comments() -> None:
    text = "# my file\n\n# the UI\n[ui]\ncompact = true\n"
    want = {"thinking": False, "ui": {"compact": True}}
    assert edit_in_place(text, ["thinking"], False, want) == (
        "# my file\n\nthinking = false\n\n# the UI\n[ui]\ncompact = true\n"
    )


def test_a_new_table_goes_at_the_end_with_the_files_own_line_ends() -> None:
    text = "# mine\r\ntheme = 'nord'"
    want = {"theme": "nord", "providers": {"my host": {"base_url": "http://h/v1"}}}
    edited = edit_in_place(text, ["providers", "my host", "base_url"], "http://h/v1", want)
    assert edited == (
        '# mine\r\ntheme = \'nord\'\r\n\r\n[providers."my host"]\r\nbase_url = "http://h/v1"\r\n'
    )


def test_taking_out_a_tables_last_key_takes_out_its_header() -> None:
    text = '[models."zai/x"]  # a model\ncontext = 1000  # tokens\n# kept\n'
    assert edit_in_place(text, ["models", "zai/x", "context"], None, {}) == "# kept\n"


def test_what_cannot_be_done_in_place_is_left_to_a_rewrite() -> None:
    inline = "ui = { compact = true }\n"
    want = {"ui": {"compact": True, "theme": "x"}}
    assert edit_in_place(inline, ["ui", "theme"], "x", want) is None  # [ui] again: invalid
    # A key of an inline table taken out: not a line of its own.
    assert edit_in_place(inline, ["ui", "compact"], None, {}) is None
    # A list into an inline table is written on one line, so this one can be done.
    want = {"ui": {"compact": ["a", "b"]}}
    assert edit_in_place(inline, ["ui", "compact"], ["a", "b"], want) == (
        'ui = { compact = ["a", "b"] }\n'
    )


def test_a_table_valued_setting_is_written_inline_in_its_table() -> None:
    text = '# mine\n[providers.zai]\n# the host\nbase_url = "http://h"\n'
    headers = {"X-Title": "new", "a b": "c"}
    want = {"providers": {"zai": {"base_url": "http://h", "headers": headers}}}
    edited = edit_in_place(text, ["providers", "zai", "headers"], headers, want)
    assert edited == text + 'headers = { X-Title = "new", "a b" = "c" }\n'
    # Written as a table of its own, it is left to a rewrite (the caller keeps a backup).
    sectioned = "[providers.zai.headers]\nX-Title = 'old'\n"
    want = {"providers": {"zai": {"headers": headers}}}
    assert edit_in_place(sectioned, ["providers", "zai", "headers"], headers, want) is None
