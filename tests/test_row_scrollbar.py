"""The chat log's scrollbar (compat.row_scrollbar): it paints what Textual's paints, and a
move of the thumb repaints only the rows that changed."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.geometry import Region
from textual.scrollbar import ScrollBar
from textual.widgets import Static

from glmchat.tui.compat.row_scrollbar import RowScrollBar, row_scrollbar
from glmchat.tui.widgets.message_log import MessageLog
from tests.tui_helpers import record_drawn_rows


class _RowsLog(VerticalScroll):
    @property
    def vertical_scrollbar(self) -> ScrollBar:
        return row_scrollbar(self)


class _Twins(App[None]):
    """Two logs with the same content side by side: one with Textual's scrollbar."""

    CSS = "VerticalScroll { width: 1fr; height: 1fr; } Static { height: 1; }"

    def compose(self) -> ComposeResult:
        with Horizontal():
            for log in (_RowsLog(id="rows"), VerticalScroll(id="plain")):
                with log:
                    for i in range(120):
                        yield Static(f"line {i}")


def _painted(bar: ScrollBar) -> list[list[Any]]:
    """The bar's rows as the screen gets them (through the widget's styles and caches)."""
    width, height = bar.size
    return [list(strip) for strip in bar.render_lines(Region(0, 0, width, height))]


async def test_the_row_scrollbar_paints_what_textuals_paints_at_every_position() -> None:
    app = _Twins()
    async with app.run_test(size=(60, 20)) as pilot:
        rows, plain = app.query_one("#rows"), app.query_one("#plain")
        ours, theirs = rows.vertical_scrollbar, plain.vertical_scrollbar
        assert type(ours) is RowScrollBar and type(theirs) is ScrollBar
        # Every eighth of a row of thumb travel, both ways, and a jump to each end.
        for y in [*range(0, 40), 101, 0, *range(60, 20, -3), 1000]:
            rows.scroll_to(y=y, animate=False)
            plain.scroll_to(y=y, animate=False)
            await pilot.pause()
            assert ours.position == theirs.position
            assert _painted(ours) == _painted(theirs), y
        # Hovered and grabbed bars have other colours: every row follows.
        for state in ("mouse_over", "grabbed"):
            value: Any = True if state == "mouse_over" else ours.grabbed_position
            setattr(ours, state, value if state == "mouse_over" else (0, 0))
            setattr(theirs, state, value if state == "mouse_over" else (0, 0))
            await pilot.pause()
            assert _painted(ours) == _painted(theirs), state
        # A new height: the bar is laid out again and still matches.
        await pilot.resize_terminal(60, 31)
        await pilot.pause()
        assert _painted(ours) == _painted(theirs)


async def test_a_move_of_the_thumb_repaints_only_the_rows_that_changed() -> None:
    app = _Twins()
    async with app.run_test(size=(60, 20)) as pilot:
        rows = app.query_one("#rows")
        bar = rows.vertical_scrollbar
        rows.scroll_to(y=10, animate=False)
        await pilot.pause()
        asked = record_drawn_rows(bar)
        rows.scroll_to(y=13, animate=False)  # the thumb moves by about a third of a row
        await pilot.pause()
        # The rows the old and new thumb cover (about 4 of 20); Textual repaints all 20.
        assert 0 < len(asked) <= 6, asked
        asked.clear()
        rows.scroll_to(y=13, animate=False)
        await pilot.pause()
        assert asked == []


def test_the_chat_log_uses_the_row_scrollbar() -> None:
    assert MessageLog.vertical_scrollbar.fget is not None  # type: ignore[attr-defined]
    assert "row_scrollbar" in MessageLog.vertical_scrollbar.fget.__code__.co_names  # type: ignore[attr-defined]
