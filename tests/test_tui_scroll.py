"""The message log follows a growing answer at the bottom and stays put when the user reads."""

from __future__ import annotations

from tests.tui_helpers import active, running, send, stream, wait_for_stream, wait_until
from tests.wire_server import Reply, WireServer

LINES = [f"- line {i} of a long answer\n" for i in range(120)]


async def test_log_follows_the_stream_then_stays_put_when_scrolled_up(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(LINES), delay=0.02))
    async with running() as pilot:
        pane = active(pilot)
        log = pane.log_view
        await send(pilot, "a long one please")
        await wait_until(pilot, lambda: log.max_scroll_y > 10, "the answer to overflow")
        await pilot.pause(0.1)
        # Following: at (or within a step of) the bottom while it grows.
        assert log.scroll_y >= log.max_scroll_y - 6
        log.scroll_to(y=0, animate=False, immediate=True)  # the user scrolls up to read
        await pilot.pause(0.3)
        assert log.scroll_y == 0, "the log must not jump while the user reads"
        await wait_for_stream(pilot)
        assert log.scroll_y == 0
        log.scroll_end(animate=False, immediate=True)  # back at the bottom: following again
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y


async def test_a_short_chat_starts_at_the_top(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["Short answer."])))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "hi")
        await wait_for_stream(pilot)
        assert pane.log_view.scroll_y == 0
        first = pane.log_view.children[0]
        assert first.region.y - pane.log_view.region.y <= 2  # not hanging at the bottom
