"""Folding and unfolding every thinking panel (Ctrl+O) while an answer streams keeps the log on
its newest text: a panel toggled from the key does not scroll itself into view."""

from __future__ import annotations

import threading

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from glmchat.tui.widgets.fold_in_place import FoldsInPlace
from tests.tui_helpers import active, running, send, stream, wait_until
from tests.wire_server import Reply, WireServer


async def test_folding_and_unfolding_thinking_while_it_streams_keeps_following(
    zai: WireServer,
) -> None:
    """Ctrl+O twice while thinking streams: the newest thinking stays in view (the panel's
    toggle scrolls it into view, which released the log's anchor for good)."""
    gate = threading.Event()
    thoughts = [f"think{i} " for i in range(900)]
    # The answer waits too: thinking folds when the answer starts, which would end the test.
    answer_gate = threading.Event()
    zai.reply(
        Reply(
            chunks=stream(["done"], reasoning=thoughts, holds={600: gate, 900: answer_gate}),
            delay=0.001,
        )
    )
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "ponder")
        await wait_until(
            pilot,
            lambda: pane.streaming and "think599" in pane.streaming.reasoning_text,
            "thinking",
        )
        message = pane.streaming
        assert message is not None
        log = pane.log_view
        await wait_until(pilot, lambda: log.max_scroll_y > 0, "a log taller than the view")
        await pilot.press("ctrl+o")  # fold
        await pilot.pause(0.2)
        await pilot.press("ctrl+o")  # unfold
        await pilot.pause(0.2)
        gate.set()
        await wait_until(pilot, lambda: "think899" in message.reasoning_text, "more thinking")
        await pilot.pause(0.3)
        assert log.scroll_y >= log.max_scroll_y - 1  # at the end, following
        answer_gate.set()


