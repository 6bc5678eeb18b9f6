"""A pane's title on its one row, cut to the row's width with `…` as the tab bar cuts a title."""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from glmchat.tui.literal import literal, one_line


class TitleRow(Widget):
    """The title shown as written (never parsed), on one line, cut at the row's width: the cut
    is `one_line`'s, by cells, with no blank before the `…` (Textual's own ellipsis left one
    after a space or before a wide character, found by QA) and joined emoji shown apart."""

    def __init__(self, title: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._title = title

    def show(self, title: str) -> None:
        if title != self._title:
            self._title = title
            self.refresh()  # one row, the same height: a repaint

    def render(self) -> Content:
        return literal(one_line(self._title, max(1, self.content_size.width)))
