"""The ctrl+r picker lays conversations out in columns that line up from row to row."""

from __future__ import annotations

import re
from functools import partial

import pytest
from rich.cells import cell_len
from textual.widgets import Input

from glmchat.store import SNIPPET_END, SNIPPET_START
from glmchat.tui.app import GlmChatApp
from tests.tui_helpers import glm, message, running, screen_lines, screen_text, seed, wait_until

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


# A search hit's snippet is cut around the hit to the width it is drawn at (found by QA: it was cut
# from its start, so a hit near the end of a long message did not show), and spans its row to the
# row's end (found by QA: drawn in the title's column, at 60x20 the hit itself was cut to
# `…«mi…` with ~24 blank cells beside it).
FILL = " ".join(["marmotword flows slowly onward"] * 30)
CJK_FILL = "中文标题" * 40
HITS = {  # title: (search word, the long answer it is in)
    "start": ("headwordstart", "headwordstart " + FILL),
    "middle": ("midwordcentre", f"{FILL} midwordcentre {FILL}"),
    "end": ("tailwordend", f"{FILL} tailwordend"),
    "cjk": ("目标词", f"{CJK_FILL}目标词{CJK_FILL}"),
}
SIZES = [(40, 20), (60, 20), (80, 24), (120, 40), (200, 50)]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_a_snippet_shows_its_hit_wherever_it_is_and_uses_its_row(
    size: tuple[int, int],
) -> None:
    for n, (title, (_, text)) in enumerate(HITS.items()):
        seed(f"hit{n:09d}", title, [message("user", "q"), message("assistant", text, position=1)])
    async with running(size=size) as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "cjk" in screen_text(app), "the picker")
        for title, (word, _) in HITS.items():
            app.screen.query_one("#search", Input).value = word
            await wait_until(pilot, partial(_snippet, app, title), f"{title}'s snippet")
            shown, blank, width, indent = _snippet(app, title) or ("", 0, 0, 0)
            assert f"{SNIPPET_START}{word}{SNIPPET_END}" in shown, (shown, size)
            # context where the message has some, "…" where it is cut
            assert shown.startswith(SNIPPET_START if title == "start" else "…"), shown
            assert shown.endswith(SNIPPET_END if title == "end" else "…"), shown
            # cut to the row's width, not a column's: left blank at most a space dropped where
            # the cut is and the cell a wide character would straddle
            assert 0 <= blank <= 2, (shown, blank, size)
            # under the title when that leaves it room, else from the row's start
            assert indent == (18 if width >= 18 + 24 else 0), (indent, width)


def _snippet(app: GlmChatApp, title: str) -> tuple[str, int, int, int] | None:
    """The snippet under `title`'s row as shown, the cells left blank after it on its line, the
    row's width and the snippet's indent (in cells)."""
    lines = screen_lines(app)
    for n, row in enumerate(lines[:-1]):
        found = re.search(rf"(\d{{4}}-)?\d\d-\d\d \d\d:\d\d  {title}\b", row)
        if found and SNIPPET_START in lines[n + 1]:
            start = found.start()  # the row's first cell: the date's (its year gone at 40)
            # the cells before the row are one each: the dialog's and the list's edges
            width = cell_len(row[start:].split("▎")[0])
            line = lines[n + 1][start:].split("▎")[0]
            shown = line.strip()
            indent = len(line) - len(line.lstrip())
            return shown, width - cell_len(line.rstrip()), width, indent
    return None


@pytest.mark.parametrize("size", [(40, 20), (60, 20)], ids=["40", "60"])
async def test_a_narrow_picker_gives_the_title_room_before_the_model_and_count(
    size: tuple[int, int],
) -> None:
    """The title keeps a dozen cells: the model column gives way first, then the count (at 40
    columns the fixed columns were wider than the row and the title was not shown at all)."""
    _seed()
    async with running(size=size) as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Short" in screen_text(app), "the picker")
        long_row = next(row for row in screen_lines(app) if "A very" in row)
        assert re.search(r"01-11 08:00  A very", long_row), long_row
        title = re.search(r"A very[^▎]*?…", long_row)
        assert title and cell_len(title.group()) >= 12, long_row
        assert "notes [/] x" in screen_text(app)


async def test_text_typed_or_pasted_on_the_list_goes_to_the_search() -> None:
    """The list has no use for text: typed with the focus on it (after the down key), it
    was lost. It is added to the search (a burst in order, a paste's first line), and the
    list's own keys still work there."""
    from textual import events
    from textual.widgets import OptionList

    _seed()
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Short" in "\n".join(screen_lines(app)), "the picker")
        search, rows = app.screen.query_one("#search", Input), app.screen.query_one(OptionList)
        await pilot.press("down")
        assert app.focused is rows
        await pilot.press(*"no")
        for character in "tes":  # one read's keys, all routed to the list first
            app.post_message(events.Key(character, character))
        await pilot.pause()
        assert search.value == "notes" and search.has_focus
        await wait_until(pilot, lambda: rows.option_count == 1, "the search's one hit")
        await pilot.press("down")
        assert app.focused is rows
        app.post_message(events.Paste(" [/]\nsecond line"))
        await pilot.pause()
        assert search.value == "notes [/]" and search.has_focus
        await pilot.press("down", "enter")  # picked from the list
        await wait_until(pilot, lambda: "notes [/] x" in screen_lines(app)[0], "its tab")
