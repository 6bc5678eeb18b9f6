"""Opening a pane costs a bounded number of whole-screen layouts (the new pane and its tab are
mounted and shown in one batch), and the tab bar's overflow hints are rewritten only when what
they say changes. Counts, never wall time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from glmchat.tui.compat.textual_private import (
    HeightStepLayouts,
    paint_dirty_rows_only,
    settle_sizes_in_layouts,
)
from tests.tui_helpers import active, glm, record_drawn_rows, running, screen_lines


@contextmanager
def counted_layouts() -> Iterator[list[int]]:
    """Whole-screen layouts done meanwhile (by any screen)."""
    count = [0]
    real = Screen._refresh_layout

    def counting(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
        count[0] += 1
        real(self, *args, **kwargs)

    Screen._refresh_layout = counting  # type: ignore[method-assign]
    try:
        yield count
    finally:
        Screen._refresh_layout = real  # type: ignore[method-assign]


async def settle(pilot: Any) -> None:
    for _ in range(4):
        await pilot.pause(0.05)


@pytest.mark.parametrize("panes_before", [1, 4])
async def test_opening_a_pane_lays_out_the_screen_once(panes_before: int) -> None:
    async with running() as pilot:
        app = glm(pilot)
        for _ in range(panes_before - 1):
            await app.open_pane()
        await settle(pilot)
        with counted_layouts() as layouts:
            await pilot.press("ctrl+n")
            await settle(pilot)
        # The pane and its tab, mounted and shown together. Mounted piece by piece, each piece
        # was a layout of its own; and the sizes that layout gave the new widgets asked for a
        # second one (settle_sizes_in_layouts).
        assert layouts[0] == 1
        assert len(app.panes) == panes_before + 1
        assert active(pilot) is app.panes[-1] and active(pilot).prompt.has_focus


async def test_the_tab_bar_is_drawn_again_only_when_what_it_shows_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A background stream marks its tab; the same mark again, or a title as it was, draws
    nothing; one more tab out of view changes the count, which shows."""
    async with running(size=(80, 24)) as pilot:
        app = glm(pilot)
        for i in range(8):
            await app.open_pane()
            active(pilot).rename(f"conversation number {i}")
        await settle(pilot)
        assert "‹" in screen_lines(app)[0]  # the bar overflows
        tab_ids = [app.tabs.pane_id(pane) or "" for pane in app.panes[:3]]
        for tab_id in tab_ids:
            app.tabs.set_activity(tab_id, "streaming")
        await settle(pilot)
        drawn = record_drawn_rows(app.tabs.bar)
        for tab_id, pane in zip(tab_ids, app.panes, strict=False):
            app.tabs.set_activity(tab_id, "streaming")
            app.tabs.set_title(tab_id, pane.title)
            await settle(pilot)
        assert drawn == []
        before = screen_lines(app)[0]
        await app.open_pane()  # one more tab out of view: the count changes, and shows
        await settle(pilot)
        assert drawn
        top = screen_lines(app)[0]
        assert "● ‹ " in top and top != before, top


class _Screen(HeightStepLayouts, Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        paint_dirty_rows_only(self)
        settle_sizes_in_layouts()


class _Boxes(App[None]):
    def get_default_screen(self) -> Screen[None]:
        return _Screen()

    def compose(self) -> ComposeResult:
        yield Vertical(id="plain")
        yield VerticalScroll(id="box")


async def test_a_new_widget_is_laid_out_once_and_a_scrolling_one_makes_room_for_its_bar() -> None:
    """What a pane's single layout rests on (settle_sizes_in_layouts): the size a layout gives a
    widget that cannot scroll asks for no second layout; and a container that starts to
    scroll still shows its bar, its content making room for it."""
    app = _Boxes()
    async with app.run_test(size=(40, 12)) as pilot:
        await settle(pilot)
        box = app.query_one("#box", VerticalScroll)
        box.styles.height = 5
        await settle(pilot)
        with counted_layouts() as layouts:
            await app.query_one("#plain").mount(Static("a new line of text"))
            await settle(pilot)
        assert layouts[0] == 1
        await box.mount_all(Static(f"line {n}") for n in range(12))
        await settle(pilot)
        assert box.show_vertical_scrollbar and box.max_scroll_y > 0
        bar = box.styles.scrollbar_size_vertical
        assert bar > 0
        assert {line.size.width for line in box.query(Static)} == {box.size.width - bar}