class _Log(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll(id="log"):
            yield Static("\n".join(f"line {i}" for i in range(60)))
            yield FoldsInPlace(Static("\n".join(f"detail {i}" for i in range(30))), id="panel")
            yield Static("\n".join(f"after {i}" for i in range(60)))


async def test_a_panel_folded_by_the_app_leaves_a_following_log_at_its_end() -> None:
    """The mechanism, for every panel that uses it (thinking, tool calls): a fold made by the
    app keeps the view; a fold by the user (a click on the title) still scrolls to the panel."""
    app = _Log()
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.query_one("#log", VerticalScroll)
        panel = app.query_one("#panel", FoldsInPlace)
        log.anchor()
        await pilot.pause()
        end = log.max_scroll_y
        panel.fold_in_place(not panel.collapsed)
        await pilot.pause()
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y and log.max_scroll_y != end  # at the new end
        panel.collapsed = not panel.collapsed  # as a click does
        await pilot.pause()
        await pilot.pause()
        assert log.scroll_y < log.max_scroll_y  # scrolled up to the panel


async def test_paging_back_down_while_an_answer_streams_follows_it_again(
    zai: WireServer,
) -> None:
    """Page up to read, page down again while the answer keeps growing: back at the end the
    view follows it again, as the README says (it came to rest a few rows short of an end
    that had moved on, and stayed there). A new prompt always brings the view to its end."""
    gate = threading.Event()
    words = [f"word{i} " + ("\n\n" if i % 15 == 14 else "") for i in range(1500)]
    zai.reply(Reply(chunks=stream(words, holds={1499: gate}), delay=0.005))
    zai.reply(Reply(chunks=stream(["second answer"])))
    async with running() as pilot:
        pane = active(pilot)
        log = pane.log_view
        await send(pilot, "tell me")
        await wait_until(pilot, lambda: log.max_scroll_y > 30, "an answer taller than the view")

        def at_the_end() -> bool:
            return log.scroll_y >= log.max_scroll_y - 1

        assert at_the_end()
        await pilot.press("pageup")
        await pilot.pause(0.1)
        grown = log.max_scroll_y
        await wait_until(pilot, lambda: log.max_scroll_y > grown + 3, "more of the answer")
        assert log.scroll_y < log.max_scroll_y - 20  # stays put to read
        await pilot.press("pagedown")  # back where the view left the end
        grown = log.max_scroll_y
        await wait_until(pilot, lambda: log.max_scroll_y > grown + 6, "more of the answer")
        await pilot.pause(0.2)
        assert at_the_end()
        # Away again, then a new prompt: its answer is followed.
        await pilot.press("pageup")
        await pilot.pause(0.1)
        assert not at_the_end()
        gate.set()
        await wait_until(pilot, lambda: pane.streaming is None, "the end of the answer")
        await send(pilot, "and then?")
        await wait_until(
            pilot,
            lambda: pane.streaming is None and pane.engine.turns[-1].content == "second answer",
            "the second answer",
        )
        await pilot.pause(0.2)
        assert at_the_end()


@pytest.mark.parametrize(
    "keys", [("pagedown",), ("pageup", "pageup", "pagedown") + ("pagedown",) * 3]
)
async def test_a_page_down_at_the_end_of_a_streaming_answer_keeps_following(
    zai: WireServer, keys: tuple[str, ...]
) -> None:
    """A page down with the view already at the end moves nothing; it released the view all
    the same, which then stayed there while the answer grew below (found by QA). Also after
    paging up and back down past the end."""
    gate = threading.Event()
    words = [f"word{i} " + ("\n\n" if i % 15 == 14 else "") for i in range(1500)]
    zai.reply(Reply(chunks=stream(words, holds={1499: gate}), delay=0.005))
    async with running() as pilot:
        pane = active(pilot)
        log = pane.log_view
        await send(pilot, "tell me")
        await wait_until(pilot, lambda: log.max_scroll_y > 30, "an answer taller than the view")
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
        assert log.following
        grown = log.max_scroll_y
        await wait_until(pilot, lambda: log.max_scroll_y > grown + 6, "more of the answer")
        await pilot.pause(0.2)
        assert log.scroll_y >= log.max_scroll_y - 1  # still at the end of it
        gate.set()
        await wait_until(pilot, lambda: pane.streaming is None, "the end of the answer")


async def test_a_click_on_the_thinking_that_streams_at_the_end_keeps_following(
    zai: WireServer,
) -> None:
    """A click on the title of the panel at the end of a following log (the thinking that
    streams) folds and unfolds it in place, as Ctrl+O does: the panel scrolled its top into
    view, away from the newest thoughts, and the log stopped following them."""
    start, gate, answer_gate = threading.Event(), threading.Event(), threading.Event()
    thoughts = [f"think{i} " + ("\n\n" if i % 10 == 9 else "") for i in range(900)]
    holds = {10: start, 600: gate, 900: answer_gate}
    zai.reply(Reply(chunks=stream(["done"], reasoning=thoughts, holds=holds), delay=0.001))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "ponder")
        await wait_until(pilot, lambda: pane.streaming is not None, "the answer")
        message = pane.streaming
        assert message is not None
        await wait_until(pilot, lambda: "think9" in message.reasoning_text, "thinking")
        await pilot.pause(0.1)
        panel = message.query_one(FoldsInPlace)
        await pilot.click(panel._title)  # fold while it still fits
        start.set()
        await wait_until(pilot, lambda: "think599" in message.reasoning_text, "thinking")
        await pilot.pause(0.2)
        log = pane.log_view
        assert panel.collapsed
        await pilot.click(panel._title)  # unfold: taller than the view
        await pilot.pause(0.2)
        assert log.max_scroll_y > 10
        assert not panel.collapsed
        gate.set()
        await wait_until(pilot, lambda: "think899" in message.reasoning_text, "more thinking")
        await pilot.pause(0.3)
        assert log.scroll_y >= log.max_scroll_y - 1  # at the end, following
        answer_gate.set()


