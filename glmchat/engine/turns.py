"""A conversation's turns as the engine keeps them, and the one history policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glmchat.backend.events import Message

if TYPE_CHECKING:
    from glmchat.store import StoredMessage


@dataclass
class Turn:
    """One user prompt or one assistant answer, as shown and as stored."""

    role: str  # "user" or "assistant"
    content: str
    message_id: int | None = None
    reasoning: str = ""
    status: str = "complete"  # complete, partial, cancelled, error (the store's statuses)
    error: str | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None

    @property
    def answered(self) -> bool:
        """An answer that the model may see again: it has text, whatever its status."""
        return self.role == "assistant" and bool(self.content.strip())


def turns_from_stored(messages: Iterable[StoredMessage]) -> list[Turn]:
    return [
        Turn(
            role=m.role,
            content=m.content,
            message_id=m.id,
            reasoning=m.reasoning or "",
            status=m.status,
            error=m.error,
            finish_reason=m.finish_reason,
            usage=m.usage,
            timings=m.timings,
        )
        for m in messages
        if m.role in ("user", "assistant")
    ]


def history(turns: Sequence[Turn]) -> tuple[Message, ...]:
    """What is sent back to the model: each prompt with the answer it got, never reasoning.

    A prompt is sent only together with an answer that has text (complete, partial or
    stopped by the user: the user saw that text). A prompt whose answer failed or was
    stopped before any text is left out, with its empty answer: the user asks again, and the
    model must not see the same prompt twice. A prompt with no answer row at all (the process
    died before the request) is left out too, so two user turns never follow each other."""
    out: list[Message] = []
    for i, turn in enumerate(turns):
        if turn.role != "user":
            continue
        answer = turns[i + 1] if i + 1 < len(turns) else None
        if answer is None or not answer.answered or not turn.content.strip():
            continue
        out.append(Message("user", turn.content))
        out.append(Message("assistant", answer.content))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """This conversation's figures: the answers it holds now (a retried answer is gone)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    context_tokens: int = 0  # the last answer's total: what the next request starts from
    answers: int = 0  # answers that reported usage


def usage_totals(turns: Iterable[Turn]) -> UsageTotals:
    prompt = completion = cached = context = answers = 0
    for turn in turns:
        usage = turn.usage
        if turn.role != "assistant" or not usage:
            continue
        answers += 1
        prompt += _num(usage.get("prompt_tokens"))
        completion += _num(usage.get("completion_tokens"))
        cached += _num(usage.get("cached_tokens"))
        context = _num(usage.get("total_tokens")) or context
    return UsageTotals(prompt, completion, cached, context, answers)


def _num(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
