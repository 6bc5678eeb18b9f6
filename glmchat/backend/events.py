"""The values a provider stream yields, and the request that starts one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


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
class Message:
    """One message of history as sent to the model.

    An assistant message may carry the tool calls it made; a `tool` message answers one call
    (`tool_call_id`). `reasoning` (and OpenRouter's `reasoning_details`, verbatim) is set only
    on assistant messages inside the tool loop being run: the dialect decides the field it goes
    in for each provider, or leaves it out (wire/TOOLS.md section 2.5). Plain turns never
    carry it."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    reasoning: str | None = None
    reasoning_details: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    thinking: bool = True
    # How hard the model thinks, on models that take it (GLM-5.2 on: "low", "high", "max");
    # None leaves the provider's default. The engine sets it from the catalogue.
    reasoning_effort: str | None = None
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    # Tool specs in the wire form (`{"type": "function", "function": {...}}`, and Z.ai's
    # `{"type": "web_search", ...}`); `tool_choice` is sent only with tools.
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] | None = None
    tool_stream: bool = False  # Z.ai: stream tool-call arguments (GLM-4.6 and later)
    response_format: dict[str, Any] | None = None


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
class Finish:
    """The stream ended properly; `reason` is the provider's finish_reason.

    `tool_calls` holds every call the model asked for, in order (also when the reason is not
    `tool_calls`: some servers say `stop`)."""

    reason: str
    tool_calls: tuple[ToolCall, ...] = ()
    # OpenRouter's reasoning_details items, merged across chunks, to send back verbatim inside
    # a tool loop.
    reasoning_details: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A tool call as it streams: the call at `index` got `arguments` appended (and its id and
    name when they first arrive). The whole calls come on `Finish`."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class WebSearchResults:
    """Z.ai's server-side web_search results (top-level `web_search`, on the final chunk): items
    with `title`, `content`, `link`, `media`, `icon`, `refer` (`ref_N`), `publish_date`."""

    results: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A retryable error arrived before any text; the client waits `delay` seconds."""

    attempt: int
    max_attempts: int
    delay: float
    error: str = field(default="")


StreamEvent = (
    ReasoningDelta
    | ContentDelta
    | Usage
    | Finish
    | RetryScheduled
    | ToolCallDelta
    | WebSearchResults
)
