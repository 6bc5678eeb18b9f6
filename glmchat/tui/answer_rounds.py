"""A saved conversation's turns as the log shows them: each prompt, then its whole answer (the
model calls of a tool loop with their reasoning, text and tool calls) as one message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, get_args

from glmchat.engine.events import ToolCallUpdate, ToolState
from glmchat.engine.turns import Turn
from glmchat.web_sources import cite, numbered_rounds

_STATES: frozenset[str] = frozenset(get_args(ToolState))


@dataclass(frozen=True, slots=True)
class AnswerRound:
    """One model call of an answer: its reasoning, its text, and the tool calls it made."""

    content: str = ""
    reasoning: str = ""
    reasoning_seconds: float | None = None
    reasoning_tokens: int | None = None  # the provider's count, if it sent one
    calls: tuple[ToolCallUpdate, ...] = ()
    web_search: Sequence[Mapping[str, Any]] = ()  # the results its citations name


def exchanges(turns: Sequence[Turn]) -> list[tuple[Turn, ...]]:
    """The turns grouped as the log shows them: a prompt alone, then the assistant and tool
    turns that answered it together."""
    groups: list[list[Turn]] = []
    for turn in turns:
        if turn.role == "user" or not groups or groups[-1][0].role == "user":
            groups.append([turn])
        else:
            groups[-1].append(turn)
    return [tuple(group) for group in groups]


def answer_rounds(turns: Sequence[Turn]) -> list[AnswerRound]:
    """An answer's assistant turns as rounds, each call with what became of it (its tool row:
    state, result, time; a call with no row was never run)."""
    results = {turn.tool_call_id: turn for turn in turns if turn.role == "tool"}
    used: set[str | None] = set()
    rounds: list[AnswerRound] = []
    for turn in turns:
        if turn.role != "assistant":
            continue
        index = len(rounds)
        calls = []
        for position, call in enumerate(turn.tool_calls or ()):
            call_id = str(call.get("id") or "")
            row = results.get(call_id)
            used.add(call_id)
            calls.append(_call((index, position), call, row))
        usage = turn.usage or {}
        tokens = usage.get("reasoning_tokens")
        rounds.append(
            AnswerRound(
                content=turn.content,
                reasoning=turn.reasoning,
                reasoning_seconds=(turn.timings or {}).get("thinking_seconds"),
                reasoning_tokens=tokens if isinstance(tokens, int) and tokens > 0 else None,
                calls=tuple(calls),
                web_search=turn.web_search or (),
            )
        )
    # A tool row whose call is not on any assistant row (an edited database): shown, not lost.
    orphans = [t for t in turns if t.role == "tool" and t.tool_call_id not in used]
    if orphans:
        last = rounds.pop() if rounds else AnswerRound()
        index = len(rounds)
        extra = tuple(
            _call((index, len(last.calls) + n), (turn.tool_calls or [{}])[0], turn)
            for n, turn in enumerate(orphans)
        )
        rounds.append(
            AnswerRound(
                last.content,
                last.reasoning,
                last.reasoning_seconds,
                last.reasoning_tokens,
                last.calls + extra,
                last.web_search,
            )
        )
    return rounds


def cited(rounds: Sequence[AnswerRound]) -> tuple[list[AnswerRound], list[Mapping[str, Any]]]:
    """The rounds with their `[ref_N]` citations numbered, and the answer's sources: every
    round's results in order, a later round's numbered on from the earlier ones'."""
    sources, firsts = numbered_rounds([each.web_search for each in rounds])
    if not sources:
        return list(rounds), []
    return [
        replace(each, content=cite(each.content, each.web_search, first))
        for each, first in zip(rounds, firsts, strict=True)
    ], sources


def _call(key: tuple[int, int], call: dict[str, Any], row: Turn | None) -> ToolCallUpdate:
    record: dict[str, Any] = (row.tool_calls or [{}])[0] if row is not None else {}
    name = str(call.get("name") or record.get("name") or "")
    state: Any = "not_run"
    if row is not None:
        state = record.get("status")
        if state not in _STATES or state in ("streaming", "waiting", "running"):
            state = "cancelled" if row.status == "cancelled" else "ok"
    seconds = record.get("seconds")
    return ToolCallUpdate(
        key=key,
        call_id=str(call.get("id") or (row.tool_call_id if row is not None else "") or ""),
        name=name,
        title=str(record.get("title") or name),
        arguments=str(call.get("arguments") or record.get("arguments") or ""),
        state=state,
        result=row.content if row is not None else None,
        seconds=float(seconds) if isinstance(seconds, int | float) else None,
    )
