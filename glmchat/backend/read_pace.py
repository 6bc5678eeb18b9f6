"""How often the consumer of a stream wants its network reads (used by backend/network.py).

Its own module, free of httpx and httpcore: the TUI sets a pace on the way to its first paint."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["READ_PACE", "ReadPace"]


class ReadPace:
    """How often the consumer of a stream wants network reads: `interval` seconds apart at the
    least while the stream is slow, 0 for as soon as data arrives. `watch`: someone is looking
    at the stream, so its end is read the moment it arrives (at a little CPU per network
    packet); otherwise nothing at all is done between reads. Mutable: a pane going to the
    background reads less often from its next read on."""

    __slots__ = ("interval", "watch")

    def __init__(self, interval: float = 0.0, *, watch: bool = False) -> None:
        self.interval = interval
        self.watch = watch


READ_PACE: ContextVar[ReadPace | None] = ContextVar("glmchat_read_pace", default=None)
"""Set in the task that consumes a stream (tasks it starts inherit it); read per network read."""
