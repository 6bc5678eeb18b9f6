"""Where the tab bar's tabs go (tab_bar.py draws them): a pure function of their widths, the
bar's width, the tab shown and where the strip was scrolled, so the same state always gives the
same view and a bar never scrolls back and forth."""

from __future__ import annotations

from dataclasses import dataclass

HINT_WIDTH = 8  # cells of an overflow count (`? ‹ 12` and its padding)
# On a bar narrower than this, the counts are `?‹2` with no padding: two of full width left the
# shown tab 8 cells or none (found by QA at 16-24 columns).
COMPACT_BELOW = 40
COMPACT_HINT_WIDTH = 4
TAB_PADDING = 1  # cells each side of a tab's label
MIN_ROOM = 6  # cells for the shown title between two counts; on a narrower bar it shows alone


@dataclass(frozen=True, slots=True)
class BarView:
    """Where the bar's tabs are: the strip scrolled by `scroll` cells; the tabs counted out of
    view on each side (indexes, never the shown one); the width of each count."""

    scroll: int
    before: tuple[int, ...]
    after: tuple[int, ...]
    hint_width: int

    def in_view(self, index: int) -> bool:
        return index not in self.before and index not in self.after


def arrange(widths: list[int], shown: int | None, width: int, scroll: int) -> BarView:
    """The view of tabs `widths` cells wide (padding included) side by side on a bar `width`
    cells wide, the strip scrolled by `scroll` before: scrolled the least that puts the shown
    tab's title between the counts that show beside it (a title wider than that room starts
    right after the count of the tabs before it), the tabs whose labels are cut off at each
    end counted, and the first tab after `‹ N` drawn right after it (a tab under the count
    left its width blank there). On a bar too narrow for two counts and a title between them,
    the shown tab alone. Pure: the same state gives the same view (no scroll back and forth)."""
    hint = COMPACT_HINT_WIDTH if width < COMPACT_BELOW else HINT_WIDTH
    starts, x = [], 0
    for w in widths:
        starts.append(x)
        x += w
    total = x
    if shown is not None and total > width and width - 2 * hint < MIN_ROOM:
        start = starts[shown] + TAB_PADDING  # its title from the bar's first cell
        others = [i for i in range(len(widths)) if i != shown]
        return BarView(
            start, tuple(i for i in others if i < shown), tuple(i for i in others if i > shown), 0
        )
    scroll = max(0, min(scroll, total - width))
    last = len(widths) - 1
    if shown is not None and total > width:
        low = hint if shown > 0 else 0
        high = width - (hint if shown < last else 0)
        start, end = starts[shown], starts[shown] + widths[shown]
        # Its title; at an end of the strip, with its padding (nothing is counted there).
        title_start = start + TAB_PADDING if shown > 0 else start
        title_end = end - TAB_PADDING if shown < last else end
        if title_end - title_start > high - low or title_start - scroll < low:
            scroll = title_start - low
        elif title_end - scroll > high:
            scroll = title_end - high
        scroll = max(0, min(scroll, total - width))
    before, after = _counted(starts, widths, width, hint, scroll)
    if before:
        first = next(i for i in range(len(widths)) if i not in before)
        gap = starts[first] + TAB_PADDING - scroll - hint
        if gap > 0:  # the tabs move up to the count; the strip may end before the bar does
            scroll += gap
            before, after = _counted(starts, widths, width, hint, scroll)
    # The shown tab is never counted out of view (too wide for the room between the counts, it
    # is cut at its end); the others out of view are not drawn at all.
    return BarView(
        scroll,
        tuple(i for i in before if i != shown),
        tuple(i for i in after if i != shown),
        hint,
    )


def _counted(
    starts: list[int], widths: list[int], width: int, hint: int, scroll: int
) -> tuple[list[int], list[int]]:
    """The tabs whose labels are cut off before and after the view. The counts cover the ends
    of the bar: a tab under one is out of view too. Counted with the whole bar first, then
    with what the counts that will show leave of it."""
    left, right = 0, width
    before: list[int] = []
    after: list[int] = []
    labels = [
        (start + TAB_PADDING - scroll, start + w - TAB_PADDING - scroll)
        for start, w in zip(starts, widths, strict=True)
    ]
    for _ in range(3):
        before = [i for i, (a, _b) in enumerate(labels) if a < left]
        after = [i for i, (_a, b) in enumerate(labels) if b > right and i not in before]
        view = (hint if before else 0, width - hint if after else width)
        if view == (left, right):
            break
        left, right = view
    return before, after
