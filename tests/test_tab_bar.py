"""The tab bar drawn by one widget (pane_tabs.TabBar): where its tabs go (`arrange`, checked
over random bars), the line under the shown tab's label, clicks and hovering, and what opening
a pane mounts. Counts and cells, never wall time."""

from __future__ import annotations

import random
from typing import Any

import pytest
from rich.cells import cell_len

from glmchat.tui.widgets.chat_pane import ChatPane
from glmchat.tui.widgets.tab_bar import TabBar
from glmchat.tui.widgets.tab_layout import (
    COMPACT_BELOW,
    COMPACT_HINT_WIDTH,
    HINT_WIDTH,
    MIN_ROOM,
    TAB_PADDING,
    arrange,
)
from tests.tui_helpers import active, glm, running, screen_lines


async def _settled(pilot: Any) -> None:
    for _ in range(4):
        await pilot.pause()


async def _open_panes(pilot: Any, titles: list[str | None]) -> None:
    """A new pane for each of `titles`, each renamed to it (None: left untitled)."""
    for title in titles:
        await pilot.press("ctrl+n")
        await pilot.pause()
        if title is not None:
            active(pilot).rename(title)
    await _settled(pilot)


# --- where the tabs go -----------------------------------------------------------------------


def _check(widths: list[int], shown: int, width: int, scroll: int) -> int:
    view = arrange(widths, shown, width, scroll)
    hint = COMPACT_HINT_WIDTH if width < COMPACT_BELOW else HINT_WIDTH
    starts = [sum(widths[:i]) - view.scroll for i in range(len(widths))]
    total = sum(widths)
    title = starts[shown] + (TAB_PADDING if shown > 0 else 0)
    # Arranged again from where it is, it stays: a bar never scrolls back and forth.
    assert arrange(widths, shown, width, view.scroll) == view
    if total <= width:
        assert view.scroll == 0 and not view.before and not view.after
    if view.hint_width == 0:
        # Too narrow for two counts and a title between them: the shown tab alone, from the
        # bar's first cell.
        assert total > width and width - 2 * hint < MIN_ROOM
        assert starts[shown] + TAB_PADDING == 0  # its label from the first cell (found by QA)
        assert len(view.before) + len(view.after) == len(widths) - 1
        return view.scroll
    assert view.hint_width == hint
    left = hint if view.before else 0
    right = width - (hint if view.after else 0)
    assert 0 <= view.scroll < total
    # The shown tab's title starts in view, after the count of the tabs before it, and is
    # never counted.
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
    if view.before:
        # No blank room after `‹ N`: the first tab in view starts right after it.
        first = min(i for i in range(len(widths)) if i not in view.before)
        assert starts[first] + TAB_PADDING == left, (widths, shown, width, view)
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
    # The end of the strip (100), and then up to the count: tab 5 is under `‹ N` there, and
    # tab 6 is drawn right after it.
    assert view.scroll == 120 + TAB_PADDING - HINT_WIDTH and view.before == tuple(range(6))
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


@pytest.mark.parametrize("width", [12, 30, 80, 120])
async def test_the_line_marks_the_shown_tabs_label_after_every_move(width: int) -> None:
    """Under the shown tab's label as far as it shows: not under a count (found by QA at 30
    columns: under `8›`), and a title cut by a count or the bar's end ends in `…`."""
    async with running(size=(width, 20)) as pilot:
        app = glm(pilot)
        bar = app.tabs.bar
        for n, key in enumerate(
            ("ctrl+n", "ctrl+n", "ctrl+n", "ctrl+pageup", "ctrl+w", "ctrl+n") * 2
            + ("ctrl+pagedown",) * 4
        ):
            await pilot.press(key)
            await _settled(pilot)
            if key == "ctrl+n" and n % 3 == 0:
                active(pilot).rename(
                    "a title much longer than thirty cells, cut"
                    if n % 2
                    else "abc defghi jk lmn o pqrstuvwx yz"
                )
                await _settled(pilot)
            pane_id = app.tabs.pane_id(active(pilot)) or ""
            span = bar.span(pane_id)
            assert span is not None
            top = screen_lines(app)[0]
            room = (
                bar.view.hint_width if "‹" in top else 0,
                width - (bar.view.hint_width if "›" in top else 0),
            )
            start, end = _underline(app)
            label = bar.label(pane_id).plain
            first = max(room[0], span[0] + TAB_PADDING)
            last = min(room[1], span[1] - TAB_PADDING)
            if span[1] - TAB_PADDING > room[1]:  # cut: it says so, not after a space
                shown = label[: last - first - 1].rstrip() + "…"
                last = first + len(shown)  # the line ends with what shows
            else:
                shown = label
            assert (start, end) == (first, last), (key, top, screen_lines(app)[1])
            assert top[start:end] == shown, (key, top)


async def test_a_click_on_a_count_shows_the_nearest_tab_it_counts() -> None:
    async with running(size=(80, 20)) as pilot:
        app = glm(pilot)
        await _open_panes(pilot, [f"conversation number {i}" for i in range(7)])
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


