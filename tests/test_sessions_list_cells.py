"""`glmchat sessions list` measures its columns in terminal cells as shown (found by QA: it
counted characters, so with a CJK model name or one with escapes the MSGS values sat off their
header, a CJK title ran past the terminal's width and wrapped, and a search's snippet was
indented by the same wrong widths)."""

from __future__ import annotations

import json

import pytest
from rich.cells import cell_len

from glmchat import paths
from glmchat.cli import main
from glmchat.store import SessionStore, parse_documents

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