async def test_an_animated_scroll_back_to_the_end_follows_again_once_it_is_over() -> None:
    """A scroll that glides back to where the view left the end (a click on the scrollbar's
    track, a page down with smooth scrolling) follows again once its animation is over: taking
    the anchor back from the animation's last step stopped the animation the animator was
    still finishing, and the app crashed (KeyError in Textual's animator)."""
    from textual.widgets import Static

    from glmchat.tui.widgets.message_log import MessageLog

    class Chat(App[None]):
        def compose(self) -> ComposeResult:
            yield MessageLog(*(Static(f"line {n}") for n in range(60)))

    app = Chat()
    async with app.run_test(size=(40, 10)) as pilot:
        app.animation_level = "full"  # the scroll glides, as in a terminal
        log = app.query_one(MessageLog)
        log.follow()
        await pilot.pause()
        assert log.following and log.scroll_y == log.max_scroll_y > 0
        log.scroll_page_up(animate=False)
        await pilot.pause()
        assert not log.following
        log.scroll_page_down(animate=True, duration=0.1)
        await pilot.pause(0.4)
        assert log.following and log.scroll_y == log.max_scroll_y
        await log.mount(Static("one more line"))
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y  # following: it moved with the end
        # Two pages up and one down: short of where it left the end, it stays put.
        for _ in range(2):
            log.scroll_page_up(animate=False)
            await pilot.pause()
        log.scroll_page_down(animate=True, duration=0.1)
        await pilot.pause(0.4)
        assert not log.following and log.scroll_y < log.max_scroll_y


async def test_where_the_view_left_the_end_is_forgotten_when_other_messages_are_drawn() -> None:
    """A branch drawn, an answer regenerated: the log's content is another, and where the view
    left the old end means nothing in it (a page down from the top jumped to the end, skipping
    the new answer's start). Only the end itself brings following back."""
    from textual.widgets import Static

    from glmchat.tui.widgets.message_log import MessageLog

    class Chat(App[None]):
        def compose(self) -> ComposeResult:
            yield MessageLog(*(Static(f"line {n}") for n in range(60)))

    app = Chat()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(MessageLog)
        log.follow()
        await pilot.pause()
        end = log.max_scroll_y
        log.scroll_page_up(animate=False)  # leaves the end at `end`
        await pilot.pause()
        await log.query(Static).remove()  # other messages, as a redraw mounts them
        await log.mount_all(Static(f"other {n}\nits second row") for n in range(60))
        log.follow()
        for _ in range(4):
            await pilot.pause()
        assert log.max_scroll_y > end + 20  # laid out: twice the rows
        log.scroll_to(y=0, animate=False)  # their top shown
        await pilot.pause()
        for _ in range(end // 8 + 1):  # page by page, past where the old end was
            log.scroll_page_down(animate=False)
            await pilot.pause()
        assert not log.following and end < log.scroll_y < log.max_scroll_y


async def test_a_regenerated_answer_is_followed_from_the_end(zai: WireServer) -> None:
    """`r` on an earlier answer: the new version streams at the end, in view and followed (the
    selected message, hidden as it was replaced, gave the focus to the conversation's first
    message, and the view jumped to the top)."""
    long = [f"line {i}\n\n" for i in range(60)]
    gate = threading.Event()
    replies = [Reply(chunks=stream(long)) for _ in range(3)]
    zai.reply(*replies, Reply(chunks=stream(long, holds={30: gate}), delay=0.002))
    async with running() as pilot:
        pane = active(pilot)
        for prompt in ("p1", "p2", "p3"):
            await send(pilot, prompt)
            await wait_until(pilot, lambda: pane.streaming is None, "the answer")
        await pilot.pause(0.2)
        await pilot.press("alt+up", "alt+up", "alt+up", "r")  # p2's answer, again
        await wait_until(pilot, lambda: len(zai.requests) == 4, "the regenerate request")
        log = pane.log_view
        await wait_until(pilot, lambda: log.max_scroll_y > 60, "the new answer's start")
        await pilot.pause(0.2)
        assert log.scroll_y >= log.max_scroll_y - 1  # at the end, following
        gate.set()
        await wait_until(pilot, lambda: pane.streaming is None, "the new answer's end")
        await pilot.pause(0.2)
        assert log.scroll_y >= log.max_scroll_y - 1
