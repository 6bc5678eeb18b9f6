"""StreamRecorder: saves a streaming answer about once a second, then finalises it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glmchat.store.models import CostSource, Status
from glmchat.store.sessions import SessionStore

if TYPE_CHECKING:  # the backend's events load with the engine, not with the store
    from glmchat.backend.events import Usage


class StreamRecorder:
    """Accumulates reasoning and content deltas for one assistant row and checkpoints them.

    A checkpoint is written at most once per `interval` (never one write per token), when a
    delta arrives after the interval has passed, or when the caller calls `tick()` from a
    timer. A killed process therefore loses at most about `interval` seconds of text, and the
    row it leaves says `partial`. Without a store (saving off, or failed and `detach`ed) it
    only accumulates the text and its timings."""

    def __init__(
        self,
        store: SessionStore | None,
        message_id: int | None,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.message_id = message_id
        self.interval = interval
        self._clock = clock
        # Lists, joined lazily: `+=` on a growing str would copy the whole answer per token.
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._started = clock()
        self._last_write = self._started
        self._dirty = False
        self._first_reasoning: float | None = None
        self._first_content: float | None = None
        self._first_call: float | None = None  # the first tool call's first fragment
        self.checkpoints = 0  # how many checkpoint writes were made (for tests and stats)
        self.finished = False

    @property
    def content(self) -> str:
        return _joined(self._content)

    @property
    def reasoning(self) -> str:
        return _joined(self._reasoning)

    def add_reasoning(self, text: str) -> None:
        if not text:
            return
        if self._first_reasoning is None:
            self._first_reasoning = self._clock()
        self._reasoning.append(text)
        self._dirty = True
        self.tick()

    def add_content(self, text: str) -> None:
        if not text:
            return
        if self._first_content is None:
            self._first_content = self._clock()
        self._content.append(text)
        self._dirty = True
        self.tick()

    def output_started(self) -> None:
        """The model's first tool call began: its thinking ends there, not when the round is
        closed (after the calls waited for the user and ran)."""
        if self._first_call is None and self._first_reasoning is not None:
            self._first_call = self._clock()

    def tick(self) -> bool:
        """Checkpoint if there is unsaved text and the interval has passed; returns whether
        it wrote. Safe to call often, e.g. from a timer while the stream is quiet."""
        if not self._dirty or self.finished or self.store is None or self.message_id is None:
            return False
        now = self._clock()
        if now - self._last_write < self.interval:
            return False
        self.store.checkpoint(self.message_id, self.content, self.reasoning)
        self._last_write = now
        self._dirty = False
        self.checkpoints += 1
        return True

    def detach(self) -> None:
        """Stop writing (the store failed); the text keeps accumulating."""
        self.store = None

    def timings(self) -> dict[str, float]:
        """Seconds from the start: to the first reasoning and content, thinking time, total."""
        now = self._clock()
        out = {"total_seconds": round(now - self._started, 3)}
        if self._first_reasoning is not None:
            out["first_reasoning_seconds"] = round(self._first_reasoning - self._started, 3)
            ends = [t for t in (self._first_content, self._first_call) if t is not None]
            thinking_end = min(ends, default=now)
            out["thinking_seconds"] = round(thinking_end - self._first_reasoning, 3)
        if self._first_content is not None:
            out["first_content_seconds"] = round(self._first_content - self._started, 3)
        return out

    def finish(
        self,
        *,
        status: Status,
        usage: dict[str, Any] | Usage | None = None,
        error: str | None = None,
        finish_reason: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        cost: float | None = None,
        cost_source: CostSource | None = None,
        web_search: list[dict[str, str]] | None = None,
    ) -> None:
        """Write the final text and status (complete, partial, cancelled or error), what the
        answer cost, and the web search results its citations name."""
        self.finished = True
        self._dirty = False
        if self.store is None or self.message_id is None:
            return
        self.store.finish_assistant(
            self.message_id,
            content=self.content,
            reasoning=self.reasoning,
            status=status,
            usage=usage,
            error=error,
            finish_reason=finish_reason,
            timings=self.timings(),
            tool_calls=tool_calls,
            cost=cost,
            cost_source=cost_source,
            web_search=web_search,
        )


def _joined(parts: list[str]) -> str:
    if len(parts) > 1:
        parts[:] = ["".join(parts)]  # keep later joins cheap
    return parts[0] if parts else ""
