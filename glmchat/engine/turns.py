"""A conversation's turns as the engine keeps them, and the one history policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glmchat.backend.events import Message, ToolCall
from glmchat.costs import counts_as_answer

if TYPE_CHECKING:
    from glmchat.store import StoredMessage
    from glmchat.store.models import Role, Status


@dataclass
class Turn:
    """One user prompt or one assistant answer, as shown and as stored."""

    role: Role  # "user", "assistant" or "tool"
    content: str
    message_id: int | None = None
    reasoning: str = ""
    status: Status = "complete"
    error: str | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    # An assistant turn: the calls it made ({"id", "name", "arguments"}); a tool turn: the one
    # record of its call ({"id", "name", "title", "arguments", "status", "seconds"}).
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    cost: float | None = None  # an answer's, in USD (None: unknown); glmchat/costs.py
    cost_source: str | None = None
    # An answer's: the web search results its model call received (glmchat/web_sources.py).
    web_search: list[dict[str, str]] | None = None
    # The tree (engine/branches.py): the stored id of the turn this one follows (None: a root
    # or never saved), and this turn's 1-based place among its siblings and their count, for
    # drawing `‹ 2/3 ›`.
    parent_id: int | None = None
    siblings: tuple[int, int] = (1, 1)
    # On a prompt's turn: the tokens its exchange adds to a request, and what they were counted
    # from (engine/budget.py), so that a long history is estimated once, not on every prompt.
    sent_tokens: tuple[tuple[Any, ...], int] | None = field(default=None, repr=False, compare=False)
    # A saved answer that never finished: another glmchat may still be writing it, or a crash
    # cut it off (its row is partial with no end time; a stopped or cut stream has one).
    unfinished: bool = False
    # What the stored row says besides, which an export of what the engine holds (the store
    # lost the conversation, or never had it) must say too: the model asked (a prompt's and an
    # answer's; a tool row has none), and when the turn began and ended, in the store's form
    # (ISO 8601 UTC, milliseconds, "Z"). An answer's end is set when its model call ends.
    provider: str | None = None
    model: str | None = None
    thinking: bool | None = None
    started: str | None = None
    finished: str | None = None

    @property
    def answered(self) -> bool:
        """An answer that the model may see again: it has text, whatever its status."""
        return self.role == "assistant" and bool(self.content.strip())


def turn_from_stored(m: StoredMessage) -> Turn:
    return Turn(
        role=m.role,
        content=m.content,
        message_id=m.id,
        reasoning=m.reasoning or "",
        status=m.status,
        error=m.error,
        finish_reason=m.finish_reason,
        usage=m.usage,
        timings=m.timings,
        tool_calls=m.tool_calls,
        tool_call_id=m.tool_call_id,
        cost=m.cost,
        cost_source=m.cost_source,
        parent_id=m.parent_id,
        web_search=m.web_search,
        unfinished=m.role == "assistant" and m.status == "partial" and m.finished is None,
        provider=m.provider,
        model=m.model,
        thinking=m.thinking,
        started=m.started,
        finished=m.finished,
    )


def turns_from_stored(messages: Iterable[StoredMessage]) -> list[Turn]:
    """Turns for these messages, in their order (one branch; engine/branches.py builds the
    tree of a whole conversation)."""
    return [turn_from_stored(m) for m in messages if m.role in ("user", "assistant", "tool")]


def history(turns: Sequence[Turn]) -> tuple[Message, ...]:
    """What is sent back to the model: each exchange that got an answer, never reasoning.

    An exchange is a prompt and what followed it: tool-call rounds (the assistant's calls and
    one tool result per call) and the answer. It is sent when it got anywhere: an answer with
    text (complete, partial or stopped by the user: the user saw that text), or a second
    round (the first round's calls got their results and the model was asked again with
    them), however its last round ended (found by QA: an answer stopped in its second round
    before any text, after "Let me check." and a call, was shown on the branch but never sent
    again, and its prompt was given back). A prompt whose answer failed or was stopped in its
    first round before any text (also while that round's calls waited or ran) is left out with
    all that followed it: its error shows it was not answered, the prompt is given back to ask
    again (`unanswered`), and the model must not see the same prompt twice. A prompt with no
    answer row at all was never asked (a fork or an import that ends on it, or a process that
    died before the request): it is shown like any other, so it is sent like any other, even
    when the next turn is a user turn too (found by QA: a fork at a prompt dropped it
    silently).

    The shape every provider takes: tool calls go back only with a result for every call, as
    the protocol wants (a round cut in its calls' arguments sends its text, not its calls);
    an answer with no text and no calls sent back is no message at all (an assistant message
    needs content or calls: wire/TOOLS.md 1.4), so after an exchange whose last round was
    stopped or failed before any text, the next prompt follows that exchange's last tool
    results, as it does after an exchange stopped while its tool ran."""
    out: list[Message] = []
    start = 0
    while start < len(turns):
        end = start + 1
        while end < len(turns) and turns[end].role != "user":
            end += 1
        out.extend(_exchange_messages(turns[start:end]))
        start = end
    return tuple(out)


def _exchange_messages(exchange: Sequence[Turn]) -> list[Message]:
    prompt, rest = exchange[0], exchange[1:]
    if prompt.role != "user" or not prompt.content.strip():
        return []
    if not rest:  # never asked: see `history`
        return [Message("user", prompt.content)]
    answers = [turn for turn in rest if turn.role == "assistant"]
    # A second answer turn is a second round: the first round's results went to the model.
    if len(answers) < 2 and not any(turn.answered for turn in answers):
        return []
    results = {turn.tool_call_id: turn for turn in rest if turn.role == "tool"}
    out = [Message("user", prompt.content)]
    for turn in rest:
        if turn.role != "assistant":
            continue
        calls = tuple(
            ToolCall(str(c.get("id", "")), str(c.get("name", "")), str(c.get("arguments", "")))
            for c in turn.tool_calls or ()
        )
        if calls and all(call.id in results for call in calls):
            out.append(Message("assistant", turn.content, tool_calls=calls))
            out.extend(
                Message("tool", results[call.id].content, tool_call_id=call.id) for call in calls
            )
        elif turn.answered:
            out.append(Message("assistant", turn.content))
    # Rounds with neither text nor calls with results (an import may hold such): not answered.
    return out if len(out) > 1 else []


def unanswered(turns: Sequence[Turn]) -> Turn | None:
    """The last exchange's prompt when `history` leaves that exchange out: its answer failed
    or was stopped in its first round before any text. A front-end gives it back (the TUI's
    box, a line from `ask`), since the branch shows it but the next request will not hold
    it. An exchange that got further (text, or a second round) is sent, so its prompt is not
    given back."""
    for at in range(len(turns) - 1, -1, -1):
        if turns[at].role == "user":
            exchange = turns[at:]
            left_out = bool(exchange[0].content.strip()) and not _exchange_messages(exchange)
            return exchange[0] if left_out else None
    return None


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """This conversation's figures: the answers it holds now (a retried answer is gone)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    context_tokens: int = 0  # the last answer's total: what the next request starts from
    answers: int = 0  # answers that reported usage
    # Money: the known costs summed, how many answers' costs are unknown, and the last
    # exchange's (the answers after the last prompt, tool rounds included).
    cost: float = 0.0
    unpriced: int = 0
    last_cost: float | None = None
    last_estimated: bool = False  # the last cost was computed from prices, not reported
    estimated: bool = False  # some of `cost` was computed from prices
    last_counted: bool = False  # the last exchange has an answer that counts (counts_as_answer)


def usage_totals(turns: Iterable[Turn]) -> UsageTotals:
    prompt = completion = cached = context = answers = unpriced = 0
    cost = 0.0
    last_cost: float | None = None
    last_estimated = last_unknown = estimated = last_counted = False
    for turn in turns:
        if turn.role == "user":
            last_cost, last_estimated, last_unknown, last_counted = None, False, False, False
        usage = turn.usage
        if not counts_as_answer(turn):
            continue
        last_counted = True
        if turn.cost is None:
            unpriced += 1
            last_unknown = True
        else:
            cost += turn.cost
            last_cost = (last_cost or 0.0) + turn.cost
            last_estimated = last_estimated or turn.cost_source != "provider"
            estimated = estimated or turn.cost_source != "provider"
        if not usage:
            continue
        answers += 1
        prompt += _num(usage.get("prompt_tokens"))
        completion += _num(usage.get("completion_tokens"))
        cached += _num(usage.get("cached_tokens"))
        context = _num(usage.get("total_tokens")) or context
    if last_unknown:
        last_cost = None  # a part of the last exchange has no known cost
    return UsageTotals(
        prompt,
        completion,
        cached,
        context,
        answers,
        cost,
        unpriced,
        last_cost,
        last_estimated,
        estimated,
        last_counted,
    )


def _num(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
