"""Folding and unfolding every thinking panel (Ctrl+O) while an answer streams keeps the log on
its newest text: a panel toggled from the key does not scroll itself into view."""

from __future__ import annotations

import threading

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
