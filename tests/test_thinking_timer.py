"""A round's thinking time is the model's: it stops with the round's first tool call, never
counts while the call waits for the user (or runs), and reads the same live, at the end and
when the conversation is opened again. The live speed does not count those waits either."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmchat.config import save_value
from glmchat.store.recorder import StreamRecorder
from glmchat.tui.stream_meter import StreamMeter
from glmchat.tui.widgets.messages import ThinkingPanel
from tests.tui_helpers import active, region_text, running, send, wait_for_stream, wait_until
from tests.wire_server import Reply, WireServer, sse_body, sse_event

USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
WAIT = 1.5  # seconds the approval question is left waiting (the live title ticks twice a second)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tool_round() -> Reply:
    call = {
        "id": "call_1",
        "index": 0,
        "type": "function",
        "function": {"name": "read_file", "arguments": json.dumps({"path": "notes.txt"})},
    }
    return Reply(
        body=sse_body(
            sse_event({"reasoning_content": "I need to read the notes first. "}),
            sse_event({"tool_calls": [call]}),
            sse_event({"content": ""}, finish_reason="tool_calls", usage=USAGE),
        )
    )


def answer(text: str) -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"content": text}), sse_event({}, finish_reason="stop", usage=USAGE)
        )
    )


@pytest.fixture
def notes(tmp_path: Path) -> None:
    """read_file on (it asks before each call), inside a directory holding notes.txt."""
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text("hello\n", encoding="utf-8")
    save_value("tools.builtin", "read_file")
    save_value("tools.allowed_dirs", str(root))


def title(panel: ThinkingPanel) -> str:
    return panel.title.plain if hasattr(panel.title, "plain") else str(panel.title)


@pytest.mark.usefixtures("notes")
async def test_the_thinking_time_stops_while_a_call_waits_for_approval(zai: WireServer) -> None:
    zai.reply(tool_round(), answer("It says hello."))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "what do the notes say?")
        await wait_until(pilot, lambda: pane.approval is not None, "the approval question")
        await pilot.pause()
        streaming = pane.streaming
        assert streaming is not None
        [panel] = streaming.query(ThinkingPanel)
        asked = title(panel)
        assert asked.startswith("Thought for ")  # over with the tool call
        await pilot.pause(WAIT)  # the user reads the question; the status ticks meanwhile
        pane.tick()
        await pilot.pause()
        assert title(panel) == asked
        assert "tok/s" not in region_text(pane.status)  # no speed decaying over the wait
        await pilot.press("y")
        await wait_for_stream(pilot)
        assert title(panel) == asked  # the round's time, as it was when the call came
        conversation_id = pane.conversation_id
    # Opened again, the saved time is the same: the wait is not in it either.
    async with running(resume=conversation_id) as pilot:
        await pilot.pause()
        [panel] = active(pilot).query(ThinkingPanel)
        assert title(panel) == asked


def test_the_meter_does_not_count_a_pause_in_the_speed() -> None:
    clock = Clock()
    meter = StreamMeter(clock)
    first = clock.now
    meter.uncounted.append("abcd" * 10)  # 10 tokens
    clock.now += 1.0
    assert meter.reading(first) == (10.0, "streaming")
    meter.pause()  # the model's call is over: tools run, or wait for the user
    clock.now += 30.0
    assert meter.reading(first) == (10.0, "streaming")
    meter.resume()  # the next round
    meter.uncounted.append("abcd" * 10)
    clock.now += 1.0
    assert meter.reading(first) == (10.0, "streaming")  # 20 tokens in 2 s of streaming
    meter.start()  # a new answer: no pause carried over
    meter.uncounted.append("abcd" * 10)
    clock.now += 2.0
    assert meter.reading(clock.now - 2.0) == (5.0, "streaming")


def test_a_tool_rounds_thinking_ends_with_its_first_call() -> None:
    """The recorder's saved time for a round that answers with tool calls: from the first
    reasoning to the first call, not to when the round is closed (after the tools ran)."""
    clock = Clock()
    recorder = StreamRecorder(None, None, clock=clock)
    recorder.add_reasoning("Let me look.")
    clock.now += 2.0
    recorder.output_started()  # the first tool call
    clock.now += 40.0  # its arguments stream, it waits for approval, it runs
    assert recorder.timings()["thinking_seconds"] == 2.0
    recorder.add_content("late text")  # text after a call: thinking ended before it
    assert recorder.timings()["thinking_seconds"] == 2.0
