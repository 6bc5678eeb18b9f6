"""The values a provider stream yields, and the request that starts one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of history as sent to the model (reasoning is never sent back)."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    thinking: bool = True
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ContentDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the provider reported them: a count it did not send is None, never 0."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost: float | None = None

    def as_dict(self) -> dict[str, int | float | None]:
        out: dict[str, int | float | None] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }
        if self.cost is not None:
            out["cost"] = self.cost
        return out


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the model asked for, put together from however many chunks it came in."""

    id: str
    name: str
    # The JSON text exactly as the model sent it: it goes back in history byte for byte, and a
    # call cut short stays visible as what it is.
    arguments: str
    type: str = "function"


@dataclass(frozen=True, slots=True)
class Finish:
    """The stream ended properly; `reason` is the provider's finish_reason.

    `tool_calls` holds every call the model asked for, in order (also when the reason is not
    `tool_calls`: some servers say `stop`)."""

    reason: str
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A retryable error arrived before any text; the client waits `delay` seconds."""

    attempt: int
    max_attempts: int
    delay: float
    error: str = field(default="")


StreamEvent = ReasoningDelta | ContentDelta | Usage | Finish | RetryScheduled
