"""What the status line says while an answer streams: waiting, streaming or a retry countdown,
and the live speed."""

from __future__ import annotations

import time
from collections.abc import Callable

from glmchat.backend.events import RetryScheduled
from glmchat.token_estimate import estimate_tokens

# The live speed is shown from this long after the first token on (a rate over a few
# milliseconds says nothing).
MIN_RATE_SECONDS = 0.5


class StreamMeter:
    """One answer's state and speed. The stream appends its text to `uncounted` (one list
    append per token); the tokens are estimated on `reading`, a few times a second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.uncounted: list[str] = []
        self._out_tokens = 0
        self._retry: tuple[RetryScheduled, float] | None = None  # and its deadline
        # Time the model was not streaming (tools ran, or waited for the user): not speed.
        self._paused_at: float | None = None
        self._paused_for = 0.0

    def start(self) -> None:
        """A new answer: nothing counted, no retry announced, no pause."""
        self.uncounted.clear()
        self._out_tokens = 0
        self._retry = None
        self._paused_at = None
        self._paused_for = 0.0

    def pause(self) -> None:
        """The model's call is over and tools take over: the speed holds still."""
        if self._paused_at is None:
            self._paused_at = self._clock()

    def resume(self) -> None:
        """The model is called again: the speed counts from where it held."""
        if self._paused_at is not None:
            self._paused_for += self._clock() - self._paused_at
            self._paused_at = None

    def retry_scheduled(self, event: RetryScheduled) -> None:
        self._retry = (event, self._clock() + event.delay)

    def reading(self, first_output_at: float | None) -> tuple[float | None, str]:
        """The live speed (None before it means anything) and the state, given when the
        first delta arrived (on the same clock; None: nothing yet)."""
        now = self._clock()
        first = first_output_at
        state = "waiting" if first is None else "streaming"
        if self._retry is not None:
            event, deadline = self._retry
            if now < deadline and first is None:
                state = f"retry {event.attempt + 1}/{event.max_attempts} in {deadline - now:.0f} s"
            else:
                self._retry = None
        if self.uncounted:
            self._out_tokens += estimate_tokens("".join(self.uncounted))
            self.uncounted.clear()
        rate = None
        if first is not None:
            held = now if self._paused_at is None else self._paused_at
            streamed = held - first - self._paused_for
            if streamed >= MIN_RATE_SECONDS:
                rate = self._out_tokens / streamed
        return rate, state
