"""What a frame writes to the terminal: one write, no needless cursor moves (relies on Textual
internals).

Textual's `App._display` writes a frame to its driver in three pieces where the terminal
supports synchronized output (tmux, kitty, WezTerm...): the begin mark, the frame, the end
mark. Each write is a trip through the driver's writer thread (a queue, a wake-up, a system
call): three per frame, some 250 frames a minute of streaming. Joined, the terminal gets the
same bytes in one write.

What it relies on (Textual 8.2.8, checked by tests/test_one_write.py): `App._display(screen,
renderable)` writes only through `self._driver.write(text)`, synchronously, and the driver's
`write` is an instance's method (an attribute set on the instance shadows it); a partial update
is a `ChopsUpdate(chops, spans, chop_ends)` whose `render_segments(console)` is the text written
(`spans`: each dirty row's columns; `chops`: each row's pieces by column; `chop_ends`: where
each piece ends), moving the cursor with CSI row;column H.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rich.console import Console
from textual._compositor import ChopsUpdate

__all__ = ["FramesInOneWrite", "in_one_write", "terse"]


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


class _TerseChopsUpdate(ChopsUpdate):
    """Textual's partial update, without a cursor move where the cursor already is.

    Textual moves the cursor before every piece of a row (Rich builds a `Control` for each):
    a row of a message is four or five pieces side by side (the log's padding, the message's,
    the text, the scrollbar), each written where the last one ended. The terminal gets the same
    cells, in fewer bytes."""

    def render_segments(self, console: Console) -> str:
        sequences: list[str] = []
        append = sequences.append
        chops, chop_ends = self.chops, self.chop_ends
        last_y = self.spans[-1][0]
        at: tuple[int, int] | None = None  # where the cursor is, when known
        for y, x1, x2 in self.spans:
            line, ends = chops[y], chop_ends[y]
            for end, (x, strip) in zip(ends, line.items(), strict=False):
                if strip is None or x > x2 or end <= x1:
                    continue
                if not (x2 > x >= x1 and end <= x2):
                    strip = strip.crop(0, min(end, x2) - x)
                if at != (x, y):
                    append(f"\x1b[{y + 1};{x + 1}H")
                append(strip.render(console))
                at = (x + strip.cell_length, y)
            if y != last_y:
                append("\n")
                at = None
        return "".join(sequences)


def terse(update: Any) -> Any:
    """`update` (a compositor's), writing no cursor move where the cursor already is."""
    if type(update) is ChopsUpdate:
        update.__class__ = _TerseChopsUpdate
    return update
