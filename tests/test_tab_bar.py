"""The tab bar drawn by one widget (pane_tabs.TabBar): where its tabs go (`arrange`, checked
over random bars), the line under the shown tab's label, clicks and hovering, and what opening
a pane mounts. Counts and cells, never wall time."""

from __future__ import annotations

import random
from typing import Any

import pytest

from glmchat.tui.widgets.chat_pane import ChatPane
from glmchat.tui.widgets.tab_bar import (
    COMPACT_BELOW,
    COMPACT_HINT_WIDTH,
    HINT_WIDTH,
    TAB_PADDING,
    TabBar,
    arrange,
)
from tests.tui_helpers import active, glm, running, screen_lines


async def _settled(pilot: Any) -> None:
    for _ in range(4):
        await pilot.pause()


# --- where the tabs go -----------------------------------------------------------------------


def _check(widths: list[int], shown: int, width: int, scroll: int) -> int:
    view = arrange(widths, shown, width, scroll)
    hint = COMPACT_HINT_WIDTH if width < COMPACT_BELOW else HINT_WIDTH
    left = hint if view.before else 0
    right = width - (hint if view.after else 0)
    starts = [sum(widths[:i]) - view.scroll for i in range(len(widths))]
    total = sum(widths)
    assert 0 <= view.scroll <= max(0, total - width)
    if total <= width:
        assert view.scroll == 0 and not view.before and not view.after
    # The shown tab's title starts in view, after the count of the tabs before it, and is
    # never counted.
    title = starts[shown] + (TAB_PADDING if shown > 0 else 0)
    assert title >= left, (widths, shown, width, view)
    assert shown not in view.before and shown not in view.after
    # Every other tab is counted, or its label is wholly between the counts.
    for i, start in enumerate(starts):
        if i == shown:
            continue
        label = (start + TAB_PADDING, start + widths[i] - TAB_PADDING)
        if i in view.before:
            assert label[0] < left and i < shown
        elif i in view.after:
            assert label[1] > right and i > shown
        else:
            assert left <= label[0] and label[1] <= right, (i, widths, shown, width, view)
    # Arranged again from where it is, it stays: a bar never scrolls back and forth.
    assert arrange(widths, shown, width, view.scroll) == view
    return view.scroll


def test_arrange_over_random_bars() -> None:
    rng = random.Random(14)
    for _ in range(3000):
        widths = [rng.randint(3, 29) for _ in range(rng.randint(1, 14))]
        width = rng.randint(12, 140)
        scroll = 0
        # Moving through the tabs as ctrl+pageup/pagedown do, from each last place.
        for _step in range(6):
            shown = rng.randrange(len(widths))
            scroll = _check(widths, shown, width, scroll)


def test_the_least_scroll_brings_a_tab_into_view() -> None:
    widths = [20] * 10  # 200 cells on a bar of 100
    view = arrange(widths, 9, 100, 0)
    assert view.scroll == 100  # the end of the strip
    assert arrange(widths, 8, 100, view.scroll).scroll == view.scroll  # already in view
    back = arrange(widths, 3, 100, view.scroll)
    assert back.scroll == 60 + TAB_PADDING - HINT_WIDTH  # just right of `‹ N`
    assert back.before == (0, 1, 2)


# --- on screen -------------------------------------------------------------------------------


def _underline(app: Any) -> tuple[int, int]:
    """The columns of the line's coloured part, read from its half glyphs."""
    line = screen_lines(app)[1]
    start = line.index("╸") + 1 if "╸" in line else 0
    end = line.index("╺") if "╺" in line else len(line)
    return start, end


@pytest.mark.parametrize("width", [30, 80, 120])
async def test_the_line_marks_the_shown_tabs_label_after_every_move(width: int) -> None:
    async with running(size=(width, 20)) as pilot:
        app = glm(pilot)
        for key in ("ctrl+n", "ctrl+n", "ctrl+n", "ctrl+pageup", "ctrl+w", "ctrl+n") * 2 + (
            "ctrl+pagedown",
            "ctrl+pagedown",
        ):
            await pilot.press(key)
            await _settled(pilot)
            pane = active(pilot)
            span = app.tabs.bar.span(app.tabs.pane_id(pane) or "")
            assert span is not None
            start, end = _underline(app)
            label = app.tabs.bar.label(app.tabs.pane_id(pane) or "").plain
            top = screen_lines(app)[0]
            assert (start, end) == (
                max(0, span[0] + TAB_PADDING),
                min(width, span[1] - TAB_PADDING),
            ), (key, top, screen_lines(app)[1])
            assert top[start:end] == label[: end - start], (key, top)


async def test_a_click_on_a_count_shows_the_nearest_tab_it_counts() -> None:
    async with running(size=(80, 20)) as pilot:
        app = glm(pilot)
        for i in range(7):
            await pilot.press("ctrl+n")
            await pilot.pause()
            active(pilot).rename(f"conversation number {i}")
        await _settled(pilot)
        bar = app.tabs.bar
        before, _after = bar.counted()
        assert before and "‹" in screen_lines(app)[0]
        await pilot.click(TabBar, offset=(2, 0))
        await _settled(pilot)
        assert app.tabs.active == before[-1]  # the one just out of view
        assert active(pilot).prompt.has_focus
        while bar.counted()[1]:  # and from the other end
            nearest = bar.counted()[1][0]
            await pilot.click(TabBar, offset=(77, 0))
            await _settled(pilot)
            assert app.tabs.active == nearest


async def test_the_tab_under_the_mouse_is_lit() -> None:
    async with running(size=(80, 20)) as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+n")
        await _settled(pilot)
        bar = app.tabs.bar
        first = bar.order[0]
        span = bar.span(first)
        assert span is not None
        dim = bar.get_component_rich_style("tab-bar--tab")
        lit = bar.get_component_rich_style("tab-bar--hover")
        assert dim.color != lit.color

        def colour_at(x: int) -> Any:
            strip = bar.render_line(0)
            for segment in strip.crop(x, x + 1):
                return segment.style.color if segment.style else None
            return None

        assert colour_at(span[0] + 2) == dim.color
        await pilot.hover(TabBar, offset=(span[0] + 2, 0))
        await _settled(pilot)
        assert colour_at(span[0] + 2) == lit.color
        await pilot.hover(ChatPane, offset=(5, 5))
        await _settled(pilot)
        assert colour_at(span[0] + 2) == dim.color


async def test_a_pane_mounts_its_own_widgets_and_the_bar_none() -> None:
    """Each pane opened adds the same widgets (its own), whatever the tabs already open; the
    bar draws every tab itself (Textual's tabs mounted three widgets a pane)."""
    async with running(size=(120, 40)) as pilot:
        app = glm(pilot)
        bar = app.tabs.bar
        counts = []
        for _ in range(6):
            counts.append(len(list(app.screen.walk_children())))
            await pilot.press("ctrl+n")
            await _settled(pilot)
        steps = {b - a for a, b in zip(counts, counts[1:], strict=False)}
        assert len(steps) == 1, counts
        [step] = steps
        assert step == 1 + len(list(app.panes[-1].walk_children()))  # the pane and its own
        assert list(bar.children) == []
