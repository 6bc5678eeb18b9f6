"""The scrolling message list: follows a growing answer, keeps short chats at the top."""

from __future__ import annotations

from textual import events
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.scrollbar import ScrollBar

from glmchat.tui.compat.keys import routed_to
from glmchat.tui.compat.row_scrollbar import row_scrollbar
from glmchat.tui.compat.textual_private import SettledBySizing
from glmchat.tui.key_order import focus_left, hand_on, hand_on_paste, moves_focus, run_here
from glmchat.tui.widgets.prompt import type_into_prompt


class MessageLog(SettledBySizing, VerticalScroll):
    """Follows the bottom while the user is there; stays put when they scroll up to read.

    Textual's `anchor()` also bottom-aligns content that is shorter than the view (the
    compositor sets a negative scroll offset), which would leave a chat's first messages
    hanging at the bottom of an empty screen. So the anchor is only set once the content
    overflows, and dropped again if it stops overflowing.

    Textual follows again only when a scroll brings the view to the end as the end is when the
    view gets there. While an answer streams the end moves on during the scroll (a page down
    runs after the next refresh): back where they left it, the user's view came to rest a few
    rows short of the new end and never followed again, and a new prompt's answer streamed
    below, out of view. Here a scroll back down to where the view left the end follows again,
    and so does a new answer."""

    # Its own rows (the padding and the gaps between messages) and an answer's (AssistantMessage)
    # are background only. Textual drew them through each widget's line cache: a container's
    # content is rendered whole (every row of its height) whenever its size changes, so each
    # height step of a streaming answer rendered all of its message's rows again, and the rows
    # a step adds went through the cache one by one. Drawn as blank rows, they cost nothing;
    # the cells are the same but for the foreground colour of spaces (tests/test_paint_work.py).
    BLANK = True

    # Text is never typed here, and the user's words must not go nowhere (found as a new
    # user: a click on the log's background or its scrollbar gave it the focus, and what was
    # typed next was lost). A click leaves the focus where it was (the box, or a selected
    # message); with the focus here (tab reaches it, for the scrolling keys), what is typed or
    # pasted goes to the pane's box, which takes the focus.
    FOCUS_ON_CLICK = False

    _released = False  # the user (or a widget brought into view) took the view off the end
    _left_at: float | None = None  # where the view was then, when it was at the end

    DEFAULT_CSS = """
    MessageLog {
        height: 1fr;
        scrollbar-gutter: stable;
    }
    """

    async def on_key(self, event: events.Key) -> None:
        if focus_left(self):
            # Routed here before a key moved the focus: it follows. Not a key that bubbled up
            # from a message, which was that message's where the focus was (found by QA:
            # `alt+up enter x` in one read; the enter, the selected answer's, came up here
            # after the x had taken the focus back to the box, and was handed to the box,
            # which sent).
            if routed_to(event) in (None, self):
                hand_on(self, event)
        elif self.has_focus and event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            type_into_prompt(self, event.character)
        elif self.has_focus and (active := self.screen.active_bindings.get(event.key)):
            if active.enabled and moves_focus(active.binding):  # tab: at once, keys follow
                await run_here(self, event, active)

    def on_paste(self, event: events.Paste) -> None:
        if focus_left(self):
            if routed_to(event) in (None, self):
                hand_on_paste(self, event)
        elif self.has_focus:
            event.stop()
            type_into_prompt(self, event.text)

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        # Below a streaming answer the thumb moves at every step of its height: repaint only
        # the rows of the bar that changed (compat.row_scrollbar).
        return row_scrollbar(self)

    @property
    def following(self) -> bool:
        """The view sticks to the end of the content (it overflows, and the user has not
        scrolled away)."""
        return self.is_anchored and not self._released

    def follow(self) -> None:
        """Stick to the bottom from now on (until the user scrolls away). Other messages were
        drawn: where the view left the end no longer means anything (the end does)."""
        self._follow = True
        self._left_at = None
        self._sync_anchor(self.virtual_size)

    def follow_from_the_end(self) -> None:
        """Follow, from the end, also when the user had scrolled away: a new answer starts."""
        self.follow()
        if self._released:
            self._back_to_the_end()

    def release_anchor(self) -> None:
        if not self._released and self.is_anchored:
            self._released = True
            # Not while nothing is laid out to scroll (just after other messages were drawn):
            # the end there is no place to come back to.
            at_the_end = 0 < self.max_scroll_y <= self.scroll_y + 1
            self._left_at = self.scroll_y if at_the_end else None
        super().release_anchor()
        # Every scroll releases the view first, and only a move down to where it left the end
        # follows again (watch_scroll_y): a page down at the end moves nothing, and the view
        # stopped there while the answer went on below (found by QA). Once the scroll has set
        # where it goes: one that goes there (or stays there) follows on.
        self.call_later(self._back_if_headed_there)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._released and new_value > old_value and new_value >= self._return_point():
            # Not from here: this may be the last step of a scroll's animation, which the
            # animator is still finishing.
            self.call_later(self._back_if_still_there)

    def _return_point(self) -> float:
        end = self.max_scroll_y
        return end if self._left_at is None else min(self._left_at, end)

    def _back_if_headed_there(self) -> None:
        if self._released and self.scroll_target_y >= max(self.scroll_y, self._return_point()):
            self._back_to_the_end()

    def _back_if_still_there(self) -> None:
        if self._released and self.scroll_y >= self._return_point():
            self._back_to_the_end()

    def _back_to_the_end(self) -> None:
        self._released = False
        self._left_at = None
        if self.is_anchored:
            # Textual's scroll_end also takes the anchor back (it was only released).
            self.scroll_end(animate=False, immediate=True)

    def size_settled(self, virtual_size: Size) -> None:
        # A layout sets the virtual size without its watcher (see SettledBySizing).
        self._sync_anchor(virtual_size)

    def watch_virtual_size(self, size: Size) -> None:
        self._sync_anchor(size)

    def _sync_anchor(self, size: Size) -> None:
        if not getattr(self, "_follow", False):
            return
        overflows = size.height > self.scrollable_content_region.height
        if overflows and not self.is_anchored:
            self._released = False
            self._left_at = None
            self.anchor()
        elif not overflows and self.is_anchored:
            self.anchor(False)
            self.scroll_to(y=0, animate=False, immediate=True)

    def stop_following(self) -> None:
        """Stay where the view is put (a branch shown from an earlier message)."""
        self._follow = False
        self._released = False
        self._left_at = None
        if self.is_anchored:
            self.anchor(False)
