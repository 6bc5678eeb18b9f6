"""The command line's tables line up as a terminal shows them: a cell with control characters
(shown as `\\x1b`, four columns) or wide characters keeps its columns (found by QA: `glmchat
models` measured a server's model id before its escapes were spelled out)."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from glmchat.catalogue.model_info import ModelInfo
from glmchat.cli.cells import aligned
from glmchat.cli.models import _table
from glmchat.cli.usage_cmd import _print_table
from glmchat.store.usage import UsageRow

HOSTILE = "evil\x1b]0;PW\x07\x1b[2J"
WIDE = "模型-大"


def _starts(line: str, words: list[str]) -> list[int]:
    """The cell offset where each of `words` starts in `line`."""
    offsets, at = [], 0
    for word in words:
        index = line.index(word, at)
        offsets.append(cell_len(line[:index]))
        at = index + len(word)
    return offsets


def test_aligned_measures_cells_as_shown() -> None:
    rows = [("NAME", "N"), (HOSTILE, "1"), (WIDE, "22"), ("plain", "333")]
    lines = aligned(rows, right=[1])
    assert "\x1b" not in "".join(lines) and "\\x1b]0;PW\\x07" in lines[1]
    ends = {cell_len(line) for line in lines}
    assert len(ends) == 1  # the right-aligned last column ends in the same cell on every line
    assert aligned([("a", "b"), ("c", "d")], rule_before_last=True)[1] == "-  -"


def test_models_table_keeps_its_columns_with_hostile_and_wide_ids() -> None:
    infos = [
        ModelInfo("openai", HOSTILE, known=False, context=128_000),
        ModelInfo("openai", WIDE, known=False, context=64_000),
        ModelInfo("openai", "plain", known=False, context=8_000),
    ]
    lines = _table(infos, 120).splitlines()[:4]
    columns = {tuple(_starts(line, line.split()[1:2])) for line in lines[1:]}
    assert len(columns) == 1, lines  # CONTEXT starts in one column on every row
    assert "\x1b" not in "\n".join(lines)


def test_usage_table_keeps_its_columns_with_a_hostile_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [UsageRow(f"zai/{HOSTILE}", answers=1), UsageRow(f"zai/{WIDE}", answers=22)]
    _print_table(rows, UsageRow("", answers=23), "model")
    lines = capsys.readouterr().out.splitlines()
    assert "\x1b" not in "\n".join(lines)
    numbered = [line for line in lines if not line.startswith("-")]
    assert len({cell_len(line) for line in numbered}) == 1, lines  # right-aligned: one edge


@pytest.mark.parametrize(
    ("joined", "shown"),
    [
        ("👨\u200d👩\u200d👧", "👨👩👧"),  # zero-width joiners
        ("❤\ufe0f", "❤"),  # an emoji presentation selector
        ("✌\ufe0e", "✌"),  # a text presentation selector
        ("👍🏽", "👍"),  # a skin tone
    ],
)
def test_a_cell_with_joined_emoji_is_shown_as_every_terminal_draws_it(
    joined: str, shown: str
) -> None:
    """Found by QA in the tab bar (tmux 3.3): a sequence Rich measures as one glyph and some
    terminals draw as its parts moved the rest of the line. Table cells drop the joiners."""
    lines = aligned([["title", "n"], [f"a {joined} b", "7"], ["plain", "12"]], right={1})
    assert lines[1].startswith(f"a {shown} b")
    assert not any(ch in "".join(lines) for ch in "\u200d\ufe0e\ufe0f\U0001f3fd")
    # Each part is as wide as Rich measures it alone: the counts line up whatever the terminal.
    ends = {sum(cell_len(ch) for ch in line) for line in lines}
    assert len(ends) == 1, lines
