"""A frame reaches the terminal in one write (compat.one_write), as the same bytes."""

from __future__ import annotations

import inspect
from typing import Any

from textual.app import App

from glmchat.tui.app import GlmChatApp
from glmchat.tui.compat.one_write import FramesInOneWrite, in_one_write


class _Driver:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, data: str) -> None:
        self.writes.append(data)


class _App:
    def __init__(self, headless: bool = False) -> None:
        self._driver = _Driver()
        self.is_headless = headless


def test_a_frames_writes_are_joined_into_one() -> None:
    app = _App()

    def display() -> None:  # what Textual's _display does with synchronized output
        app._driver.write("\x1b[?2026h")
        app._driver.write("the frame")
        app._driver.write("\x1b[?2026l")

    in_one_write(app, display)
    assert app._driver.writes == ["\x1b[?2026hthe frame\x1b[?2026l"]
    app._driver.write("after")  # the driver's own write is back
    assert app._driver.writes[-1] == "after"


def test_what_was_written_before_a_failure_still_goes_out() -> None:
    app = _App()

    def display() -> None:
        app._driver.write("begin")
        raise RuntimeError("render failed")

    try:
        in_one_write(app, display)
    except RuntimeError:
        pass
    assert app._driver.writes == ["begin"]
    assert "write" not in vars(app._driver)


def test_headless_or_driverless_apps_display_as_they_are() -> None:
    called: list[bool] = []
    app = _App(headless=True)
    in_one_write(app, lambda: called.append(True))
    assert called == [True] and "write" not in vars(app._driver)


def test_textual_displays_through_its_drivers_write_alone() -> None:
    """Tripwire: what in_one_write relies on in App._display and _begin/_end_update."""
    source = inspect.getsource(App._display)
    begin, end = inspect.getsource(App._begin_update), inspect.getsource(App._end_update)
    assert "self._driver.write(" in source and "self._driver.write(SYNC_START)" in begin
    assert "self._driver.write(SYNC_END)" in end
    assert "await" not in source  # synchronous: no other write can come in between
    assert issubclass(GlmChatApp, FramesInOneWrite)
    assert GlmChatApp._display is FramesInOneWrite._display


def test_a_real_frame_through_the_app_is_one_write() -> None:
    """The app's _display, as the frame timer calls it, with a recording driver."""
    app: Any = GlmChatApp.__new__(GlmChatApp)
    driver = _Driver()
    seen: list[Any] = []

    def textual_display(self: Any, screen: Any, renderable: Any) -> None:
        self._driver.write("a")
        self._driver.write("b")
        seen.append((screen, renderable))

    original = App._display
    App._display = textual_display  # type: ignore[method-assign]
    try:
        app._driver = driver
        type(app).is_headless = property(lambda self: False)  # type: ignore[assignment]
        try:
            GlmChatApp._display(app, "screen", "update")
        finally:
            del type(app).is_headless
    finally:
        App._display = original  # type: ignore[method-assign]
    assert driver.writes == ["ab"] and seen == [("screen", "update")]


class _Screen:
    """Cells after raw terminal output: CSI row;col H moves, LF goes down, SGR sets the style."""

    def __init__(self, width: int, height: int) -> None:
        self.cells = [[("", "")] * width for _ in range(height)]

    def apply(self, data: str) -> None:
        import re

        from rich.cells import cell_len

        x = y = 0
        style = ""
        for match in re.finditer(r"\x1b\[([0-9;]*)([A-Za-z])|\n|[^\x1b\n]", data):
            text = match.group(0)
            if text == "\n":
                y += 1
            elif match.group(2) == "H":
                row, col = match.group(1).split(";")
                y, x = int(row) - 1, int(col) - 1
            elif match.group(2) == "m":
                style = match.group(1)
            elif match.group(2) is None:
                width = cell_len(text)  # a wide character takes two cells, as in a terminal
                self.cells[y][x : x + width] = [(text, style)] + [("", style)] * (width - 1)
                x += width


async def test_a_partial_update_writes_the_same_cells_with_fewer_moves() -> None:
    from textual._compositor import ChopsUpdate
    from textual.app import ComposeResult
    from textual.containers import VerticalScroll
    from textual.geometry import Region
    from textual.screen import Screen
    from textual.widgets import Static

    from glmchat.tui.compat.textual_private import paint_dirty_rows_only

    class Boxes(App[None]):
        CSS = """
        VerticalScroll { border: round red; padding: 0 2; }
        Static { border: solid green; padding: 0 1; height: 3; }
        #bar { dock: bottom; height: 1; }
        """

        def get_default_screen(self) -> Screen[None]:
            screen: Screen[None] = Screen()
            paint_dirty_rows_only(screen)
            return screen

        def compose(self) -> ComposeResult:
            with VerticalScroll():
                for i in range(12):
                    yield Static(f"item {i} ✓ 日本 " * 2)
            yield Static("the bar", id="bar")

    app = Boxes()
    async with app.run_test(size=(50, 16)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        console = app.console
        for areas in (
            [Region(0, 3, 50, 1)],  # a whole row: border, padding, item, scrollbar
            [Region(0, 2, 50, 6)],
            [Region(5, 4, 12, 2), Region(0, 15, 50, 1)],  # part of rows, and the bar
            [Region(30, 1, 30, 3)],  # past the right edge
        ):
            compositor._dirty_regions.update(areas)
            update = compositor.render_update()
            assert update is not None and type(update) is not ChopsUpdate
            ours = update.render_segments(console)
            theirs = ChopsUpdate.render_segments(update, console)
            mine, textuals = _Screen(50, 16), _Screen(50, 16)
            mine.apply(ours)
            textuals.apply(theirs)
            assert mine.cells == textuals.cells, areas
            assert len(ours) <= len(theirs)
            if areas[0].width == 50:  # whole rows: pieces side by side, one move a row
                assert ours.count("\x1b[") < theirs.count("\x1b["), (ours, theirs)
