"""Foldable panels that fold without scrolling themselves into view."""

from __future__ import annotations

from typing import Any

from textual.widget import Widget
from textual.widgets import Collapsible

from glmchat.tui.widgets.message_log import MessageLog


class FoldsInPlace(Collapsible):
    """A Collapsible scrolls itself into view after each toggle (after the next refresh, so
    whatever keeps the log at its end runs first), and that scroll releases the log's anchor:
    a log following the newest text stopped following. Folds made by the app, not by a click
    on the title, go through `fold_in_place` and leave the view where it is; so does a click
    on the panel at the end of a following log (the thinking that streams): following keeps
    its newest lines in view, and its top was scrolled to, away from them."""

    _in_place = False

    def fold_in_place(self, collapsed: bool) -> None:
        if self.collapsed != collapsed:
            self._in_place = True
            self.collapsed = collapsed

    def scroll_visible(self, *args: Any, **kwargs: Any) -> None:
        if self._in_place:
            self._in_place = False
            return
        if _ends_a_following_log(self):
            return
        super().scroll_visible(*args, **kwargs)


def _ends_a_following_log(widget: Widget) -> bool:
    """`widget` is the last thing shown in a MessageLog that follows its end."""
    node = widget
    while isinstance(parent := node.parent, Widget):
        siblings = list(parent.children)
        after = siblings[siblings.index(node) + 1 :]
        if any(other.display and other.outer_size.height for other in after):
            return False
        if isinstance(parent, MessageLog):
            return parent.following
        node = parent
    return False
