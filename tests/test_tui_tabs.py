"""Conversation tabs: one key press is one step, focus follows the shown tab, resumed conversations
take their tab's place, and tabs say what their panes are doing and when some are out of view."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot

from glmchat.tui.widgets.chat_pane import ChatPane
from glmchat.tui.widgets.pane_stream import PaneStream
from glmchat.tui.widgets.tab_bar import TabBar
from tests.tui_helpers import (
    SIZE,
    active,
    build_app,
    glm,
    message,
    record_drawn_rows,
    running,
    screen_lines,
    screen_text,
    seed,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer


def _tab_id(pane: ChatPane) -> str:
    pane_id = pane.app.tabs.pane_id(pane)  # type: ignore[attr-defined]
    assert pane_id
    return str(pane_id)


class Activations:
    """Every pane the tabs show, in turn (`PaneTabs.show`)."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    @property
    def count(self) -> int:
        return len(self.ids)

    def shown(self, since: int = 0) -> list[str]:
        return self.ids[since:]


@asynccontextmanager
async def running_hooked(activations: Activations) -> AsyncIterator[Pilot[int]]:
    """`running()`, recording each pane the tabs show."""
    app = build_app()
    app.animation_level = "none"
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            tabs = glm(pilot).tabs
            show = tabs.show

            def recorded(pane_id: str) -> None:
                activations.ids.append(pane_id)
                show(pane_id)

            tabs.show = recorded  # type: ignore[method-assign]
            tabs.bar._pick = recorded  # a click
            yield pilot
    finally:
        app.store.close()


async def _three_panes(pilot: Pilot[Any]) -> list[ChatPane]:
    await pilot.press("ctrl+n", "ctrl+n")
    await pilot.pause()
    panes = glm(pilot).panes
    assert len(panes) == 3 and active(pilot) is panes[2]
    return panes


async def _settled(pilot: Pilot[Any]) -> None:
    for _ in range(5):
        await pilot.pause()


def _assert_consistent(pilot: Pilot[Any], expected: ChatPane) -> None:
    app = glm(pilot)
    assert app.tabs.active == _tab_id(expected)  # the highlighted tab
    assert active(pilot) is expected  # the pane shown
    assert [p for p in app.panes if p.display] == [expected]
    assert expected.prompt.has_focus, f"focus is on {app.focused!r}"


# --- switching -------------------------------------------------------------------------------


async def test_key_repeat_on_ctrl_pageup_moves_one_step_per_press_and_settles() -> None:
    """The report: three panes, ctrl+pageup in quick succession. Each press is one step back,
    the last one lands where that many steps go, focus follows, and nothing moves afterwards."""
    activations = Activations()
    async with running_hooked(activations) as pilot:
        panes = await _three_panes(pilot)
        before = activations.count
        for _ in range(5):
            await pilot.press("ctrl+pageup")
            await pilot.pause(0.05)
        await _settled(pilot)
        shown = activations.shown(before)
        assert shown == [_tab_id(panes[i]) for i in (1, 0, 2, 1, 0)]
        _assert_consistent(pilot, panes[0])
        await pilot.pause(0.3)
        assert activations.count == before + 5  # settled: no churn without input
        await pilot.press(*"hello")  # typed text lands in the shown pane
        assert panes[0].prompt.text == "hello"
        assert panes[1].prompt.text == panes[2].prompt.text == ""


async def test_presses_faster_than_a_frame_each_count_once() -> None:
    """Key repeat can deliver several presses before the screen refreshes once."""
    activations = Activations()
    async with running_hooked(activations) as pilot:
        app = glm(pilot)
        panes = await _three_panes(pilot)
        before = activations.count
        for key in ["ctrl+pageup"] * 4 + ["ctrl+pagedown"] * 6:
            app.post_message(events.Key(key, None))  # all queued before any is handled
        await _settled(pilot)
        # 4 back from the third is the second; 6 forward from there is the second again
        _assert_consistent(pilot, panes[1])
        assert activations.count == before + 10
        await pilot.pause(0.3)
        assert activations.count == before + 10


async def test_a_switch_right_after_ctrl_n_is_not_undone_by_the_new_pane() -> None:
    """The new pane focuses its prompt a moment after it mounts; that must not show it again."""
    async with running() as pilot:
        app = glm(pilot)
        first = active(pilot)
        app.post_message(events.Key("ctrl+n", None))
        app.post_message(events.Key("ctrl+pageup", None))
        await _settled(pilot)
        assert len(app.panes) == 2
        _assert_consistent(pilot, first)


