"""What the engine tells its front-ends while an exchange runs, and how the exchange ended.

The backend's `ReasoningDelta`, `ContentDelta`, `Usage` and `RetryScheduled` pass through as
they are (the per-token path adds no wrapping); the engine adds the events below."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glmchat.backend.errors import ProviderError
from glmchat.backend.events import ContentDelta, ReasoningDelta, RetryScheduled, ToolCall, Usage


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
    tool_calls: tuple[ToolCall, ...] = ()  # asked for by the model (not run yet)
    saved: bool = True  # False when saving was off or failed
    timings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExchangeEnded:
    result: ExchangeResult


EngineEvent = ReasoningDelta | ContentDelta | Usage | RetryScheduled | SaveFailed | ExchangeEnded


def retry_announcement(event: RetryScheduled) -> str:
    """One line for a retry the client is waiting out (ask prints it; the TUI counts down)."""
    from glmchat.sentences import join_sentences

    retrying = (
        f"Retrying in {event.delay:.1f} s (attempt {event.attempt + 1} of {event.max_attempts})"
    )
    return join_sentences(event.error, retrying)
