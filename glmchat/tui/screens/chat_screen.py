"""The app's main screen: it lists each binding's keys in the order they are configured."""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import ActiveBinding
from textual.screen import Screen
from textual.widget import Widget

from glmchat.tui.compat.textual_private import (
    HeightStepLayouts,
    paint_dirty_rows_only,
    settle_sizes_in_layouts,
)


class ChatScreen(HeightStepLayouts, Screen[None]):
    def __init__(self, key_for: Callable[[str], str], **kwargs: str) -> None:
        """`key_for`: a binding id's configured keys ("ctrl+y,f6"); KeyError for other ids."""
        super().__init__(**kwargs)
        self._key_for = key_for
        # A streamed line dirties one row; every container under it was asked for all of its
        # rows at each frame.
        paint_dirty_rows_only(self)
        # A new widget's first size asked for a second layout of the screen (a new pane, 2 of
        # its 3 layouts); idempotent.
        settle_sizes_in_layouts()

    def set_focus(
        self, widget: Widget | None, scroll_visible: bool = True, from_app_focus: bool = False
    ) -> None:
        """The keys belong to what is on screen: a widget that is not displayed (in a pane in
        the background, a folded panel) never takes the focus, not even for a moment. A
        failed answer in a background pane gave its prompt back with the focus, and keys
        typed in the shown pane meanwhile went there (an Enter sent the failed prompt again)."""
        node = widget
        while node is not None and node is not self:
            if not node.display:
                return
            parent = node.parent
            node = parent if isinstance(parent, Widget) else None
        left = self.focused
        if left is not None and left is not widget and not left.display:
            # The focus leaves a widget just hidden (the selected message a regenerate or a
            # branch replaces): the neighbour Textual gives it to was not the user's choice,
            # and scrolling to it showed the top of the conversation, not the new answer.
            scroll_visible = False
        super().set_focus(widget, scroll_visible, from_app_focus)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        # Textual orders this map by the first widget in the focus chain that binds each key,
        # and the footer and the key panel show an action's keys in the map's order. A key the
        # prompt box binds too (TextArea has f6 and ctrl+y) therefore came in the prompt's
        # order: `copy_answer = "ctrl+y,f6"` was shown as f6. Keep each action where it was
        # and give its keys the order of `[keys]` (or of the default).
        items = list(super().active_bindings.items())
        first_seen: dict[str, int] = {}
        for index, (_, active) in enumerate(items):
            first_seen.setdefault(active.binding.action, index)

        def place(entry: tuple[int, tuple[str, ActiveBinding]]) -> tuple[int, int, int]:
            index, (key, active) = entry
            configured = self._configured(active.binding.id)
            rank = configured.index(key) if key in configured else len(configured)
            return first_seen[active.binding.action], rank, index

        return dict(item for _, item in sorted(enumerate(items), key=place))

    def _configured(self, binding_id: str | None) -> list[str]:
        if binding_id is None:
            return []
        try:
            return self._key_for(binding_id).split(",")
        except KeyError:  # not one of glmchat's bindings
            return []
