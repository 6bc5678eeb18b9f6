"""`glmchat sessions list` measures its columns in terminal cells as shown (found by QA: it
counted characters, so with a CJK model name or one with escapes the MSGS values sat off their
header, a CJK title ran past the terminal's width and wrapped, and a search's snippet was
indented by the same wrong widths); a search's snippet keeps its hit in view."""

from __future__ import annotations

import json

import pytest
from rich.cells import cell_len

from glmchat import paths
from glmchat.cli import main
from glmchat.cli.cells import clip_around, wrap
from glmchat.store import SNIPPET_END, SNIPPET_START, SessionStore, parse_documents

WIDTH = 120
HOSTILE = "\x1b]0;PW\x07\x1b[2J\x9b2J"
CONVERSATIONS = [
    # id, provider/model, title, messages
    ("cjk0001", "zai", "模型-大" * 3, "标题很长的对话" * 20, 12),
    ("esc0002", "zai", f"glm{HOSTILE}", f"title {HOSTILE} end " * 10, 2),
    ("mix0003", f"openrouter{HOSTILE}", "z-ai/glm-4.5", "短い題 plain", 3),
    ("long0004", "openai", "模" * 90 + HOSTILE * 5, "plain title", 1),
]


def _seed(conversations: list[tuple[str, str, str, str, int]]) -> None:
    docs = []
    for conv_id, provider, model, title, count in conversations:
        messages = [
            {
                "role": "user" if n % 2 == 0 else "assistant",
                "content": f"词 needle {HOSTILE} {'中文' * 80}\nsecond\tline {n}",
            }
            for n in range(count)
        ]
        docs.append(
            {
                "format": "glmchat-conversation",
                "version": 1,
                "id": conv_id,
                "title": title,
                "model": model,
                "provider": provider,
                "messages": messages,
            }
        )
    with SessionStore(paths.database_path()) as store:
        store.insert_conversations(parse_documents(json.dumps(docs)))


def _cells(line: str) -> list[str]:
    """The line as the terminal's cells: a wide character fills its first, "" its second."""
    cells: list[str] = []
    for char in line:
        cells.append(char)
        cells.extend([""] * (cell_len(char) - 1))
    return cells


def _listed(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["sessions", "list", *argv]) == 0
    lines = capsys.readouterr().out.splitlines()
    for line in lines:
        assert cell_len(line) <= WIDTH, line  # nothing wraps
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in line), line
    return lines


@pytest.fixture(autouse=True)
def columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))


# Without the last conversation every model fits: only the measuring is tested; with it, a
# model name longer than the terminal is cut so the title keeps its room.
@pytest.mark.parametrize("count", [3, 4], ids=["models_fit", "model_too_long"])
def test_columns_line_up_and_lines_fit(capsys: pytest.CaptureFixture[str], count: int) -> None:
    _seed(CONVERSATIONS[:count])
    header, *rows = _listed(capsys)
    assert len(rows) == count
    head = _cells(header)
    msgs_end = "".join(head).index("MSGS") + len("MSGS")
    title_at = "".join(head).index("TITLE")
    counts = {conv_id: str(n) for conv_id, *_, n in CONVERSATIONS}
    for row in rows:
        cells = _cells(row)
        msgs = counts[row.split()[0]]
        # MSGS: right-aligned under its header; TITLE: starts under its header.
        assert "".join(cells[msgs_end - len(msgs) : msgs_end]) == msgs, row
        assert cells[msgs_end - len(msgs) - 1] == " " and cells[title_at - 1] == " ", row
        assert cells[title_at] != " ", row
    shown = "\n".join(rows)
    assert "标题很长的对话" in shown and "…" in shown  # the CJK title is cut to fit, marked
    assert "\\x1b]0;PW\\x07" in shown  # escapes spelled out, not dropped


def test_search_snippets_sit_under_the_title_and_fit(capsys: pytest.CaptureFixture[str]) -> None:
    _seed(CONVERSATIONS[:3])
    header, *rest = _listed(capsys, "--search", "needle")
    title_at = "".join(_cells(header)).index("TITLE")
    snippets = [line for line in rest if line.startswith(" ")]
    assert snippets and len(snippets) + len(snippets) == len(rest), rest
    for snippet in snippets:
        assert len(snippet) - len(snippet.lstrip(" ")) == title_at, snippet
        assert "needle" in snippet or "…" in snippet


