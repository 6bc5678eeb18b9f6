"""The scrolling message list: follows a growing answer, keeps short chats at the top."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.scrollbar import ScrollBar

from glmchat.tui.compat.row_scrollbar import row_scrollbar
from glmchat.tui.compat.textual_private import SettledBySizing


class MessageLog(SettledBySizing, VerticalScroll):
    """Follows the bottom while the user is there; stays put when they scroll up to read.

    Textual's `anchor()` also bottom-aligns content that is shorter than the view (the
    compositor sets a negative scroll offset), which would leave a chat's first messages
    hanging at the bottom of an empty screen. So the anchor is only set once the content
    overflows, and dropped again if it stops overflowing."""

    DEFAULT_CSS = """
    MessageLog {
        height: 1fr;
        scrollbar-gutter: stable;
    }
    """

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        # Below a streaming answer the thumb moves at every step of its height: repaint only
        # the rows of the bar that changed (compat.row_scrollbar).
        return row_scrollbar(self)

    def follow(self) -> None:
        """Stick to the bottom from now on (until the user scrolls away)."""
        self._follow = True
        self._sync_anchor(self.virtual_size)

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
            self.anchor()
        elif not overflows and self.is_anchored:
            self.anchor(False)
            self.scroll_to(y=0, animate=False, immediate=True)

    def stop_following(self) -> None:
        """Stay where the view is put (a branch shown from an earlier message)."""
        self._follow = False
        if self.is_anchored:
            self.anchor(False)
