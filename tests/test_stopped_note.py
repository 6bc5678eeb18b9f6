"""The note under an answer stopped by the user says what is true (found by QA: stopped before
any text, it said "the partial answer is kept", with no answer to keep)."""

from __future__ import annotations

import threading

from tests.tui_helpers import (
    active,
    message,
    region_text,
    running,
    seed,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer

PARTIAL = "the partial answer is kept"


async def test_stopped_before_any_text_says_so(zai: WireServer) -> None:
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["never seen"], holds={0: gate}), delay=0.005))
    try:
        async with running() as pilot:
            pane = active(pilot)
            await send(pilot, "stop me")
            await wait_until(pilot, lambda: zai.requests, "the request")
            await pilot.press("escape")
            await wait_for_stream(pilot)
            shown = region_text(pane.log_view)
            assert "■ stopped before any answer" in shown and PARTIAL not in shown, shown
    finally:
        gate.set()


async def test_stopped_with_text_keeps_it_and_says_so(zai: WireServer) -> None:
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["Half an ", "answer"], holds={1: gate}), delay=0.005))
    try:
        async with running() as pilot:
            pane = active(pilot)
            await send(pilot, "stop me later")
            await wait_until(pilot, lambda: "Half an" in region_text(pane.log_view), "text")
            await pilot.press("escape")
            await wait_for_stream(pilot)
            shown = region_text(pane.log_view)
            assert f"■ stopped; {PARTIAL}" in shown, shown
    finally:
        gate.set()


async def test_a_resumed_answer_stopped_before_any_text_says_so() -> None:
    stopped = [message("user", "Feed it?"), message("assistant", "", status="cancelled")]
    seed("aaaa00000001", "Sourdough starter", stopped)
    async with running(resume="aaaa00000001") as pilot:
        shown = region_text(active(pilot).log_view)
        assert "■ stopped before any answer" in shown and PARTIAL not in shown, shown
