"""Foldable panels that fold without scrolling themselves into view."""

from __future__ import annotations

from typing import Any

from textual.widgets import Collapsible


class FoldsInPlace(Collapsible):
    """A Collapsible scrolls itself into view after each toggle (after the next refresh, so
    whatever keeps the log at its end runs first), and that scroll releases the log's anchor:
    a log following the newest text stopped following. Folds made by the app, not by a click
    on the title, go through `fold_in_place` and leave the view where it is."""

    _in_place = False

    def fold_in_place(self, collapsed: bool) -> None:
        if self.collapsed != collapsed:
            self._in_place = True
            self.collapsed = collapsed

    def scroll_visible(self, *args: Any, **kwargs: Any) -> None:
        if self._in_place:
            self._in_place = False
            return
        super().scroll_visible(*args, **kwargs)