async def test_clicking_a_tab_shows_it_and_focuses_its_prompt() -> None:
    async with running() as pilot:
        app = glm(pilot)
        panes = await _three_panes(pilot)
        span = app.tabs.bar.span(_tab_id(panes[0]))
        assert span is not None
        await pilot.click(TabBar, offset=(span[0] + 2, 0))
        await _settled(pilot)
        _assert_consistent(pilot, panes[0])


# --- resuming into tabs ----------------------------------------------------------------------


def _seed_two() -> None:
    seed("aaaa00000001", "Sourdough starter", [message("user", "Feed it?")])
    seed("bbbb00000002", "Trip planning", [message("user", "Where to?")])


async def _pick(pilot: Pilot[Any], search: str) -> None:
    app = glm(pilot)
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: "Resume a conversation" in screen_text(app), "the picker")
    await pilot.press(*search)
    await wait_until(pilot, lambda: len(app.screen.query("OptionList Option")) <= 1, "a filter")
    await pilot.pause(0.1)
    await pilot.press("enter")
    await _settled(pilot)


async def test_a_resumed_conversation_takes_the_place_of_an_untouched_pane() -> None:
    _seed_two()
    async with running() as pilot:
        app = glm(pilot)
        await _pick(pilot, "Trip")
        [pane] = app.panes
        assert pane.conversation_id == "bbbb00000002"
        assert "New conversation" not in screen_text(app)
        _assert_consistent(pilot, pane)


async def test_a_pane_with_a_draft_is_kept_and_the_conversation_opens_after_it() -> None:
    _seed_two()
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+n")
        first, drafted = app.panes
        drafted.prompt.insert("half a thought")
        await _pick(pilot, "Trip")
        assert app.panes[:2] == [first, drafted] and len(app.panes) == 3
        _assert_consistent(pilot, app.panes[2])
        assert drafted.prompt.text == "half a thought"


async def test_picking_an_open_conversation_switches_to_its_tab() -> None:
    """The report: ctrl+r on a conversation already open did nothing."""
    _seed_two()
    activations = Activations()
    async with running_hooked(activations) as pilot:
        app = glm(pilot)
        await _pick(pilot, "Trip")
        [trip] = app.panes
        await pilot.press("ctrl+n")
        await _settled(pilot)
        drafted = active(pilot)
        drafted.prompt.insert("draft")  # a pane in use stays
        await pilot.press("ctrl+pageup")
        for _ in range(3):  # again and again: the same tab, never a second copy
            before = activations.count
            await pilot.press("ctrl+pagedown")  # to the draft
            await _pick(pilot, "Trip")
            assert len(app.panes) == 2
            _assert_consistent(pilot, trip)
            await pilot.pause(0.2)
            assert activations.shown(before) == [_tab_id(drafted), _tab_id(trip)]


async def test_picking_an_open_conversation_from_a_fresh_pane_closes_the_fresh_pane() -> None:
    _seed_two()
    async with running() as pilot:
        app = glm(pilot)
        await _pick(pilot, "Trip")
        [trip] = app.panes
        await pilot.press("ctrl+n")
        await _settled(pilot)
        await _pick(pilot, "Trip")
        assert app.panes == [trip]
        _assert_consistent(pilot, trip)


# --- what each tab is doing ------------------------------------------------------------------


def _tab_text(pilot: Pilot[Any], pane: ChatPane) -> str:
    return glm(pilot).tabs.bar.label(_tab_id(pane)).plain


async def test_tabs_mark_a_background_stream_then_an_unseen_answer_until_shown(
    zai: WireServer,
) -> None:
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["one ", "two ", "three"], holds={1: gate}), delay=0.005))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "count to three")
        await wait_until(pilot, lambda: pane.streaming and pane.streaming.text, "the answer")
        assert _tab_text(pilot, pane) == "● count to three"
        await pilot.press("ctrl+n")
        await _settled(pilot)
        assert "● count to three" in screen_lines(pilot.app)[0]
        gate.set()
        await wait_for_stream(pilot, pane)
        await wait_until(pilot, lambda: _tab_text(pilot, pane).startswith("✓"), "the mark")
        assert "✓ count to three" in screen_lines(pilot.app)[0]
        await pilot.press("ctrl+pageup")
        await _settled(pilot)
        assert _tab_text(pilot, pane) == "count to three"  # seen: the mark is gone


async def test_an_answer_finished_on_screen_leaves_no_mark(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["done"])))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "quick one")
        await wait_for_stream(pilot)
        await _settled(pilot)
        assert _tab_text(pilot, pane) == "quick one"


