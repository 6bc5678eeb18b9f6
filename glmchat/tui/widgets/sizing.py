"""Layout helpers shared by the chat widgets."""

from __future__ import annotations

from textual.geometry import Size


class SettledBySizing:
    """Mixin: a new size from a layout does not ask for another layout.

    In a layout, Textual gives every widget its new size through `_size_updated`, which sets
    the reactive `virtual_size` declared with `layout=True`: each change of a widget's size
    asks for a second, full layout of the screen right after the first, which finds nothing
    to change. A streaming answer changes the size of the answer, its message and the log
    at every step of its height, so half of its layouts were these. A widget whose layout
    depends only on its own content (not on its virtual size) can skip them.

    `_size_updated` is Textual's (8.2), not public API: tests/test_stream_shape.py counts the
    layouts per height change and fails if an upgrade changes this."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        return super()._size_updated(  # type: ignore[misc,no-any-return]
            size, virtual_size, container_size, layout=False
        )
