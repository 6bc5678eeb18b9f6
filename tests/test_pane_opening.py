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
from textual.widgets import Static, TabPane

from glmchat.tui.compat.textual_private import (
    HeightStepLayouts,
    paint_dirty_rows_only,
    settle_sizes_in_layouts,
)
from glmchat.tui.widgets.pane_tabs import OverflowHint
from tests.tui_helpers import active, glm, running, screen_lines


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


async def test_overflow_hints_are_rewritten_only_when_their_counts_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(size=(80, 24)) as pilot:
        app = glm(pilot)
        for i in range(8):
            await app.open_pane()
            active(pilot).rename(f"conversation number {i}")
        await settle(pilot)
        assert "‹" in screen_lines(app)[0]  # the bar overflows
        # A background stream marks its tab (a relabel, after which the tabs out of view are
        # counted again); each next relabel of the same tabs leaves the counts as they are.
        tab_ids = [pane.parent.id for pane in app.panes[:3] if isinstance(pane.parent, TabPane)]
        for tab_id in tab_ids:
            app.tabs.set_activity(tab_id or "", "streaming")
        await settle(pilot)
        updates: list[OverflowHint] = []
        show = OverflowHint.show

        def counted(self: OverflowHint, text: str) -> None:
            updates.append(self)
            show(self, text)

        monkeypatch.setattr(OverflowHint, "show", counted)
        for tab_id in tab_ids:
            app.tabs.set_activity(tab_id or "", "streaming")
            await settle(pilot)
        assert updates == []
        await app.open_pane()  # one more tab out of view: the count changes, and shows
        await settle(pilot)
        assert updates
        top = screen_lines(app)[0]
        assert "‹ " in top, top


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