async def test_the_mark_changes_in_the_same_step_as_the_answer_ends(
    zai: WireServer, monkeypatch: Any
) -> None:
    """The answer's last lines and its tab's new mark are laid out together: the mark waited
    for a message to bubble up to the app, after the layout of the end, and took a whole
    layout of the screen of its own per answer."""
    zai.reply(Reply(chunks=stream(["done"])))
    labels_at_the_end: list[str] = []
    real_end = PaneStream._end

    def ending(self: PaneStream, *args: Any) -> None:
        real_end(self, *args)
        labels_at_the_end.append(_tab_text(pilot, self._pane))

    monkeypatch.setattr(PaneStream, "_end", ending)
    async with running() as pilot:
        await send(pilot, "quick one")
        await wait_for_stream(pilot)
        assert labels_at_the_end == ["quick one"]  # seen: no mark, at once


async def test_tabs_mark_a_background_failure_until_shown(zai: WireServer) -> None:
    gate = threading.Event()
    # The stream holds, then ends without its finish: an error after some text.
    zai.reply(Reply(chunks=stream(["partial "], holds={1: gate}, finish=None), delay=0.005))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "this will break")
        await wait_until(pilot, lambda: pane.streaming and pane.streaming.text, "the answer")
        await pilot.press("ctrl+n")
        await _settled(pilot)
        gate.set()
        await wait_for_stream(pilot, pane)
        await wait_until(pilot, lambda: _tab_text(pilot, pane).startswith("✗"), "the mark")
        assert "✗ this will break" in screen_lines(pilot.app)[0]
        await pilot.press("ctrl+pageup")
        await _settled(pilot)
        assert _tab_text(pilot, pane) == "this will break"


async def test_a_background_failure_gives_its_prompt_back_without_the_keys(
    zai: WireServer,
) -> None:
    """Found by QA: an answer that failed in a background pane gave its prompt back with the
    focus; keys typed in the shown pane went to the hidden one, and an Enter sent the failed
    prompt again. The prompt waits in its box; the keys stay where the user is; and nothing
    hidden takes the focus (a deferred focus, a folded panel)."""
    gate = threading.Event()

    def refused() -> Iterator[bytes]:
        gate.wait(10)
        yield b'{"error": {"message": "bad request", "code": "1214"}}'

    zai.reply(Reply(chunks=refused, status=400))
    async with running() as pilot:
        app = glm(pilot)
        first = active(pilot)
        await send(pilot, "fail me")
        await pilot.press("ctrl+n")
        await _settled(pilot)
        second = active(pilot)
        assert second is not first and second.prompt.has_focus
        focused: list[object] = []
        app.screen.watch(app.screen, "focused", lambda now: focused.append(now), init=False)
        gate.set()
        await wait_for_stream(pilot, first)
        await _settled(pilot)
        assert first.prompt.text == "fail me"  # given back, in its own box
        assert second.prompt.has_focus
        await pilot.press("o", "k")
        assert second.prompt.text == "ok" and first.prompt.text == "fail me"
        first.prompt.focus()  # anything asking for a hidden widget's focus
        await _settled(pilot)
        assert second.prompt.has_focus
        assert first.prompt not in focused  # not even for a moment
        await pilot.press("ctrl+pageup")
        await _settled(pilot)
        assert active(pilot) is first and first.prompt.has_focus
        assert len(zai.requests) == 1
        assert app.screen.focused is first.prompt


async def _nine_more_named_panes(pilot: Pilot[Any]) -> None:
    """Ten tabs of some 25 columns each: three fit in 80."""
    for i in range(9):
        await pilot.press("ctrl+n")
        await pilot.pause()
        active(pilot).rename(f"conversation number {i}")


async def test_tabs_out_of_view_are_counted_on_each_side() -> None:
    async with running(size=(80, 24)) as pilot:
        app = glm(pilot)
        await _nine_more_named_panes(pilot)
        await _settled(pilot)
        top = screen_lines(app)[0]
        assert re.search(r"‹ \d+", top) and not re.search(r"\d+ ›", top), top
        hidden_before = int(re.search(r"‹ (\d+)", top).group(1))  # type: ignore[union-attr]
        assert hidden_before >= 5  # ten tabs of ~25 columns, three fit in 80
        await pilot.press("ctrl+pagedown")  # wraps to the first tab
        await _settled(pilot)
        top = screen_lines(app)[0]
        assert active(pilot) is app.panes[0]
        assert top.startswith(" conversation number") or top.startswith(" New"), top
        assert re.search(r"\d+ ›", top) and "‹" not in top, top
        await pilot.press("ctrl+pageup")  # back to the last
        await _settled(pilot)
        assert "‹" in screen_lines(app)[0]


