"""The tab bar of conversation panes: literal titles, activity marks, hints for tabs out of view,
and one rule for focus: it follows the shown tab, it never chooses it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Tab, TabbedContent, TabPane, Tabs

from glmchat.tui.compat.textual_private import (
    relabel_without_animation,
    still_underline,
    tabs_scroller,
)
from glmchat.tui.literal import literal, one_line
from glmchat.tui.widgets.chat_pane import ChatPane

TITLE_WIDTH = 25

# What a tab shows before its title. "unseen" and "failed" are cleared when the tab is shown;
# "streaming" lasts as long as the answer does, "approval" until its tool call is answered.
MARKS: dict[str, tuple[str, str]] = {
    "streaming": ("●", "bold $text-warning"),
    "approval": ("?", "bold $text-error"),
    "unseen": ("✓", "bold $text-success"),
    "failed": ("✗", "bold $text-error"),
}
MARK_ORDER = ["approval", "failed", "unseen", "streaming"]  # what a hidden tab out of view shows
HINT_WIDTH = 8  # cells of an overflow hint (`? ‹ 12` and its padding)
# On a bar narrower than this, the hints are `?‹2` with no padding: two of full width left the
# shown tab 8 cells or none (found by QA at 16-24 columns).
COMPACT_BELOW = 40
COMPACT_HINT_WIDTH = 4


def tab_label(title: str, mark: str | None = None) -> Content:
    text = literal(one_line(title, TITLE_WIDTH))
    if mark is None:
        return text
    glyph, style = MARKS[mark]
    return Content.assemble((glyph, style), " ", text)


class PaneTabs(TabbedContent):
    """Tabs of ChatPanes. Use `add`, `show`, `set_title` and `set_activity`; the labels they
    build are literal text, so a title like `notes [/] x` is shown, never parsed."""

    DEFAULT_CSS = """
    PaneTabs {
        layers: base overlay;
    }
    PaneTabs > OverflowHint {
        layer: overlay;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-accent;
        text-style: bold;
        display: none;
    }
    PaneTabs Tab.-out-of-view { text-opacity: 0%; }
    PaneTabs > #tabs-before { dock: left; }
    PaneTabs > #tabs-after { dock: right; content-align-horizontal: right; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._titles: dict[str, str] = {}
        self._marks: dict[str, str] = {}
        self._scroller: Widget | None = None
        # What each overflow hint shows: its count ("" hidden) and a mark of a tab it counts.
        self._hints: dict[str, tuple[str, str | None]] = {}
        self._laid_out: tuple[float, int, int, int] = (-1.0, -1, -1, -1)  # when last counted
        self._tab_ends: tuple[Widget, Widget] | None = None  # the first and last tab then

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield OverflowHint(id="tabs-before")
        yield OverflowHint(id="tabs-after")

    def on_mount(self) -> None:
        # The tab bar takes no focus (a click on a tab focused it, and typing went nowhere):
        # the keys move between tabs, and focus stays in the shown pane's prompt.
        tabs = self.query_one(Tabs)
        tabs.can_focus = False
        still_underline(tabs)  # no 18-frame slide per new pane or switch
        # The tabs' scrolling strip: it scrolls (animated) when a tab is shown, and grows when
        # a tab is added or a title changes, after the layout that follows.
        self._scroller = tabs_scroller(tabs)
        if self._scroller is not None:
            self.watch(self._scroller, "scroll_x", self._overflow_later, init=False)
            self.watch(self._scroller, "virtual_size", self._overflow_later, init=False)
        # After every layout of the screen: a tab closed, opened or relabelled moves the others
        # in the layout that follows, which none of the above may announce (Textual sets the
        # strip's size without its watchers in some layouts, and a callback "after the
        # refresh" can run before that layout). O(1) unless the strip moved.
        self.screen.screen_layout_refresh_signal.subscribe(self, self._after_layout, immediate=True)

    # --- panes ---------------------------------------------------------------------------

    # The overflow hints are counted once the tab is in (or out of) the bar: counted before,
    # they were left stale where nothing else changed afterwards (closing tabs while others
    # stream left `‹ 2` over a bar with one tab cut off). The strip's size does not tell:
    # Textual sets it without its watchers in some layouts.
    async def add(self, pane: ChatPane, pane_id: str, *, after: str | None = None) -> None:
        self._titles[pane_id] = pane.title
        tab = TabPane(tab_label(pane.title), pane, id=pane_id)
        await (self.add_pane(tab, after=after) if after else self.add_pane(tab))
        self._overflow_later()

    # Not `remove`: that is Widget.remove(), which Textual calls to remove this widget itself.
    async def close_pane(self, pane_id: str) -> None:
        self._titles.pop(pane_id, None)
        self._marks.pop(pane_id, None)
        await self.remove_pane(pane_id)
        self._overflow_later()

    def show(self, pane_id: str) -> None:
        """Show a pane and put the focus in its prompt (or its tool call's question), in the same
        step: a prompt left focused in the pane being hidden would pull its pane back (see
        `stray_focus`)."""
        self.active = pane_id
        self._focus_shown()

    def chat_pane(self, pane_id: str) -> ChatPane | None:
        try:
            return self.get_pane(pane_id).query_one(ChatPane)
        except NoMatches:
            return None

    def _focus_shown(self) -> None:
        pane = self.chat_pane(self.active) if self.active else None
        if pane is not None and pane.is_mounted:
            self.screen.set_focus(pane.focus_target)

    # --- labels --------------------------------------------------------------------------

    def set_title(self, pane_id: str, title: str) -> None:
        self._titles[pane_id] = title
        self._relabel(pane_id)

    def set_activity(self, pane_id: str, state: str) -> None:
        """`state` is "streaming", "approval", "done" or "failed"; an ending seen on screen
        leaves no mark."""
        if state not in ("streaming", "approval") and pane_id == self.active:
            self._marks.pop(pane_id, None)
        else:
            self._marks[pane_id] = {"done": "unseen"}.get(state, state)
        self._relabel(pane_id)

    def _relabel(self, pane_id: str) -> None:
        try:
            tab = self.get_tab(pane_id)
        except (NoMatches, ValueError):
            return
        label = tab_label(self._titles.get(pane_id, ""), self._marks.get(pane_id))
        relabel_without_animation(tab, label)
        self._overflow_later()

    # --- focus follows the shown tab -----------------------------------------------------

    @on(TabbedContent.TabActivated)
    def shown(self, event: TabbedContent.TabActivated) -> None:
        pane_id = event.pane.id
        if event.tabbed_content is not self or pane_id != self.active:
            return  # a stale event: another switch came after it
        if self._marks.get(pane_id or "") in ("unseen", "failed"):
            self._marks.pop(pane_id or "")
            self._relabel(pane_id or "")
        self._focus_shown()
        self._overflow_later()
        pane = self.chat_pane(pane_id or "")
        if pane is not None:
            pane.tick()  # a streaming answer's status and titles, not ticked while hidden

    @on(TabPane.Focused)
    def stray_focus(self, event: TabPane.Focused) -> None:
        """TabbedContent shows whichever pane takes the focus. Focus lands in a hidden pane when
        its focused prompt is hidden (Textual moves the focus to a sibling) or when a deferred
        focus() arrives after a switch; each such landing switched back, and each switch caused
        another: under key repeat the tabs flipped without end. Here focus never switches."""
        if event.tab_pane.id == self.active:
            return  # the default handler finds nothing to change
        event.prevent_default()
        event.stop()
        self._focus_shown()

    # --- tabs out of view ----------------------------------------------------------------

    def on_resize(self) -> None:
        self._overflow_later()

    def _after_layout(self, _screen: object) -> None:
        scroller = self._scroller
        if scroller is None or not self._tab_ends:
            return
        first, last = self._tab_ends
        # The tabs' own places too: they can settle a layout after the strip's size does.
        laid_out = (scroller.scroll_x, scroller.virtual_size.width, first.region.x, last.region.x)
        if laid_out != self._laid_out:
            self._laid_out = laid_out
            self._show_overflow()

    def _overflow_later(self, *_: object) -> None:
        if self.is_mounted:
            self.call_after_refresh(self._show_overflow)

    def _show_overflow(self) -> None:
        """Keep the shown tab in view, and count the tabs cut off on each side of the bar, shown
        as `‹ 3` and `2 ›`."""
        try:
            tabs = self.query_one(Tabs)
        except NoMatches:
            return
        bar = tabs.region
        compact = bar.width < COMPACT_BELOW
        width = COMPACT_HINT_WIDTH if compact else HINT_WIDTH
        shown = tabs.active_tab  # a query of its own: once, not once per tab
        every = [tab for tab in tabs.query(Tab) if tab.region.width]  # laid out
        self._tab_ends = (every[0], every[-1]) if every else None
        # The hints cover the ends of the bar: a tab under one is out of view too. Counted
        # with the whole bar first, then with what the hints that will show leave of it.
        left, right = bar.x, bar.right
        for _ in range(3):
            # A tab's label, not its padding: a label wholly in view is not counted.
            before = [tab for tab in every if tab.content_region.x < left]
            after = [tab for tab in every if tab.content_region.right > right and tab not in before]
            view = (
                bar.x + width if before else bar.x,
                bar.right - width if after else bar.right,
            )
            if view == (left, right):
                break
            left, right = view
        if shown is not None and shown in every and self._bring_into_view(shown, every, width):
            # The counts are taken again once it has scrolled (`_after_layout`); shown now,
            # they would change twice per new tab.
            return
        # The shown tab is never counted out of view (too wide for the room between the
        # counts, it is cut at its end); the others out of view are not drawn at all (their
        # ends showed beside the counts, found by QA).
        before = [tab for tab in before if tab is not shown]
        after = [tab for tab in after if tab is not shown]
        for tab in every:
            tab.set_class(tab in before or tab in after, "-out-of-view")
        marked = self._marked_tabs()
        self._hint("#tabs-before", before, marked, first=True, compact=compact)
        self._hint("#tabs-after", after, marked, first=False, compact=compact)

    def _bring_into_view(self, shown: Tab, every: list[Tab], width: int) -> bool:
        """Scroll the strip the least that puts the shown tab's title between the counts
        that can show beside it (`width` each); whether the strip moves. Tabs scrolls a new
        tab into view before it is laid out, and a longer title widens it afterwards: either
        can leave it cut off. A title wider than that room starts right after the count of
        the tabs before it (found by QA at 40 columns: it lost its first letters under that
        count). Reckoned in the strip's own coordinates, not the screen's, which lag a scroll
        until the next layout: each call asks for the same place (a target read from stale
        places went back and forth for ever, found by QA at 24 columns)."""
        scroller = self._scroller
        assert scroller is not None
        index = every.index(shown)
        low = width if index > 0 else 0
        high = scroller.size.width - (width if index < len(every) - 1 else 0)
        # Its title; at an end of the strip, with its padding (nothing is counted there).
        whole = shown.virtual_region
        title = whole.shrink(shown.styles.gutter)
        start = title.x if index > 0 else whole.x
        end = title.right if index < len(every) - 1 else whole.right
        now = scroller.scroll_x
        if end - start > high - low or start - now < low:
            shift = start - low
        elif end - now > high:
            shift = end - high
        else:
            return False
        target = max(0.0, min(float(shift), scroller.max_scroll_x))
        if round(target) == round(now):
            return False  # as near as the strip goes
        scroller.scroll_to(x=target, animate=False, force=True)
        return True

    def _marked_tabs(self) -> dict[Widget, str]:
        marked: dict[Widget, str] = {}
        for pane_id, mark in self._marks.items():
            try:
                marked[self.get_tab(pane_id)] = mark
            except (NoMatches, ValueError):
                pass  # closed meanwhile
        return marked

    def _hint(
        self,
        selector: str,
        tabs: list[Tab],
        marked: dict[Widget, str],
        *,
        first: bool,
        compact: bool,
    ) -> None:
        space = "" if compact else " "
        count = (f"‹{space}{len(tabs)}" if first else f"{len(tabs)}{space}›") if tabs else ""
        mark = _urgent([marked[tab] for tab in tabs if tab in marked])
        # Only a change is shown: this runs after every relabel, tab added and scroll.
        if self._hints.get(selector) == (count, mark):
            return
        self._hints[selector] = (count, mark)
        hint = self.query_one(selector, OverflowHint)
        hint.compact(compact)
        hint.display = bool(count)  # a layout, but only when the bar starts or stops overflowing
        text = literal(count)
        if mark is not None:
            # What a tab out of view says: a tool call that waits for the user above all.
            badge = Content.styled(*MARKS[mark])
            text = Content.assemble(*((badge, space, text) if first else (text, space, badge)))
        hint.show(text)


def _urgent(marks: list[str]) -> str | None:
    """The mark that most needs the user among tabs out of view."""
    return min(marks, key=MARK_ORDER.index, default=None)


class OverflowHint(Widget):
    """How many tabs are cut off on one side of the bar (`‹ 3`). Of a fixed width, so a new
    count is a repaint of its cells: a Static's update lays out the whole screen, and the count
    changes with each tab opened once the bar is full (twice: the new tab is laid out, then
    scrolled into view)."""

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.styles.width = HINT_WIDTH  # what PaneTabs counts as covered
        self._text = Content("")
        self._compact = False

    def compact(self, compact: bool) -> None:
        """Narrow (`?‹2`, no padding) on a narrow bar; a layout, only when it changes."""
        if compact is not self._compact:
            self._compact = compact
            self.styles.width = COMPACT_HINT_WIDTH if compact else HINT_WIDTH
            self.styles.padding = (0, 0) if compact else (0, 1)

    def show(self, text: Content) -> None:
        self._text = text
        self.refresh()

    def render(self) -> Content:
        return self._text