async def test_a_count_draws_its_mark_on_its_own_background() -> None:
    """Found by QA: the `✗` of `✗ ‹ 4` had the screen's background, a hole in the count."""
    async with running(size=(45, 20)) as pilot:
        app = glm(pilot)
        await _open_panes(pilot, [None] * 5)
        app.tabs.set_activity(app.tabs.pane_ids[0], "failed")
        await _settled(pilot)
        row = app.tabs.bar.render_line(0)
        cells = [(segment.text, segment.style) for segment in row if segment.text.strip()]
        badge = next(style for text, style in cells if text == "✗")
        arrow = next(style for text, style in cells if "‹" in text)
        assert badge is not None and arrow is not None
        assert badge.bgcolor == arrow.bgcolor
        assert badge.color != arrow.color  # the mark's own colour


async def test_only_the_tab_under_the_mouse_is_lit_after_the_bar_moves() -> None:
    """Found by QA: the tab lit under the mouse stayed lit after the bar scrolled it away."""
    async with running(size=(80, 20)) as pilot:
        app = glm(pilot)
        await _open_panes(pilot, [f"tab {i} " + "x" * i for i in range(9)])
        await pilot.press(*["ctrl+pagedown"] * 2)
        await _settled(pilot)
        bar = app.tabs.bar
        lit = bar.get_component_rich_style("tab-bar--hover").color
        column = 40
        for key in [None] + ["ctrl+pagedown"] * 8:
            if key is None:
                await pilot.hover(TabBar, offset=(column, 0))
            else:
                await pilot.press(key)
            await _settled(pilot)
            under = bar.tab_at(column)
            shown = bar.span(bar.shown or "")
            assert shown is not None
            row = bar.render_line(0)
            x = 0
            for segment in row:
                if shown[0] <= x < shown[1]:
                    pass  # the shown tab is drawn in the same colour
                elif (
                    segment.style is not None
                    and segment.style.color == lit
                    and segment.text.strip()
                ):
                    # Lit: the tab under the mouse, and only it.
                    assert under is not None and under != bar.shown
                    span = bar.span(under)
                    assert span is not None and span[0] <= x < span[1], (key, x, span)
                x += segment.cell_length


async def test_a_title_with_joined_emoji_keeps_the_bar_in_its_cells() -> None:
    """Found by QA in tmux 3.3: a family emoji (three joined by U+200D) or `❤️` (with U+FE0F)
    is measured as one two-cell glyph, and drawn by some terminals as its parts: the rest of the
    bar moved, leaving stray characters at its end. Titles drop the joiners and selectors."""
    title = "👨\u200d👩\u200d👧 ❤\ufe0f 👍🏽 ok"
    async with running(size=(80, 20)) as pilot:
        app = glm(pilot)
        active(pilot).rename(title)
        await pilot.press("ctrl+n")
        await _settled(pilot)
        top = screen_lines(app)[0]
        for joiner in ("\u200d", "\ufe0f", "\U0001f3fd"):
            assert joiner not in top
            assert joiner not in screen_lines(app)[2]  # nor in the pane's title row
        assert "👨👩👧 ❤ 👍 ok" in top
        await pilot.press("ctrl+pageup")
        await _settled(pilot)
        assert "👨👩👧 ❤ 👍 ok" in screen_lines(app)[2]
        assert active(pilot).title == title  # the conversation keeps its title as written


@pytest.mark.parametrize(
    ("width", "title"),
    [
        (30, "failing conversation number 5 and more"),
        (15, "A very long conversation title that keeps going and going"),
        (28, "A very long conversation title that keeps going and going"),
        (24, "短い質問です日本語のタイトルがとても長い場合"),
        (23, "a短い質問です日本語のタイトル長い"),
    ],
)
async def test_the_panes_title_row_says_when_it_is_cut(width: int, title: str) -> None:
    """Found by QA: the title row under the bar lost the end of a long title silently, and
    then (Textual's ellipsis) put a blank before the `…` after a space or before a wide
    character. It is cut as the tab bar cuts a title."""
    async with running(size=(width, 20)) as pilot:
        app = glm(pilot)
        active(pilot).rename(title)
        await _settled(pilot)
        row = screen_lines(app)[2]
        shown = row.strip()
        assert shown.endswith("…") and not shown.endswith(" …"), row
        assert title.startswith(shown[:-1]), row
        assert cell_len(row) == width
        active(pilot).rename("short one")
        await _settled(pilot)
        assert screen_lines(app)[2].strip() == "short one"


def test_a_search_hits_snippet_in_the_picker_shows_joined_emoji_as_parts() -> None:
    """Found by QA: the picker's hit line kept `❤️` and `👍🏽` whole, and tmux drew them wider
    than measured (its border moved)."""
    from types import SimpleNamespace

    from glmchat.tui.screens.session_picker import SessionRow

    row = SimpleNamespace(
        updated="2026-11-30T05:57:00",
        title="👨\u200d👩\u200d👧 family",
        provider="zai",
        model="glm-4.5",
        message_count=2,
        snippet="👨\u200d👩\u200d👧 family ❤\ufe0f «love» 👍🏽 ok",
    )
    shown = SessionRow(row, 12)
    assert shown.snippet == "👨👩👧 family ❤ «love» 👍 ok"
    assert shown.title.plain == "👨👩👧 family"
