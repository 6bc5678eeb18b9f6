"""The tab bar of conversation panes, drawn by one widget: literal titles, activity marks, and
counts of the tabs out of view.

Textual's TabbedContent mounted three widgets a pane (its tab, the tab's label and a pane
around it) and laid out the whole screen whenever a tab's label changed width (a title, a
mark) or its strip scrolled: about a third of the CPU of opening a pane once the bar was full.
Here a new tab, a title, a mark or a scroll is a repaint of the bar's two rows; where the tabs
go is a pure function of their widths (`arrange`)."""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.content import Content
from textual.strip import Strip
from textual.widget import Widget

from glmchat.tui.literal import literal, one_line
from glmchat.tui.widgets.tab_layout import (
    COMPACT_HINT_WIDTH,
    TAB_PADDING,
    BarView,
    arrange,
)

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


def tab_label(title: str, mark: str | None = None) -> Content:
    """A tab's label as shown: its title on one line, cut to TITLE_WIDTH, after its mark."""
    text = literal(one_line(title, TITLE_WIDTH))
    if mark is None:
        return text
    glyph, style = MARKS[mark]
    return Content.assemble((glyph, style), " ", text)


def urgent(marks: list[str]) -> str | None:
    """The mark that most needs the user among tabs out of view."""
    return min(marks, key=MARK_ORDER.index, default=None)


