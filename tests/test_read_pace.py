"""A pane reads the network at the pace it draws: the shown pane at its refresh rate, a
background pane a few times a second (backend/network.py). Counts of reads, never wall time."""

from __future__ import annotations

import threading

import pytest

from glmchat.backend.network import AsyncioStream
from glmchat.backend.read_pace import READ_PACE
from glmchat.tui.widgets.pane_stream import BACKGROUND_READ_INTERVAL, READ_SLACK
from tests.tui_helpers import active, glm, running, saved, send, stream, wait_until
from tests.wire_server import Reply, WireServer


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pace interval in force at each network read of the app's streams."""
    seen: list[float] = []
    original = AsyncioStream.read

    async def counted(self: AsyncioStream, max_bytes: int, timeout: float | None = None) -> bytes:
        pace = READ_PACE.get()
        seen.append(pace.interval if pace is not None else -1.0)
        return await original(self, max_bytes, timeout)

    monkeypatch.setattr(AsyncioStream, "read", counted)
    return seen


async def test_the_shown_pane_reads_at_its_refresh_rate_and_a_hidden_one_rarely(
    zai: WireServer, reads: list[float]
) -> None:
    gate = threading.Event()
    words = [f"w{i} " for i in range(100)]
    # One write per token, 10 ms apart: 100 tokens a second, as a provider streams.
    zai.reply(Reply(chunks=stream(words, holds={40: gate}), delay=0.01))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        rate = app.settings.ui.refresh_rate
        await send(pilot, "talk")
        await wait_until(pilot, lambda: pane.streaming and "w39" in pane.streaming.text, "40 words")
        assert pane.answer_stream.read_pace.interval == pytest.approx(1 / rate + READ_SLACK)
        shown_reads = len(reads)
        assert set(reads) == {
            1 / rate + READ_SLACK
        }  # every read of the shown pane's stream was paced
        await pilot.press("ctrl+n")  # another pane: this one goes to the background
        await wait_until(
            pilot,
            lambda: pane.answer_stream.read_pace.interval == BACKGROUND_READ_INTERVAL,
            "the background pace (the half-second tick sets it)",
        )
        timer = pane.answer_stream._tick_timer
        assert timer is not None and not timer._active.is_set()  # it rests till shown again
        gate.set()
        await wait_until(pilot, lambda: pane.streaming is None, "the end")
        hidden_reads = [i for i in reads[shown_reads:] if i == BACKGROUND_READ_INTERVAL]
        # 60 tokens over 0.6 s in the background: a read every half second, not per token.
        assert 1 <= len(hidden_reads) <= 8
        assert (
            pane.answer_stream._tick_timer is None
            or pane.answer_stream._tick_timer._active.is_set() is False
        )
        assert saved(pane.engine.conversation_id)[-1].content == "".join(words)
        assert app.active_pane is not pane


async def test_a_hidden_pane_reads_its_thinking_as_often_as_a_shown_one(
    zai: WireServer, reads: list[float]
) -> None:
    """Found by QA: a hidden pane read everything twice a second, so the end of thinking (the
    first words) was seen up to half a second late, and that late figure was the saved and
    shown thinking time (a tool loop's rounds waited as long). Before its text a hidden pane
    reads as a shown one does; its text, rarely."""
    start = threading.Event()
    thinking = [f"t{i} " for i in range(30)]
    words = [f"w{i} " for i in range(60)]
    zai.reply(Reply(chunks=stream(words, thinking, holds={0: start}), delay=0.01))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        fast = 1 / app.settings.ui.refresh_rate + READ_SLACK
        await send(pilot, "think, then talk")
        await wait_until(pilot, lambda: pane.streaming is not None, "the answer begins")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.active_pane is not pane, "another pane")
        timer = pane.answer_stream._tick_timer
        assert timer is not None
        await wait_until(pilot, lambda: not timer._active.is_set(), "the hidden tick (its pace)")
        hidden_from = len(reads)
        start.set()
        await wait_until(pilot, lambda: pane.streaming is None, "the end")
        hidden = reads[hidden_from:]
        thought = hidden[: hidden.index(BACKGROUND_READ_INTERVAL)]
        assert len(thought) >= 2 and set(thought) == {fast}  # the thinking, read as if shown
        text = hidden[len(thought) :]
        assert text.count(BACKGROUND_READ_INTERVAL) >= 1
        assert len(text) <= 8  # 60 words over 0.6 s: a few reads, not one per word
        row = saved(pane.engine.conversation_id)[-1]
        assert row.content == "".join(words) and row.reasoning == "".join(thinking)
