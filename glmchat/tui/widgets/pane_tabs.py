"""The conversation panes under their tab bar, one shown at a time, and one rule for focus: it
follows the shown tab, it never chooses it. The panes are children of `PaneTabs` of which only
the shown one is displayed; the bar (tab_bar.py) draws every tab itself."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widget import Widget

from glmchat.tui.widgets.chat_pane import ChatPane
from glmchat.tui.widgets.tab_bar import TabBar


class PaneTabs(Widget):
    """The panes, one shown at a time, under their tab bar. Use `add`, `show`, `close_pane`,
    `set_title` and `set_activity`; a title is shown as written, never parsed."""

    DEFAULT_CSS = """
    PaneTabs {
        layout: vertical;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._panes: dict[str, ChatPane] = {}
        self.active: str | None = None  # the shown pane's id

    def compose(self) -> ComposeResult:
        yield TabBar(self.show, id="tab-bar")

    @property
    def bar(self) -> TabBar:
        return self.query_one(TabBar)

    @property
    def pane_ids(self) -> list[str]:
        """The panes' ids in the order of their tabs."""
        return list(self.bar.order)

    @property
    def active_pane(self) -> ChatPane | None:
        return self._panes.get(self.active) if self.active else None

    def chat_pane(self, pane_id: str) -> ChatPane | None:
        return self._panes.get(pane_id)

    def pane_id(self, pane: ChatPane) -> str | None:
        return pane.id if pane.id in self._panes and self._panes[pane.id] is pane else None

    # --- panes ---------------------------------------------------------------------------

    async def add(self, pane: ChatPane, pane_id: str, *, after: str | None = None) -> None:
        """Mount a pane, hidden, with its tab after `after`'s (else last)."""
        pane.id = pane_id
        pane.display = False
        self._panes[pane_id] = pane
        self.bar.add(pane_id, pane.title, after=after)
        before = self._panes.get(after) if after else None
        following = None
        if before is not None:
            order = self.bar.order
            index = order.index(pane_id)
            following = self._panes.get(order[index + 1]) if index + 1 < len(order) else None
        await (self.mount(pane, before=following) if following else self.mount(pane))

    # Not `remove`: that is Widget.remove(), which Textual calls to remove this widget itself.
    async def close_pane(self, pane_id: str) -> None:
        pane = self._panes.pop(pane_id, None)
        if pane is None:
            return
        instead = self.bar.take_out(pane_id)
        if pane_id == self.active:
            self.active = None
            if instead is not None:
                self.show(instead)  # the focus goes there before this pane goes
        await pane.remove()

    def show(self, pane_id: str) -> None:
        """Show a pane and put the focus in its prompt (or its tool call's question), in the same
        step: a prompt left focused in a pane being hidden would keep the keys."""
        pane = self._panes.get(pane_id)
        if pane is None:
            return
        old = self.active_pane
        self.active = pane_id
        if old is not None and old is not pane:
            old.display = False
        pane.display = True
        self.bar.show(pane_id)
        if pane.is_mounted:
            self.screen.set_focus(pane.focus_target)
            pane.tick()  # a streaming answer's status and titles, not ticked while hidden

    # --- labels --------------------------------------------------------------------------

    def set_title(self, pane_id: str, title: str) -> None:
        self.bar.set_title(pane_id, title)

    def set_activity(self, pane_id: str, state: str) -> None:
        """`state` is "streaming", "approval", "done" or "failed"; an ending seen on screen
        leaves no mark."""
        if state not in ("streaming", "approval") and pane_id == self.active:
            self.bar.set_mark(pane_id, None)
        else:
            self.bar.set_mark(pane_id, {"done": "unseen"}.get(state, state))
