"""When a failed request is tried again, and how long to wait first: the client's retry policy."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from glmchat.backend.errors import ProviderError

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

MAX_BACKOFF = 16.0  # seconds: the longest wait between attempts without a Retry-After


@dataclass(frozen=True)
class RetryPolicy:
    """Retries only retryable errors, at most `max_attempts` tries in all, and never a wait that
    would end more than `budget` seconds after the first try began. The clock, the sleep and
    the jitter are injected so that tests decide time instead of waiting for it."""

    max_attempts: int = 3
    budget: float = 60.0
    sleep: Sleep = asyncio.sleep
    clock: Clock = time.monotonic
    uniform: Callable[[float, float], float] = field(default=random.uniform)

    def delay(self, attempt: int, error: ProviderError, started: float) -> float | None:
        """Seconds to wait before attempt `attempt + 1` after `error`, or None to give up.
        `started` is the clock's reading when the first attempt began."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        delay = self.backoff(attempt, error.retry_after)
        if self.clock() - started + delay > self.budget:
            return None
        return delay

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """The server's Retry-After when it sent one; else exponential with jitter (half the
        base plus up to another half), so many clients do not return in step."""
        if retry_after is not None:
            return max(0.0, retry_after)
        base = min(MAX_BACKOFF, 1.0 * 2 ** (attempt - 1))
        return float(base / 2 + self.uniform(0, base / 2))
