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
