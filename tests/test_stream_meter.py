"""The status line's reading of a streaming answer, on an injected clock (no wall time)."""

from __future__ import annotations

from glmchat.backend.events import RetryScheduled
from glmchat.tui.stream_meter import MIN_RATE_SECONDS, StreamMeter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_waiting_then_streaming_with_a_rate_only_after_the_first_half_second() -> None:
    clock = Clock()
    meter = StreamMeter(clock)
    assert meter.reading(None) == (None, "waiting")
    first = clock.now
    meter.uncounted.append("abcd" * 10)  # 10 tokens
    clock.now += MIN_RATE_SECONDS / 2
    assert meter.reading(first) == (None, "streaming")
    meter.uncounted.append("abcd" * 10)
    clock.now = first + 2.0
    assert meter.reading(first) == (10.0, "streaming")  # 20 tokens in 2 s
    assert meter.uncounted == []  # counted once, on the reading


def test_a_retry_counts_down_until_its_deadline_or_the_first_token() -> None:
    clock = Clock()
    meter = StreamMeter(clock)
    meter.retry_scheduled(RetryScheduled(attempt=1, max_attempts=3, delay=4.0))
    assert meter.reading(None) == (None, "retry 2/3 in 4 s")
    clock.now += 2.6
    assert meter.reading(None) == (None, "retry 2/3 in 1 s")
    clock.now += 2.0
    assert meter.reading(None) == (None, "waiting")
    meter.retry_scheduled(RetryScheduled(attempt=2, max_attempts=3, delay=10.0))
    assert meter.reading(clock.now)[1] == "streaming"


def test_start_forgets_the_last_answer() -> None:
    clock = Clock()
    meter = StreamMeter(clock)
    meter.uncounted.append("x" * 400)
    meter.reading(clock.now - 10)
    meter.retry_scheduled(RetryScheduled(attempt=1, max_attempts=3, delay=5.0))
    meter.start()
    assert meter.uncounted == []
    first = clock.now
    clock.now += 1.0
    assert meter.reading(first) == (0.0, "streaming")