async def test_a_new_count_a_title_and_a_mark_are_repaints_not_layouts(
    monkeypatch: Any,
) -> None:
    """Once the bar is full, every tab opened changes a count, and a streaming pane's tab
    changes its mark twice an answer: Textual's tabs laid out the whole screen at each (a tab
    of another width, a hint of its own, a scroll of the strip). The bar is one widget of
    fixed height: each is a repaint of its two rows."""
    from textual.screen import Screen

    layouts: list[int] = []
    real = Screen._refresh_layout

    def counted(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
        layouts.append(1)
        real(self, *args, **kwargs)

    async with running(size=(80, 24)) as pilot:
        app = glm(pilot)
        await _nine_more_named_panes(pilot)
        await _settled(pilot)
        monkeypatch.setattr(Screen, "_refresh_layout", counted)
        for n, pane in enumerate(app.panes[:6]):
            app.tabs.set_title(_tab_id(pane), f"renamed {n} " + "x" * n)
            app.tabs.set_activity(_tab_id(pane), "streaming")
            await _settled(pilot)
            app.tabs.set_activity(_tab_id(pane), "done")
            await _settled(pilot)
        top = screen_lines(app)[0]
        assert re.search(r"✓ ‹ \d+", top), top  # the counted tabs' marks
        assert layouts == []


async def test_no_hint_while_every_tab_fits() -> None:
    async with running() as pilot:
        await _three_panes(pilot)
        await _settled(pilot)
        top = screen_lines(pilot.app)[0]
        assert "‹" not in top and "›" not in top


def _hints_as_drawn(app: Any) -> tuple[int, int]:
    """The tabs cut off on each side of the bar as drawn now (what the hints should say):
    beyond its ends, or under a hint shown there (found by QA: short tabs vanished under them
    uncounted, a `?` among them). Reckoned from each label's width and where the bar's strip
    is scrolled, the shown tab not counted."""
    from glmchat.tui.widgets.tab_layout import COMPACT_BELOW, COMPACT_HINT_WIDTH, HINT_WIDTH

    bar = app.tabs.bar
    width = bar.size.width
    hint = COMPACT_HINT_WIDTH if width < COMPACT_BELOW else HINT_WIDTH
    top = screen_lines(app)[0]
    left = hint if "‹" in top else 0
    right = width - (hint if "›" in top else 0)
    x = -bar.view.scroll
    before = after = 0
    for pane_id in bar.order:
        label = bar.label(pane_id).cell_length
        start, end = x + 1, x + 1 + label
        x += label + 2
        if pane_id == bar.shown:
            continue
        if start < left:
            before += 1
        elif end > right:
            after += 1
    return before, after


def _hints_shown(app: Any) -> tuple[int, int]:
    top = screen_lines(app)[0]
    before = re.search(r"‹ ?(\d+)", top)  # `‹2` on a narrow bar
    after = re.search(r"(\d+) ?›", top)
    return (int(before.group(1)) if before else 0, int(after.group(1)) if after else 0)


async def test_short_tabs_under_a_hint_are_counted_with_their_marks() -> None:
    """Found by QA at 60x20 with titles like `p5`: a whole tab fit under a hint, was not
    counted, and its `?` was nowhere. A tab under a hint is out of view: counted, its mark
    carried; every tab is either counted or wholly between the hints."""
    async with running(size=(60, 20)) as pilot:
        app = glm(pilot)
        active(pilot).rename("p1")
        for n in range(2, 17):
            await pilot.press("ctrl+n")
            await pilot.pause()
            active(pilot).rename(f"p{n}")
        await _settled(pilot)
        app.tabs.set_activity(_tab_id(app.panes[4]), "approval")
        for _ in range(16):
            await pilot.press("ctrl+pagedown")
            await _settled(pilot)
            top = screen_lines(app)[0]
            assert _hints_shown(app) == _hints_as_drawn(app), top
            if "? p5" not in top:  # out of view: a hint carries its mark
                assert "? ‹" in top or "› ?" in top, top


async def test_a_wide_title_is_cut_by_cells() -> None:
    """Found by QA: tab titles were cut by characters, so a CJK title took twice the width."""
    from glmchat.tui.widgets.tab_bar import TITLE_WIDTH

    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        pane.rename("東京の天気について教えてください、明日は晴れますか")
        await _settled(pilot)
        label = app.tabs.bar.label(_tab_id(pane))
        assert label.cell_length <= TITLE_WIDTH
        assert label.plain.endswith("…")
        assert label.plain in screen_lines(app)[0]


async def test_the_hints_follow_tabs_closed_and_opened() -> None:
    # Found by QA: after closing tabs, `‹ 2` stayed over a bar with one tab cut off (the hints
    # were counted before the tab left the bar).
    async with running(size=(80, 24)) as pilot:
        app = glm(pilot)
        await _nine_more_named_panes(pilot)
        for _ in range(5):
            await pilot.press("ctrl+pageup")
        await _settled(pilot)
        seen = []
        for key in ["ctrl+w"] * 7 + ["ctrl+n"] * 3 + ["ctrl+w"] * 2:
            await pilot.press(key)
            await _settled(pilot)
            assert _hints_shown(app) == _hints_as_drawn(app), (key, screen_lines(app)[0])
            seen.append(_hints_shown(app))
        assert any(before for before, _ in seen) and (0, 0) in seen  # both kinds were shown


@pytest.mark.parametrize("width", [16, 20, 24, 30, 40, 46, 52, 64])
async def test_on_a_narrow_bar_the_shown_tab_starts_in_view_and_no_tab_shows_in_part(
    width: int,
) -> None:
    """Found by QA at 40x12: with a tab wider than the room between the two counts shown,
    that tab (reached with ctrl+pageup) lost its first letters under `‹ 2`, which counted the
    shown tab itself, and the tab after it was cut at the edge with no count; the ends of
    tabs counted as out of view showed beside the counts. Now the shown tab's label starts in
    view (after `‹ N`, when tabs are out of view before it), the counts are of the other tabs,
    and a tab is shown whole or not at all (but the shown one, cut at its end when it is wider
    than the room)."""
    titles = ["aaaa", "b" * 30, "cccccc", "dd", "eeeeeeeee"]
    async with running(size=(width, 12)) as pilot:
        app = glm(pilot)
        active(pilot).rename(titles[0])
        for title in titles[1:]:
            await pilot.press("ctrl+n")
            await pilot.pause()
            active(pilot).rename(title)
        await _settled(pilot)
        labels = {
            title[0]: app.tabs.bar.label(_tab_id(pane)).plain
            for title, pane in zip(titles, app.panes, strict=True)
        }
        for key in ["ctrl+pageup"] * 5 + ["ctrl+pagedown"] * 5:
            await pilot.press(key)
            await _settled(pilot)
            top = screen_lines(app)[0]
            shown = titles[app.panes.index(active(pilot))][0]
            before, after = _hints_shown(app)
            index = app.panes.index(active(pilot))
            # Its label starts in view, after the count of the tabs before it if any.
            start = top.index(labels[shown][:4])
            assert before == 0 or start > top.index("‹"), (key, top)
            # Every other tab: whole, or not at all and counted.
            whole = 0
            for letter, label in labels.items():
                if letter == shown:
                    continue
                if label in top:
                    whole += 1
                else:
                    assert letter not in top, (key, letter, top)
            assert whole + before + after == len(titles) - 1, (key, top)
            assert before <= index and after <= len(titles) - 1 - index, (key, top)


async def test_a_narrow_bar_settles_after_a_resize() -> None:
    """Found by QA at 24 columns: the strip scrolled back and forth for ever with nothing
    happening (a target read from places a scroll had not laid out yet; 22 % of a core).
    After a resize the bar is drawn once, then never again while nothing changes."""
    async with running(size=(120, 40)) as pilot:
        app = glm(pilot)
        app.animation_level = "full"  # as a user has it
        active(pilot).rename("hello")
        await pilot.press("ctrl+n")
        active(pilot).rename("a very long title for the middle tab")
        await pilot.press("ctrl+n", "ctrl+pageup")
        await _settled(pilot)
        bar = app.tabs.bar
        drawn = record_drawn_rows(bar)
        for width in (24, 30, 40, 60, 24):
            await pilot.resize_terminal(width, 40)
            await pilot.pause(0.5)
            scroll = bar.view.scroll
            assert drawn  # drawn at its new width
            drawn.clear()
            await pilot.pause(0.5)
            assert drawn == [] and bar.view.scroll == scroll, (width, drawn)
            top = screen_lines(app)[0]
            assert "a very long" in top, (width, top)
