"""The one module that relies on Textual internals (Textual 8.2.8, pinned in pyproject.toml).

What it relies on, each checked by tests/test_compat.py:

- in a layout, the screen gives every widget its new size through `Widget._size_updated(size,
  virtual_size, container_size, layout=True)`; with `layout=False` it sets `virtual_size`
  without running that reactive's watchers (and so without asking for another layout).
- `Tabs` lays its tabs out in a strip with the id `tabs-scroll` that scrolls horizontally (with
  `scroll_to_center`, not `scroll_visible`: its overflow is hidden).
- a screen's compositor renders the rows the terminal would get (`Screen._compositor.
  render_strips()`, what `App.export_screenshot` draws, which has no text form), and a modal
  screen draws the screens under it from the context variable `textual._context.
  visible_screen_stack`, which the app sets to `App._background_screens` as it paints. Used by
  tests and benchmarks to read the screen as the user sees it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual._context import visible_screen_stack
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Tabs

if TYPE_CHECKING:
    from textual.app import App

__all__ = ["SettledBySizing", "screen_rows", "tabs_scroller"]


def screen_rows(app: App[Any]) -> list[str]:
    """The text of every row of the active screen as it would be painted now: scrolled-off
    and hidden widgets absent, a modal screen over its background."""
    visible_screen_stack.set(app._background_screens)
    return [strip.text for strip in app.screen._compositor.render_strips()]


def tabs_scroller(tabs: Tabs) -> Widget | None:
    """The strip of a mounted `Tabs` that scrolls its tabs sideways, or None if not found."""
    try:
        return tabs.query_one("#tabs-scroll")
    except NoMatches:
        return None


class SettledBySizing:
    """Mixin for a Widget: a new size from a layout does not ask for another layout.

    In a layout, Textual gives every widget its new size through `_size_updated`, which sets
    the reactive `virtual_size` declared with `layout=True`: each change of a widget's size
    asks for a second, full layout of the screen right after the first, which finds nothing
    to change. A streaming answer changes the size of the answer, its message and the log
    at every step of its height, so half of its layouts were these. A widget whose layout
    depends only on its own content (not on its virtual size) can skip them.

    `virtual_size` watchers do not run for these sizes; a widget that needs to follow its size
    overrides `size_settled`, which is called instead.
    """

    def size_settled(self, virtual_size: Size) -> None:
        """Called after every size a layout gives the widget, changed or not."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        changed: bool = super()._size_updated(  # type: ignore[misc]
            size, virtual_size, container_size, layout=False
        )
        self.size_settled(virtual_size)
        return changed
