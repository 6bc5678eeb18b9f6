"""The window of a conversation's turns that is mounted: first paint, batches, earlier and
later ones, and showing another branch with the widgets that stay the same kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.message import Message as TMessage
from textual.timer import Timer
from textual.types import NoActiveAppError
from textual.widget import Widget
from textual.widgets import Static

from glmchat.engine import Turn
from glmchat.tui.widgets.message_log import MessageLog

# Only a window of the turns is mounted: every mounted widget costs layout time on every
# frame, so a 1,000-message conversation must not mean 1,000 widgets.
HISTORY_WINDOW = 24
# A resumed conversation first shows only the turns that fill about one and a half screens;
# the rest of the window is mounted above them after the first paint, a few turns at a time,
# while the view stays on the last message.
FIRST_PAINT_SCREENS = 1.5
# The messages of a saved conversation read before its first paint: the end of its branch,
# enough for the window (see SessionReads.get_branch_end); the rest is read right after.
BRANCH_END = 4 * HISTORY_WINDOW
MOUNT_BATCH = 4
MOUNT_PAUSE = 0.015  # seconds between batches: time for a layout and a frame

Groups = Sequence[Sequence[Turn]]


class EarlierMessages(Static):
    """A marker at the top of a long conversation; clicking it mounts more history."""

    @dataclass
    class Clicked(TMessage):
        pass

    def on_click(self) -> None:
        self.post_message(self.Clicked())


class LaterMessages(Static):
    """A marker below a window that does not reach the end of the branch (one opened at an
    earlier message); clicking it mounts the next turns."""

    @dataclass
    class Clicked(TMessage):
        pass

    def on_click(self) -> None:
        self.post_message(self.Clicked())


class HistoryLog(MessageLog):
    """A conversation's message log that mounts only a window of its messages.

    `turns` are the conversation's turns as opened, grouped one message each (a prompt, or a
    whole answer with its tool rounds: see tui/answer_rounds.py). The window is normally the
    last turns (`at_end`): the messages of new turns are then mounted below by whoever adds
    them, and this log only adds older ones above. A branch shown from an earlier message
    (`reset` with `keep`) has a window starting there, and later turns are added below."""

    def __init__(
        self,
        turns: Groups,
        widget_for: Callable[[Sequence[Turn]], Widget],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._turns = turns
        self._widget_for = widget_for
        self._window_start = max(0, len(turns) - HISTORY_WINDOW)
        self._window_end = len(turns)
        self.shown_from = self._first_paint_start()  # index of the first mounted turn
        self.shown_to = len(turns)  # index after the last mounted turn (of those opened)
        self._batches: Timer | None = None
        self._leaving: Widget | None = None  # the selected message of the turns shown before

    @property
    def at_end(self) -> bool:
        """Whether the last turn is mounted: a new turn's message goes below the others."""
        return self.shown_to >= len(self._turns)

    def compose(self) -> ComposeResult:
        if self.shown_from > 0:
            yield EarlierMessages(self._marker_text())
        for turn in self._turns[self.shown_from : self.shown_to]:
            yield self._widget_for(turn)
        if not self.at_end:
            yield LaterMessages(self._later_text())

    def on_mount(self) -> None:
        self.follow()
        self._schedule_batches()

    # --- another branch ------------------------------------------------------------------

    def reset(self, turns: Groups, *, keep: int | None = None) -> Widget | None:
        """Show other turns (another branch of the conversation) in a bounded window; with
        `keep`, the message at that group is mounted at once and shown: in the last
        screenful, in the window of the last turns (the view follows the end); further up,
        at the top of a window that starts at it (later turns are mounted below).
        Mounted messages of groups the new turns share above `keep` stay as they are (a
        widget shows its group while its first turn is the same). Returns the widget of
        `keep`."""
        if keep is not None and not 0 <= keep < len(turns):
            keep = None
        if self._batches is not None:
            self._batches.stop()
            self._batches = None
        self._turns = turns
        count = len(turns)
        self._window_start = max(0, count - HISTORY_WINDOW)
        if keep is not None and keep < self._first_paint_start():
            # Above the last screenful: the window starts at it, so it shows at the top.
            self._window_start = self.shown_from = keep
            self._window_end = min(count, keep + HISTORY_WINDOW)
            self.shown_to = self._first_paint_end(keep)
            kept: list[tuple[int, Widget]] = []
        else:
            self._window_end = self.shown_to = count
            self.shown_from = self._first_paint_start()
            kept = self._reusable(turns, keep)
            if kept:
                self.shown_from = min(self.shown_from, kept[0][0])
        reused = {id(widget) for _, widget in kept}
        going = [c for c in self.children if id(c) not in reused]
        focused = self.screen.focused
        if focused in going and focused is not None:
            # The selected message stays, hidden, until the selection moves to the new one
            # (`settle_focus`): removing it would move the focus to a neighbour first, and
            # every move of the focus restyles the pane and rebuilds the footer's keys.
            going.remove(focused)
            focused.display = False
            self._leaving = focused
        # Unmounted as the new ones are mounted: no two widgets share an id here.
        self.remove_children(going)
        shown = self._mount_around(kept, keep)
        if self.shown_from > 0:
            self.mount(EarlierMessages(self._marker_text()), before=0)
        if not self.at_end:
            self.mount(LaterMessages(self._later_text()))
        if self._window_start == keep:
            self.stop_following()
            self.scroll_to(y=0, animate=False, immediate=True)
        else:
            self.follow()
        self._schedule_batches()
        return shown

    def after_first_paint(self, callback: Callable[[], object], tries: int = 40) -> None:
        """Run `callback` once the log has been laid out and painted (or after `tries`
        looks, in a pane that is not shown)."""
        if self.size.height or tries <= 0:
            self.call_after_refresh(callback)
        else:
            self.set_timer(MOUNT_PAUSE, lambda: self.after_first_paint(callback, tries - 1))

    def rebase(self, turns: Groups) -> None:
        """The same messages, now at the end of more turns (the rest of the conversation was
        read after the first paint): the window keeps its place from the end."""
        offset = len(turns) - len(self._turns)
        if offset <= 0:
            return
        self._turns = turns
        self.shown_from += offset
        self.shown_to += offset
        self._window_end += offset
        self._window_start += offset
        if self._window_end == len(turns):  # the last turns: the window of the last ones
            self._window_start = min(self.shown_from, max(0, len(turns) - HISTORY_WINDOW))
        markers = self.query_children(EarlierMessages)
        if not markers and self.shown_from > 0:
            self.mount(EarlierMessages(self._marker_text()), before=0)
        self._update_marker()
        if self._batches is None:
            self._schedule_batches()

    def selection(self) -> Widget | None:
        """The message of this log that has the focus (the selection), if any."""
        focused = self.screen.focused
        return focused if focused is not None and focused.parent is self else None

    @property
    def settling(self) -> bool:
        """Between `reset` and `settle_focus`: the focus is only passing where it lands."""
        return self._leaving is not None

    def settle_focus(self, shown: Widget | None, instead: Widget | None = None) -> None:
        """After `reset`: select `shown` (if any), then remove the message that was
        selected before. Without `shown`, a selection that had to go leaves the focus to
        `instead` (the prompt box): removed, it would move to a neighbour Textual picks (the
        log's first message), an unrelated one for the keys that act on the selection."""
        leaving, self._leaving = self._leaving, None
        if shown is not None and shown.is_attached and not shown._pruning:  # not reset again
            self.screen.set_focus(shown, scroll_visible=False)
        elif leaving is not None and leaving is self.screen.focused and instead is not None:
            self.screen.set_focus(instead, scroll_visible=False)
        if leaving is not None:
            leaving.remove()

    def _reusable(self, turns: Groups, keep: int | None) -> list[tuple[int, Widget]]:
        """The mounted messages that show groups of `turns` within the window and above
        `keep`, as (group, widget): one run of consecutive groups, in order. A message whose
        version (`‹ 1/2 ›`) changed since it was drawn is not one of them: another glmchat
        added a version of it (found by QA: drawn again, it says so)."""
        end = self.shown_to if keep is None else min(keep, self.shown_to)
        where = {id(turns[g][0]): g for g in range(self._window_start, end)}
        run: list[tuple[int, Widget]] = []
        for child in self.children:
            turn = getattr(child, "turn", None)
            group = where.get(id(turn)) if turn is not None else None
            stale = turn is not None and getattr(child, "versions", None) != turn.siblings
            if group is None or child._pruning or stale:
                if run:
                    break
                continue
            if run and group != run[-1][0] + 1:
                break
            run.append((group, child))
        return run

    def _mount_around(self, kept: list[tuple[int, Widget]], keep: int | None) -> Widget | None:
        """Mount the window's groups that `kept` lacks, above and below it; returns the widget
        of group `keep`."""
        turns = self._turns
        if kept:
            first, last = kept[0][0], kept[-1][0] + 1
        else:
            first = last = self.shown_to
        above = {g: self._widget_for(turns[g]) for g in range(self.shown_from, first)}
        below = {g: self._widget_for(turns[g]) for g in range(last, self.shown_to)}
        if above:
            if kept:
                self.mount_all(above.values(), before=kept[0][1])
            else:
                self.mount_all(above.values())
        if below:
            if kept:
                self.mount_all(below.values(), after=kept[-1][1])
            else:
                self.mount_all(below.values())
        for widgets in (above, below, dict(kept)):
            if keep in widgets:
                return widgets[keep]
        return None

    # --- the first paint, then batches ---------------------------------------------------

    def _first_paint_start(self) -> int:
        """The first turn to mount at once: enough of the last ones to fill the screen."""
        lines, start = 0, len(self._turns)
        while start > self._window_start and lines < self._screenful():
            start -= 1
            lines += _lines(self._turns[start])
        return start

    def _first_paint_end(self, start: int) -> int:
        """The turn after the last to mount at once below `start`: enough to fill the
        screen."""
        lines, end = 0, start
        # One screen, not FIRST_PAINT_SCREENS: what is mounted below the view later moves
        # nothing, so there is no margin to keep.
        while end < self._window_end and lines < self._screenful() / FIRST_PAINT_SCREENS:
            lines += _lines(self._turns[end])
            end += 1
        return end

    def _screenful(self) -> float:
        try:
            screen_lines = self.app.size.height
        except NoActiveAppError:
            screen_lines = 40
        return FIRST_PAINT_SCREENS * screen_lines

    def _schedule_batches(self) -> None:
        if self.shown_from > self._window_start or self.shown_to < self._window_end:
            self._batches = self.set_timer(MOUNT_PAUSE, self._mount_more_history)

    def _mount_more_history(self) -> None:
        """Mount the next few turns of the history window above those shown (or below them,
        in a window that starts at an earlier message)."""
        self._batches = None
        if not self.is_attached:
            return
        if not self.size.height:  # the first turns are not laid out (and shown) yet
            self._schedule_batches()
            return
        if self.shown_to < self._window_end:
            end = min(self._window_end, self.shown_to + MOUNT_BATCH)
            self._mount_below(end)
        elif self.shown_from > self._window_start:
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
        self._schedule_batches()

    def _mount_below(self, end: int) -> None:
        widgets = [self._widget_for(t) for t in self._turns[self.shown_to : end]]
        self.shown_to = end
        markers = self.query_children(LaterMessages)
        if markers:
            self.mount_all(widgets, before=markers.first())
        else:
            self.mount_all(widgets)
        self._update_marker()

    # --- the markers ---------------------------------------------------------------------

    @on(EarlierMessages.Clicked)
    async def show_earlier(self, event: EarlierMessages.Clicked) -> None:
        event.stop()
        marker = self.query_one(EarlierMessages)
        start = max(0, self.shown_from - HISTORY_WINDOW)
        widgets = [self._widget_for(t) for t in self._turns[start : self.shown_from]]
        self.shown_from = self._window_start = start
        await self.mount_all(widgets, after=marker)
        self._update_marker()

    @on(LaterMessages.Clicked)
    def show_later(self, event: LaterMessages.Clicked) -> None:
        event.stop()
        self._window_end = min(len(self._turns), self.shown_to + HISTORY_WINDOW)
        self._mount_below(self._window_end)

    def _update_marker(self) -> None:
        for marker in self.query_children(EarlierMessages):
            if self.shown_from == 0:
                marker.remove()
            else:
                marker.update(self._marker_text())
        for later in self.query_children(LaterMessages):
            if self.at_end:
                later.remove()
            else:
                later.update(self._later_text())

    def _marker_text(self) -> str:
        return f"▲ {self.shown_from} earlier messages (click to show)"

    def _later_text(self) -> str:
        return f"▼ {len(self._turns) - self.shown_to} later messages (click to show)"


def _lines(group: Sequence[Turn]) -> int:
    """About how many lines a message takes (for the first paint: no need to be exact)."""
    lines = 0
    for turn in group:
        content = turn.content
        lines += 2 + content.count("\n") + len(content) // 100
    return lines
