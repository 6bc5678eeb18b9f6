"""The window of a conversation's turns that is mounted: first paint, batches, earlier ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.message import Message as TMessage
from textual.types import NoActiveAppError
from textual.widget import Widget
from textual.widgets import Static

from glmchat.engine import Turn
from glmchat.tui.widgets.message_log import MessageLog

# Only the most recent turns are mounted: every mounted widget costs layout time on every
# frame, so a 1,000-message conversation must not mean 1,000 widgets.
HISTORY_WINDOW = 24
# A resumed conversation first shows only the turns that fill about one and a half screens;
# the rest of the window is mounted above them after the first paint, a few turns at a time,
# while the view stays on the last message.
FIRST_PAINT_SCREENS = 1.5
MOUNT_BATCH = 4
MOUNT_PAUSE = 0.015  # seconds between batches: time for a layout and a frame


class EarlierMessages(Static):
    """A marker at the top of a long conversation; clicking it mounts more history."""

    @dataclass
    class Clicked(TMessage):
        pass

    def on_click(self) -> None:
        self.post_message(self.Clicked())


class HistoryLog(MessageLog):
    """A conversation's message log that mounts only a window of its messages.

    `turns` are the conversation's turns as opened, grouped one message each (a prompt, or a
    whole answer with its tool rounds: see tui/answer_rounds.py); the messages of new turns are
    mounted by whoever adds them, and this log only adds the older ones above."""

    def __init__(
        self,
        turns: Sequence[Sequence[Turn]],
        widget_for: Callable[[Sequence[Turn]], Widget],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._turns = turns
        self._widget_for = widget_for
        self._window_start = max(0, len(turns) - HISTORY_WINDOW)
        self.shown_from = self._first_paint_start()  # index of the first mounted turn

    def compose(self) -> ComposeResult:
        if self.shown_from > 0:
            yield EarlierMessages(self._marker_text())
        for turn in self._turns[self.shown_from :]:
            yield self._widget_for(turn)

    def reset(self, turns: Sequence[Sequence[Turn]], *, keep: int | None = None) -> Widget | None:
        """Show other turns (another branch of the conversation): the same bounded window over
        them, and the message at group `keep` mounted at once if it is within twice the window
        from the end (further up, the window would not be bounded: the end is shown). Returns
        that message's widget, if mounted."""
        self._turns = turns
        self._window_start = max(0, len(turns) - HISTORY_WINDOW)
        self.shown_from = self._first_paint_start()
        if keep is not None and not 0 <= len(turns) - keep <= 2 * HISTORY_WINDOW:
            keep = None
        if keep is not None:
            self._window_start = min(self._window_start, keep)
            self.shown_from = min(self.shown_from, keep)
        # Unmounted as the new ones are mounted: no two widgets share an id here.
        self.remove_children()
        widgets = [self._widget_for(turn) for turn in turns[self.shown_from :]]
        if self.shown_from > 0:
            self.mount(EarlierMessages(self._marker_text()))
        self.mount_all(widgets)
        if self.shown_from > self._window_start:
            self.set_timer(MOUNT_PAUSE, self._mount_more_history)
        self.follow()
        if keep is None or keep < self.shown_from:
            return None
        return widgets[keep - self.shown_from]

    def on_mount(self) -> None:
        self.follow()
        if self.shown_from > self._window_start:
            self.set_timer(MOUNT_PAUSE, self._mount_more_history)

    def _first_paint_start(self) -> int:
        """The first turn to mount at once: enough of the last ones to fill the screen."""
        try:
            screen_lines = self.app.size.height
        except NoActiveAppError:
            screen_lines = 40
        lines = 0
        turns = self._turns
        start = len(turns)
        while start > self._window_start and lines < FIRST_PAINT_SCREENS * screen_lines:
            start -= 1
            for turn in turns[start]:
                content = turn.content
                lines += 2 + content.count("\n") + len(content) // 100
        return start

    def _mount_more_history(self) -> None:
        """Mount the next few turns of the history window above those shown."""
        if self.shown_from <= self._window_start or not self.is_attached:
            return
        if not self.size.height:  # the first turns are not laid out (and shown) yet
            self.set_timer(MOUNT_PAUSE, self._mount_more_history)
            return
        start = max(self._window_start, self.shown_from - MOUNT_BATCH)
        widgets = [self._widget_for(t) for t in self._turns[start : self.shown_from]]
        self.shown_from = start
        markers = self.query_children(EarlierMessages)
        if markers:
            self.mount_all(widgets, after=markers.first())
        else:
            self.mount_all(widgets, before=0)
        self._update_marker()
        # A timer, not call_after_refresh: that runs before the layout the mount asks for, so
        # every batch would end up in one long layout.
        self.set_timer(MOUNT_PAUSE, self._mount_more_history)

    @on(EarlierMessages.Clicked)
    async def show_earlier(self, event: EarlierMessages.Clicked) -> None:
        event.stop()
        marker = self.query_one(EarlierMessages)
        start = max(0, self.shown_from - HISTORY_WINDOW)
        widgets = [self._widget_for(t) for t in self._turns[start : self.shown_from]]
        self.shown_from = self._window_start = start
        await self.mount_all(widgets, after=marker)
        self._update_marker()

    def _update_marker(self) -> None:
        for marker in self.query_children(EarlierMessages):
            if self.shown_from == 0:
                marker.remove()
            else:
                marker.update(self._marker_text())

    def _marker_text(self) -> str:
        return f"▲ {self.shown_from} earlier messages (click to show)"
