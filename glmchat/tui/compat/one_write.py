"""A frame reaches the terminal in one write (relies on Textual internals).

Textual's `App._display` writes a frame to its driver in three pieces where the terminal
supports synchronized output (tmux, kitty, WezTerm...): the begin mark, the frame, the end
mark. Each write is a trip through the driver's writer thread (a queue, a wake-up, a system
call): three per frame, some 250 frames a minute of streaming. Joined, the terminal gets the
same bytes in one write.

What it relies on (Textual 8.2.8, checked by tests/test_one_write.py): `App._display(screen,
renderable)` writes only through `self._driver.write(text)`, synchronously, and the driver's
`write` is an instance's method (an attribute set on the instance shadows it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

__all__ = ["FramesInOneWrite", "in_one_write"]


def in_one_write(app: Any, display: Callable[[], None]) -> None:
    """Run `display` (the app's `_display` for one frame) with its driver writes joined."""
    driver = app._driver
    if driver is None or app.is_headless:
        display()
        return
    pieces: list[str] = []
    driver.write = pieces.append
    try:
        display()
    finally:
        del driver.write
        if pieces:
            driver.write("".join(pieces))


class FramesInOneWrite:
    """Mixin for the App: each frame is displayed in one write."""

    def _display(self, screen: Any, renderable: Any) -> None:
        in_one_write(self, partial(super()._display, screen, renderable))  # type: ignore[misc]