class TabBar(Widget):
    """Every pane's tab, drawn by this one widget in two rows: the labels, and a line under
    them marking the shown tab. Tabs that do not fit are counted at the ends of the bar
    (`‹ 3`, `2 ›`, with the mark that most needs the user); a click on a tab shows it, a
    click on a count shows the nearest tab it counts."""

    DEFAULT_CSS = """
    TabBar {
        height: 2;
        width: 1fr;
        & > .tab-bar--tab { color: $foreground 50%; }
        & > .tab-bar--shown { color: $foreground; }
        & > .tab-bar--hover { color: $foreground; }
        & > .tab-bar--count {
            background: $panel;
            color: $text-accent;
            text-style: bold;
        }
        & > .tab-bar--line { color: $foreground 10%; }
        & > .tab-bar--line-shown { color: $block-cursor-background; }
        & > .tab-bar--streaming { color: $text-warning; text-style: bold; }
        & > .tab-bar--approval { color: $text-error; text-style: bold; }
        & > .tab-bar--unseen { color: $text-success; text-style: bold; }
        & > .tab-bar--failed { color: $text-error; text-style: bold; }
        &:ansi {
            & > .tab-bar--tab { text-style: dim; }
            & > .tab-bar--shown { text-style: not dim bold; }
            & > .tab-bar--line { color: $border-blurred; }
        }
    }
    """

    COMPONENT_CLASSES = {
        "tab-bar--tab",
        "tab-bar--shown",
        "tab-bar--hover",
        "tab-bar--count",
        "tab-bar--line",
        "tab-bar--line-shown",
        "tab-bar--streaming",
        "tab-bar--approval",
        "tab-bar--unseen",
        "tab-bar--failed",
    }

    ALLOW_SELECT = False

    def __init__(self, pick: Callable[[str], None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._pick = pick  # shows a pane, by id: a click
        self.order: list[str] = []  # pane ids, left to right
        self._labels: dict[str, str] = {}  # each tab's title as shown (one line, cut)
        self.marks: dict[str, str] = {}
        self.shown: str | None = None
        self._mouse_x: int | None = None  # the column under the mouse, on the labels' row
        self._scroll = 0
        self._view: BarView | None = None  # as last drawn; None: to arrange again
        self._viewed_width = -1

    # --- the tabs ----------------------------------------------------------------------

    def add(self, pane_id: str, title: str, *, after: str | None = None) -> None:
        index = self.order.index(after) + 1 if after in self.order else len(self.order)
        self.order.insert(index, pane_id)
        self._labels[pane_id] = one_line(title, TITLE_WIDTH)
        self._changed()

    def take_out(self, pane_id: str) -> str | None:
        """Take a tab out; the tab to show instead if it was the shown one (the next, or the
        one before the last), else None."""
        if pane_id not in self.order:
            return None
        index = self.order.index(pane_id)
        self.order.remove(pane_id)
        self._labels.pop(pane_id, None)
        self.marks.pop(pane_id, None)
        self._changed()
        if pane_id != self.shown:
            return None
        self.shown = None
        if not self.order:
            return None
        return self.order[min(index, len(self.order) - 1)]

    def show(self, pane_id: str) -> None:
        self.shown = pane_id
        if self.marks.get(pane_id) in ("unseen", "failed"):
            del self.marks[pane_id]  # seen
        self._changed()

    def set_title(self, pane_id: str, title: str) -> None:
        label = one_line(title, TITLE_WIDTH)
        if pane_id in self._labels and self._labels[pane_id] != label:
            self._labels[pane_id] = label
            self._changed()

    def set_mark(self, pane_id: str, mark: str | None) -> None:
        if pane_id not in self._labels or self.marks.get(pane_id) == mark:
            return
        if mark is None:
            del self.marks[pane_id]
        else:
            self.marks[pane_id] = mark
        self._changed()

    def label(self, pane_id: str) -> Content:
        return tab_label(self._labels.get(pane_id, ""), self.marks.get(pane_id))

    def _changed(self) -> None:
        self._view = None
        self.refresh()  # two rows repainted: the bar's height never changes

    # --- where they are ------------------------------------------------------------------

    def _widths(self) -> list[int]:
        return [self._label_width(pane_id) + 2 * TAB_PADDING for pane_id in self.order]

    def _label_width(self, pane_id: str) -> int:
        mark = 2 if pane_id in self.marks else 0  # the glyph and a space
        return mark + cell_len(self._labels.get(pane_id, ""))

    @property
    def view(self) -> BarView:
        """Where the tabs are now: arranged again only after a change or a resize."""
        width = self.size.width
        view = self._view
        if view is None or width != self._viewed_width:
            shown = self.order.index(self.shown) if self.shown in self.order else None
            view = arrange(self._widths(), shown, width, self._scroll)
            self._view, self._viewed_width, self._scroll = view, width, view.scroll
        return view

    def counted(self) -> tuple[list[str], list[str]]:
        """The ids of the tabs out of view before and after the bar's view."""
        view = self.view
        return [self.order[i] for i in view.before], [self.order[i] for i in view.after]

    def span(self, pane_id: str) -> tuple[int, int] | None:
        """The columns of a tab on the bar (its padding included, the end excluded), as if
        nothing covered it; None if it has no tab."""
        if pane_id not in self.order:
            return None
        index = self.order.index(pane_id)
        widths = self._widths()
        start = sum(widths[:index]) - self.view.scroll
        return start, start + widths[index]

    def tab_at(self, x: int) -> str | None:
        """The id of the tab drawn at column `x`, or of the nearest tab a count at `x` counts."""
        view = self.view
        if view.before and x < view.hint_width:
            return self.order[view.before[-1]]
        if view.after and x >= self.size.width - view.hint_width:
            return self.order[view.after[0]]
        start = -view.scroll
        for index, w in enumerate(self._widths()):
            if start <= x < start + w and view.in_view(index):
                return self.order[index]
            start += w
        return None

    def on_resize(self) -> None:
        self._view = None

    # --- mouse ---------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        event.stop()
        pane_id = self.tab_at(event.x)
        if pane_id is not None:
            self._pick(pane_id)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._mouse_at(event.x if event.y == 0 else None)

    def on_leave(self, _event: events.Leave) -> None:
        self._mouse_at(None)

    def _mouse_at(self, x: int | None) -> None:
        if x != self._mouse_x:
            before = self._hovered()
            self._mouse_x = x
            if self._hovered() != before:
                self.refresh()

    def _hovered(self) -> str | None:
        """The tab under the mouse now (a tab, not a count): lit. Found from the mouse's
        column at each drawing, so a tab the bar moved away from the mouse goes dark."""
        x = self._mouse_x
        if x is None:
            return None
        view = self.view
        if (view.before and x < view.hint_width) or (
            view.after and x >= self.size.width - view.hint_width
        ):
            return None
        return self.tab_at(x)

    # --- drawing -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width <= 0:
            return Strip.blank(0)
        view = self.view
        return self._labels_row(view, width) if y == 0 else self._line_row(view, width)

    def _labels_row(self, view: BarView, width: int) -> Strip:
        left, right = self._room(view, width)
        middle, _ = self._between_counts(view, width)
        hint = view.hint_width
        parts = [
            self._count(view.before, first=True, width=hint) if left else None,
            middle,
            self._count(view.after, first=False, width=hint) if right < width else None,
        ]
        return Strip.join([part for part in parts if part is not None])

    def _between_counts(self, view: BarView, width: int) -> tuple[Strip, int | None]:
        """The labels' row between the counts, and where the shown title ends when it is cut
        there (the column after its `…`), else None."""
        style = self.get_component_rich_style
        base = self.rich_style
        tab, shown, hover = style("tab-bar--tab"), style("tab-bar--shown"), style("tab-bar--hover")
        hovered = self._hovered()
        pad = " " * TAB_PADDING
        segments: list[Segment] = []
        for index, pane_id in enumerate(self.order):
            if not view.in_view(index):
                segments.append(Segment(" " * (self._label_width(pane_id) + 2 * TAB_PADDING), base))
                continue
            look = shown if pane_id == self.shown else hover if pane_id == hovered else tab
            segments.append(Segment(pad, look))
            mark = self.marks.get(pane_id)
            if mark is not None:
                segments.append(Segment(MARKS[mark][0], look + self._mark_style(mark)))
                segments.append(Segment(" ", look))
            segments.append(Segment(self._labels.get(pane_id, ""), look))
            segments.append(Segment(pad, look))
        strip = Strip(segments).crop_extend(view.scroll, view.scroll + width, base)
        left, right = self._room(view, width)
        middle = strip.crop(left, right)
        cut = self._cut_end(view, right)
        if cut is None:
            return middle, None
        # The shown title goes on past the room: it says so, not after a space nor after half
        # a wide character (which crop makes a space).
        kept = list(middle.crop(0, cut - left - 1))
        while kept and kept[-1].text.endswith(" "):
            text = kept[-1].text.rstrip(" ")
            kept[-1:] = [Segment(text, kept[-1].style)] if text else []
        kept.append(Segment("…", shown))
        end = left + Strip(kept).cell_length
        return Strip(kept).crop_extend(0, right - left, base), end

    @staticmethod
    def _room(view: BarView, width: int) -> tuple[int, int]:
        """The columns between the counts shown (the whole bar when none shows)."""
        hint = view.hint_width
        return (hint if view.before and hint else 0, width - hint if view.after and hint else width)

    def _cut_end(self, view: BarView, right: int) -> int | None:
        """The column where the shown tab's title is cut (by a count or the bar's end), or None
        when it shows whole."""
        span = self.span(self.shown) if self.shown is not None else None
        if span is None:
            return None
        return right if span[1] - TAB_PADDING > right else None

    def _mark_style(self, mark: str) -> Style:
        """A mark's own colour and weight, on whatever it is drawn over (a tab, a count)."""
        own = self.get_component_rich_style(f"tab-bar--{mark}")
        return Style(color=own.color, bold=own.bold)

    def _count(self, indexes: tuple[int, ...], *, first: bool, width: int) -> Strip:
        """`‹ 3` (first) or `3 ›`, after (or before) the mark that most needs the user among
        the tabs it counts; `‹3` with no padding on a narrow bar."""
        compact = width == COMPACT_HINT_WIDTH
        space = "" if compact else " "
        number = str(len(indexes))
        count = f"‹{space}{number}" if first else f"{number}{space}›"
        look = self.get_component_rich_style("tab-bar--count")
        mark = urgent([self.marks[self.order[i]] for i in indexes if self.order[i] in self.marks])
        pieces: list[Segment] = [Segment(count, look)]
        if mark is not None:
            badge = Segment(MARKS[mark][0], look + self._mark_style(mark))
            pieces = (
                [badge, Segment(space, look), *pieces]
                if first
                else [*pieces, Segment(space, look), badge]
            )
        text = Strip(pieces)
        inner = width - (0 if compact else 2)
        text = text.crop(0, inner) if text.cell_length > inner else text
        fill = Segment(" " * (inner - text.cell_length), look)
        body = [*text, fill] if first else [fill, *text]
        edge = [] if compact else [Segment(" ", look)]
        return Strip([*edge, *body, *edge], width)

    def _line_row(self, view: BarView, width: int) -> Strip:
        """The line under the tabs, under the shown tab's label in its own colour, half
        glyphs at its ends (as Textual's Underline)."""
        rest = self.get_component_rich_style("tab-bar--line")
        mark = self.get_component_rich_style("tab-bar--line-shown")
        start = end = 0
        span = self.span(self.shown) if self.shown is not None else None
        if span is not None:
            # Under the label as far as it shows: not under a count.
            left, right = self._room(view, width)
            start = max(left, span[0] + TAB_PADDING)
            end = min(right, span[1] - TAB_PADDING)
            _, cut = self._between_counts(view, width)
            if cut is not None:  # under what shows of a cut title, to its `…`
                end = min(end, cut)
        bar = Style(color=rest.color, bgcolor=rest.bgcolor)
        high = Style(color=mark.color, bgcolor=rest.bgcolor)
        if end <= start:
            return Strip([Segment("━" * width, bar)], width)
        segments = []
        if start > 0:
            segments += [Segment("━" * (start - 1) + "╸", bar)]
        segments.append(Segment("━" * (end - start), high))
        if end < width:
            segments.append(Segment("╺" + "━" * (width - end - 1), bar))
        return Strip(segments, width)
