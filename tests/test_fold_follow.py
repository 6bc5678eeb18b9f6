"""Folding and unfolding every thinking panel (Ctrl+O) while an answer streams keeps the log on
its newest text: a panel toggled from the key does not scroll itself into view."""

from __future__ import annotations

import threading

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
