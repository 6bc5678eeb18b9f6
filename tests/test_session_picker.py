"""The ctrl+r picker lays conversations out in columns that line up from row to row."""

from __future__ import annotations

import re

from tests.tui_helpers import glm, message, running, screen_lines, seed, wait_until

LONG = "A very long title that goes on and on about sourdough, starters and the feeding of them"


def _seed() -> None:
    seed("aaaa00000001", "Short", [message("user", "hi")], updated="2026-01-10T08:00:00.000Z")
    seed(
        "bbbb00000002",
        LONG,
        [message("user", "hi")] * 12,
        updated="2026-01-11T08:00:00.000Z",
        model="glm-4.5-air",
    )
    seed(
        "cccc00000003",
        "notes [/] x",
        [message("user", "hi")] * 3,
        updated="2026-01-12T08:00:00.000Z",
    )


async def test_picker_columns_line_up_and_a_long_title_is_cut_with_an_ellipsis() -> None:
    _seed()
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Short" in "\n".join(screen_lines(app)), "the picker")
        rows = [line for line in screen_lines(app) if re.search(r"2026-01-1\d \d\d:\d\d", line)]
        assert len(rows) == 3
        newest, long_row, short_row = rows
        assert "notes [/] x" in newest  # literal, in its column
        dates = {row.index("2026-01-1") for row in rows}
        models = {row.index("zai/glm-4.5") for row in rows}
        counts_end = {re.search(r"\d+ msgs?", row).end() for row in rows}  # type: ignore[union-attr]
        titles = {newest.index("notes"), long_row.index("A very"), short_row.index("Short")}
        assert len(dates) == len(models) == len(counts_end) == len(titles) == 1, rows
        assert "1 msg " in short_row and "12 msgs" in long_row and "3 msgs" in newest
        # The long title is cut before the model column, with an ellipsis.
        title_cell = long_row[titles.pop() : models.pop()].rstrip()
        assert title_cell.endswith("…") and LONG.startswith(title_cell[:-1])
        assert "zai/glm-4.5-air" in long_row


async def test_a_narrow_screen_keeps_the_columns_and_shortens_the_titles() -> None:
    _seed()
    async with running(size=(70, 30)) as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Short" in "\n".join(screen_lines(app)), "the picker")
        rows = [line for line in screen_lines(app) if re.search(r"2026-01-1\d \d\d:\d\d", line)]
        assert len(rows) == 3
        assert len({row.index("zai/glm-4.5") for row in rows}) == 1, rows
        assert all(re.search(r"\d+ msgs? ", row) for row in rows), rows