# --- a snippet is cut around its hit ---------------------------------------------------------
# Found by QA: a hit near the end of a long message was cut off the snippet's right end, so the
# row was found but its snippet did not show why. Every place that cuts a snippet to a width
# goes through clip_around (the ctrl+r picker's too: tests/test_session_picker.py).

FILL = " ".join(["marmotword flows slowly onward"] * 30)
CJK_FILL = "中文标题" * 40
LONG_WORD = "supercalifragilisticexpialidocious"
HITS = {  # conversation: (search word, the long message it is in)
    "start": ("headwordstart", "headwordstart " + FILL),
    "middle": ("midwordcentre", f"{FILL} midwordcentre {FILL}"),
    "end": ("tailwordend", f"{FILL} tailwordend"),
    "cjk": ("目标词", f"{CJK_FILL}目标词{CJK_FILL}"),
    "long": (LONG_WORD, f"{FILL} {LONG_WORD} {FILL}"),
}


def _marked(word: str) -> str:
    return f"{SNIPPET_START}{word}{SNIPPET_END}"


def _seed_hits() -> None:
    docs = [
        {
            "format": "glmchat-conversation",
            "version": 1,
            "id": name,
            "title": name,
            "model": "glm-4.5",
            "provider": "zai",
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}],
        }
        for name, (_, text) in HITS.items()
    ]
    with SessionStore(paths.database_path()) as store:
        store.insert_conversations(parse_documents(json.dumps(docs)))


@pytest.mark.parametrize("columns", [120, 80, 60])
@pytest.mark.parametrize("name", list(HITS))
def test_the_snippet_shows_its_hit_wherever_it_is_in_the_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    _seed_hits()
    word = HITS[name][0]
    assert main(["sessions", "list", "--search", word]) == 0
    header, row, snippet = capsys.readouterr().out.splitlines()
    title_at = "".join(_cells(header)).index("TITLE")
    width = max(20, columns - title_at)  # what the title and its snippet are given
    assert row.split()[0] == name and snippet.startswith(" " * title_at), snippet
    shown = snippet[title_at:]
    assert cell_len(shown) <= width, (shown, width)
    if cell_len(_marked(word)) + 2 <= width:
        assert _marked(word) in shown, shown
        # context on each side the message has some, and "…" where the snippet was cut
        assert shown.startswith("…" if name != "start" else _marked(word)), shown
        assert shown.endswith("…" if name != "end" else _marked(word)), shown
    else:  # only the long word at 60 and 80 columns: the start of the hit, after the cut
        assert shown.startswith("…") and _marked(word).startswith(shown[1:-1]), shown
    # --json keeps the whole snippet.
    assert main(["sessions", "list", "--search", word, "--json"]) == 0
    assert _marked(word) in json.loads(capsys.readouterr().out)[0]["snippet"]


SNIPPETS = [
    "«headwordstart» " + FILL,
    f"…{FILL} «midwordcentre» {FILL}…",
    f"…{FILL} «tailwordend»",
    f"…{CJK_FILL}«目标词»{CJK_FILL}…",
    f"🙂 {'絵文字 ' * 20}«🙂🙂» {'ok ' * 30}",
    f"x «{LONG_WORD}» «second» y",
]


