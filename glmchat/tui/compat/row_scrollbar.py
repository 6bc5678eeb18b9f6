"""A vertical scrollbar that repaints only the rows that changed (relies on Textual internals).

Textual repaints a scrollbar whole whenever its thumb moves: a render of the bar through Rich
(a Style with mouse actions per kind of row, one Visual, one strip per row), then every row
again through the widget's styles. Below a streaming answer the log's thumb moves at each step
of the answer's height, and that whole repaint (about 2 ms for 33 rows) was the costliest
widget of the frame. Between two positions only the rows from the old thumb to the new one change.

What it relies on (Textual 8.2.8, checked by tests/test_row_scrollbar.py, which compares every
position of the thumb, hovered and grabbed, with Textual's own bar):

- `ScrollBar.render()` returns a `ScrollBarRender` whose `render_bar(size, virtual_size,
  window_size, position, thickness, vertical, back_color, bar_color)` gives one Segment per row
  of a vertical bar (`Segments.segments`), as its `__rich_console__` does with the widget's
  height and width;
- `Widget._render_content()` renders the whole widget into `_render_cache.lines`, which is what
  `Widget.render_line(y)` returns, and a row's strip depends only on its segment, the widget's
  width and its `visual_style`;
- `Widget.vertical_scrollbar` creates the bar, hidden, and starts it with
  `App._start_widget(parent, bar)`; the widget's `_vertical_scrollbar` holds it.
"""

from __future__ import annotations

from math import ceil
from typing import Any

from rich.color import Color
from rich.segment import Segment
from textual.geometry import Region, Size
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["RowScrollBar", "row_scrollbar"]

_MAX_STRIPS = 64  # distinct rows kept: a bar has five kinds (track above/below, thumb, ends)


class RowScrollBar(ScrollBar):
    """A `ScrollBar` whose moves repaint the rows that differ from what is on screen. Each
    kind of row is rendered through Textual once (for a width and style) and then reused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: list[Segment] | None = None  # the bar now, one segment per row
        self._rows_key: tuple[Size, object] | None = None  # what `_rows` was made for
        # The look and thumb of the bar as last painted (see `refresh`), and of `_rows`.
        self._painted: tuple[tuple[object, ...], tuple[int, int] | None] | None = None
        self._rows_state: tuple[tuple[object, ...], tuple[int, int] | None] | None = None
        self._strips: dict[tuple[Segment, object], Strip] = {}

    def _current_rows(self) -> list[Segment] | None:
        """The bar's rows as they should show now (None: not a vertical bar to do by rows)."""
        size = self.size
        key = (size, self.visual_style)
        if self._rows is not None and key == self._rows_key:
            return self._rows
        self._rows = None
        renderable = self.render()
        if not (self.vertical and isinstance(renderable, ScrollBarRender)) or not (
            size.width > 0 and size.height > 0
        ):
            return None
        style = self.app.console.get_style(renderable.style)
        bar = renderable.render_bar(
            size=size.height,
            virtual_size=renderable.virtual_size,
            window_size=renderable.window_size,
            position=renderable.position,
            thickness=size.width,
            vertical=True,
            back_color=style.bgcolor or Color.parse("#555555"),
            bar_color=style.color or Color.parse("bright_magenta"),
        )
        self._rows = list(bar.segments)
        self._rows_key = key
        self._rows_state = (self._look(), self._thumb())
        return self._rows

    def render_line(self, y: int) -> Strip:
        rows = self._current_rows()
        if rows is None or y >= len(rows):
            return super().render_line(y)
        row = rows[y]
        key = (row, self._rows_key)
        strip = self._strips.get(key)
        if strip is None:
            # A kind of row not seen at this width and style: render the bar as Textual does.
            self._render_content()
            strip = self._render_cache.lines[y]
            if len(self._strips) >= _MAX_STRIPS:
                self._strips.clear()
            self._strips[key] = strip
        self._painted = self._rows_state
        return strip

    def _thumb(self) -> tuple[int, int] | None:
        """Where the thumb starts and ends, in eighths of a row, as `ScrollBarRender.render_bar`
        places it (None: no thumb); the rows outside it are track above or below it."""
        size = self.size.height
        virtual_size = ceil(self.window_virtual_size)
        window = self.window_size if self.window_size < self.window_virtual_size else 0
        window_size = ceil(window)
        if not (window_size and size and virtual_size and size != virtual_size):
            return None
        bars = len(ScrollBarRender.VERTICAL_BARS)
        thumb_size = max(1, window_size / (virtual_size / size))
        position = (size - thumb_size) * (self.position / (virtual_size - window_size))
        start = int(position * bars)
        end = start + ceil(thumb_size * bars)
        return max(0, start), max(0, end)

    def _look(self) -> tuple[object, ...]:
        """What else decides every row: the size, the colours (hovered, grabbed)."""
        return (self.size, self.visual_style, self.mouse_over, self.grabbed is not None)

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Any:
        self._rows = None
        if regions or not repaint or layout or recompose or not self.is_mounted:
            return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
        # Called for each of the bar's values a layout sets (size, window, position): only
        # the arithmetic of the thumb here, the bar is rendered once, when it is painted.
        painted, thumb = self._painted, self._thumb()
        if painted is None or thumb is None or painted[1] is None or painted[0] != self._look():
            return super().refresh()
        old = painted[1]
        if old == thumb:
            return self  # the thumb moved less than an eighth of a row
        bars = len(ScrollBarRender.VERTICAL_BARS)
        first = min(old[0], thumb[0]) // bars
        last = min(max(old[1], thumb[1]) // bars, self.size.height - 1)
        if first > last:
            return self
        # Rows between the two thumbs change from track above to track below (or back).
        return super().refresh(Region(0, first, self.size.width, last - first + 1))


def row_scrollbar(widget: Widget) -> ScrollBar:
    """`widget.vertical_scrollbar` made a `RowScrollBar` (what a widget's property returns)."""
    existing: ScrollBar | None = widget._vertical_scrollbar
    if existing is not None:
        return existing
    bar = RowScrollBar(vertical=True, name="vertical", thickness=widget.scrollbar_size_vertical)
    widget._vertical_scrollbar = bar
    bar.display = False
    widget.app._start_widget(widget, bar)
    return bar
