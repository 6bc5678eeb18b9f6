"""What the engine tells its front-ends while an exchange runs, and how the exchange ended.

The backend's `ReasoningDelta`, `ContentDelta`, `Usage` and `RetryScheduled` pass through as
they are (the per-token path adds no wrapping); the engine adds the events below."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from glmchat.backend.errors import ProviderError
from glmchat.backend.events import (
    ContentDelta,
    ReasoningDelta,
    RetryScheduled,
    Usage,
    WebSearchResults,
)
from glmchat.engine.spending import Spending
from glmchat.tools.base import Decision

ToolState = Literal[
    "streaming",  # the model is still writing its arguments
    "queued",  # its arguments are complete; an earlier call of its round waits or runs
    "waiting",  # asked the user for approval
    "running",
    "ok",
    "error",  # the tool failed (the model was told)
    "denied",  # the user said no (the model was told)
    "timeout",
    "cancelled",  # the exchange was stopped
    "not_run",  # no such tool, or rounds used up
]


@dataclass(frozen=True, slots=True)
class SaveFailed:
    """Saving stopped working in the middle of the conversation (said once per failure)."""

    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    """How one exchange ended; the assistant turn holds the same text."""

    status: str  # complete, partial, cancelled, error: as stored
    content: str
    reasoning: str
    finish_reason: str | None = None
    usage: Usage | None = None
    error: ProviderError | None = None
    note: str | None = None  # a finish reason worth telling ("stopped at max_tokens")
    cancelled: bool = False
    # Every call the model asked for in the exchange, in order across rounds, as it ended.
    tool_calls: tuple[ToolCallUpdate, ...] = ()
    web_search: tuple[dict[str, Any], ...] = ()  # Z.ai web_search results, for citations
    saved: bool = True  # False when saving was off or failed
    timings: dict[str, Any] = field(default_factory=dict)
    # What the exchange cost (all its model calls) in USD, and where the figure came from
    # ("provider" or "catalogue"); None when unknown (glmchat/costs.py).
    cost: float | None = None
    cost_source: str | None = None
    spending: Spending = field(default_factory=Spending)  # [budget] and the coding plan


@dataclass(frozen=True, slots=True)
class ExchangeEnded:
    result: ExchangeResult


@dataclass(frozen=True, slots=True)
class ToolCallUpdate:
    """One tool call's progress: sent as its arguments stream, when it waits for approval,
    runs, and ends. `key` identifies the call in the exchange (round and position)."""

    key: tuple[int, int]  # (round, index in that round)
    call_id: str
    name: str  # the wire name the model used
    title: str  # what the user sees ("server__tool" mapped back, or the name)
    arguments: str
    state: ToolState
    result: str | None = None
    seconds: float | None = None


@dataclass(slots=True)
class ApprovalRequest:
    """The engine waits for the front-end's answer before running `call`."""

    call: ToolCallUpdate
    read_only: bool
    future: asyncio.Future[Decision]

    def answer(self, decision: Decision) -> None:
        if not self.future.done():
            self.future.set_result(decision)


@dataclass(frozen=True, slots=True)
class RoundStarted:
    """The model is called again with the tool results (round 1 is the second call)."""

    round: int


EngineEvent = (
    ReasoningDelta
    | ContentDelta
    | Usage
    | RetryScheduled
    | SaveFailed
    | ExchangeEnded
    | ToolCallUpdate
    | ApprovalRequest
    | RoundStarted
    | WebSearchResults
)


def retry_announcement(event: RetryScheduled) -> str:
    """One line for a retry the client is waiting out (ask prints it; the TUI counts down)."""
    from glmchat.sentences import join_sentences

    retrying = (
        f"Retrying in {event.delay:.1f} s (attempt {event.attempt + 1} of {event.max_attempts})"
    )
    return join_sentences(event.error, retrying)