@pytest.mark.parametrize("text", SNIPPETS, ids=["start", "middle", "end", "cjk", "emoji", "long"])
def test_clip_around_keeps_the_hit_at_every_width(text: str) -> None:
    start = text.index(SNIPPET_START)
    hit = text[start : text.index(SNIPPET_END) + 1]
    for width in range(cell_len(text) + 2):
        shown = clip_around(text, width, SNIPPET_START, SNIPPET_END)
        assert cell_len(shown) <= width, (width, shown)
        if cell_len(text) <= width:
            assert shown == text
            continue
        # Nothing made up: what is shown is the text, with "…" where it was cut.
        assert shown.strip("…") in text, (width, shown)
        if cell_len(hit) + 2 <= width:
            assert hit in shown, (width, shown)
            # The room is shared: a side is cut short only if the other is shown whole.
            before, _, after = shown.partition(hit)
            half = (width - cell_len(hit)) // 2 - 2  # less the "…" and a wide character
            before_whole, after_whole = text.startswith(before), text.endswith(after)
            assert before_whole or after_whole or cell_len(before) >= half, (width, shown)
            assert before_whole or after_whole or cell_len(after) >= half, (width, shown)
        elif width >= 4:  # the hit alone does not fit: its start, from the "«"
            assert shown.lstrip("…").startswith(hit[: cell_len(shown) // 2]), (width, shown)


@pytest.mark.parametrize(
    ("text", "width", "shown"),
    [
        ("one two three «hit» four five six", 15, "…ree «hit» fou…"),
        ("«hit» four five six", 10, "«hit» fou…"),
        ("one two three «hit»", 10, "…ree «hit»"),
        ("一二三四五«中»六七八九十", 12, "…五«中»六七…"),  # a wide character is never halved
        ("one two three «a-long-hit» four", 9, "…«a-long…"),
        ("unmarked text is cut at its end", 10, "unmarked…"),
        ("an «unclosed mark is cut at its end", 10, "an «unclo…"),
    ],
)
def test_clip_around_examples(text: str, width: int, shown: str) -> None:
    assert clip_around(text, width, SNIPPET_START, SNIPPET_END) == shown


# cells.wrap: the notes under `glmchat models` (found by QA: a terminal wrapped them inside words).
@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("Sources: docs.z.ai pricing page", 11, "* Sources:|  docs.z.ai|  pricing|  page"),
        ("Sources: docs.z.ai pricing page", 40, "* Sources: docs.z.ai pricing page"),
        ("短い題 の 標題標題", 8, "* 短い題|  の|  標題標|  題"),  # a word wider than a line: split
        ("a supercalifragilistic word", 10, "* a|  supercal|  ifragili|  stic|  word"),
        ("", 10, "* "),
        ("spaces   are   one", 40, "* spaces are one"),
    ],
)
def test_wrap_breaks_at_spaces_in_cells(text: str, width: int, lines: str) -> None:
    shown = wrap(text, width, "  ", "* ")
    assert shown == lines.split("|")
    assert all(cell_len(line) <= width for line in shown)


@pytest.mark.parametrize("width", [60, 70, 80, 90])
def test_narrow_terminals_and_joined_emoji_fit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    """Found by QA: at 60 columns the title kept 20 cells and every row wrapped; a cut title
    starting with a family emoji (three joined by U+200D) was cut as if it were one glyph, then
    shown as its three parts: 4 cells too wide."""
    monkeypatch.setenv("COLUMNS", str(width))
    _seed(
        [
            ("fam0001", "zai", "glm-4.5", "👨\u200d👩\u200d👧 fam2 " + "x" * 70, 2),
            ("fire0002", "zai", "glm-4.5", "❤\ufe0f\u200d🔥 " + "y" * 70, 2),
            ("plain0003", "zai", "glm-4.5", "tab here and there", 2),
        ]
    )
    assert main(["sessions", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4, lines
    for line in lines:
        assert cell_len(line) <= width, (width, line)
        assert "\u200d" not in line and "\ufe0f" not in line
    assert any("👨👩👧 fam2" in line for line in lines)


def test_without_fts5_a_search_says_which_matches_it_keeps(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from glmchat.store import connection

    monkeypatch.setattr(connection, "fts5_available", lambda: False)
    # The older conversation has the word in its title, the newer one in a message: past
    # the limit, the title's hit is the one kept.
    _seed([("title001", "zai", "glm-4.6", "plain words", 1), ("newer002", "zai", "glm", "x", 1)])
    with SessionStore(paths.database_path()) as store:
        store.add_message("newer002", "user", "nothing plain here")
    assert main(["sessions", "list", "--search", "plain", "--limit", "1", "--json"]) == 0
    out, err = capsys.readouterr()
    assert [row["id"] for row in json.loads(out)] == ["title001"] and err == ""
    assert main(["sessions", "list", "--search", "plain", "--limit", "2", "--json"]) == 0
    assert [row["id"] for row in json.loads(capsys.readouterr().out)] == [
        "newer002",
        "title001",
    ]
    assert main(["sessions", "list", "--search", "plain", "--limit", "1"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        "glmchat: note: this SQLite has no FTS5; using plain substring search "
        "(matching titles first, then the newest matches; not ranked)\n"
    )
    assert "title001" in out
