"""How often the consumer of a stream wants its network reads (used by backend/network.py).

Its own module, free of httpx and httpcore: the TUI sets a pace on the way to its first paint."""

from __future__ import annotations

from asyncio import Future
from contextvars import ContextVar

__all__ = ["READ_PACE", "ReadPace"]


class ReadPace:
    """How often the consumer of a stream wants network reads: `interval` seconds apart at the
    least while the stream is slow, 0 for as soon as data arrives. `watch`: someone is looking
    at the stream, so its end is read the moment it arrives (at a little CPU per network
    packet); otherwise nothing at all is done between reads. Changed with `change`: a pane
    brought to the front reads at once, one sent to the back from its next read on."""

    __slots__ = ("interval", "watch", "_waiting")

    def __init__(self, interval: float = 0.0, *, watch: bool = False) -> None:
        self.interval = interval
        self.watch = watch
        self._waiting: set[Future[None]] = set()

    def change(self, interval: float, *, watch: bool) -> None:
        sooner = interval < self.interval or (watch and not self.watch)
        self.interval = interval
        self.watch = watch
        if sooner:
            for waiting in self._waiting:
                if not waiting.done():
                    waiting.set_result(None)

    def waiting(self, future: Future[None]) -> None:
        """A reader waits for its next read on `future` (resolved early by a sooner pace)."""
        self._waiting.add(future)

    def done_waiting(self, future: Future[None]) -> None:
        self._waiting.discard(future)


READ_PACE: ContextVar[ReadPace | None] = ContextVar("glmchat_read_pace", default=None)
"""Set in the task that consumes a stream (tasks it starts inherit it); read per network read."""
