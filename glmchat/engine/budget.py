"""The context window as a budget: a request's size estimated before it is sent, whether it
fits the model's window, and how many of the oldest turns to leave out so that it does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from glmchat.backend.events import ChatRequest, Message
from glmchat.engine.turns import Turn, history
from glmchat.errors import GlmchatError
from glmchat.token_estimate import estimate_tokens

# Near this share of the window the status bar warns.
NEAR_LIMIT = 0.8
# Tokens of the window kept for the answer when no max_tokens is set. The answer and its
# thinking count against the same window as the request: one that fills the window leaves the
# model no room, and GLM stops at once (`model_context_window_exceeded`).
ANSWER_ROOM = 4096
# Tokens each message costs beyond its text (role markers of the chat template).
MESSAGE_OVERHEAD = 4


@lru_cache(maxsize=8192)
def _text_tokens(text: str) -> int:
    # Cached by the string: a long conversation re-sends the same texts every time, and a
    # str's hash is computed once, so an unchanged history is counted in O(messages).
    return estimate_tokens(text)


def message_tokens(message: Message) -> int:
    tokens = MESSAGE_OVERHEAD + _text_tokens(message.content)
    for call in message.tool_calls:
        tokens += _text_tokens(call.name) + _text_tokens(call.arguments)
    if message.reasoning:
        tokens += _text_tokens(message.reasoning)
    return tokens


def estimate_request(request: ChatRequest) -> int:
    """About how many prompt tokens `request` is (an estimate, not the provider's count)."""
    tokens = sum(message_tokens(m) for m in request.messages)
    if request.system:
        tokens += MESSAGE_OVERHEAD + _text_tokens(request.system)
    if request.tools:
        tokens += _text_tokens(json.dumps(request.tools, separators=(",", ":")))
    return tokens


def answer_room(window: int, max_tokens: int | None, max_output: int | None) -> int:
    """Tokens of `window` kept for the answer: max_tokens when set, else ANSWER_ROOM; never
    more than the model's maximum output, nor a quarter of the window (a small local model's
    window still takes a prompt)."""
    room = ANSWER_ROOM if max_tokens is None else max_tokens
    if max_output:
        room = min(room, max_output)
    return max(0, min(room, window // 4))


@dataclass(frozen=True, slots=True)
class Budget:
    """A request's estimated size against the model's window (None: the window is unknown),
    and the room kept in it for the answer."""

    tokens: int
    window: int | None
    room: int = 0

    @property
    def share(self) -> float | None:
        return None if not self.window else self.tokens / self.window

    @property
    def fits(self) -> bool:
        return self.window is None or self.tokens + self.room <= self.window

    @property
    def near_limit(self) -> bool:
        return self.share is not None and self.share >= NEAR_LIMIT


class DoesNotFit(GlmchatError):
    """The request would not fit the model's window: it was not sent (it would be refused).

    `omit_before` is the turn index from which the history would fit (leave out the turns
    before it), or None when even the newest prompt alone is too long."""

    def __init__(self, message: str, budget: Budget, omit_before: int | None) -> None:
        super().__init__(message)
        self.budget = budget
        self.omit_before = omit_before


@dataclass(frozen=True, slots=True)
class Fit:
    """A request's estimated size, and the earliest exchange boundary from which its history
    fits the window (None: not even the new prompt alone does)."""

    tokens: int
    start: int | None


def fit_from_end(
    turns: Sequence[Turn], start: int, fixed: int, window: int | None, *, whole: bool = True
) -> Fit:
    """The history of `turns` from `start` plus `fixed` tokens (the new prompt, the system
    prompt, tools) against `window`, walked back from the newest exchange: what fits is
    counted and no more. `whole`: add up the size of the rest too (the exact total, for the
    message that says by how much it is over); each exchange's size is kept on its prompt's
    turn, so what was counted once is never estimated again."""
    total = fixed
    fitting = len(turns) if window is None or fixed <= window else None
    end = len(turns)
    for at in range(len(turns) - 1, start - 1, -1):
        if turns[at].role != "user":
            continue
        total += exchange_tokens(turns[at:end])
        end = at
        if window is None or total <= window:
            fitting = at
        elif not whole:
            break
    return Fit(total, fitting)


def exchange_tokens(exchange: Sequence[Turn]) -> int:
    """What one exchange (a prompt and what followed it) adds to a request, as `history`
    sends it; kept on the prompt's turn with what it was counted from."""
    key = tuple(_counted_from(turn) for turn in exchange)
    kept = exchange[0].sent_tokens
    if kept is not None and kept[0] == key:
        return kept[1]
    tokens = sum(message_tokens(m) for m in history(exchange))
    exchange[0].sent_tokens = (key, tokens)
    return tokens


def _counted_from(turn: Turn) -> tuple[object, ...]:
    # Everything `history` reads of a turn; the same strings compare by identity, in O(1).
    calls = turn.tool_calls and tuple(
        (call.get("id"), call.get("name"), call.get("arguments")) for call in turn.tool_calls
    )
    return (turn.role, turn.content, turn.tool_call_id, calls)


def fitting_start(turns: Sequence[Turn], start: int, fixed: int, window: int) -> int | None:
    """The earliest exchange boundary (a user turn at or after `start`) from which the history
    of `turns` plus `fixed` tokens fits `window`; None if none does. Walks back from the end
    and stops where the window is full."""
    return fit_from_end(turns, start, fixed, window, whole=False).start


CARRY_CHARS = 2000  # of each turn carried into a fork: the gist, not the whole


def carry_over(title: str, turns: Sequence[Turn], prompt: str) -> str:
    """A new conversation's first prompt: the last turns' text as context, then the prompt."""
    lines = [f'Context from an earlier conversation ("{title}"), its last turns:', ""]
    for turn in turns:
        text = turn.content.strip()
        if len(text) > CARRY_CHARS:
            text = text[:CARRY_CHARS].rstrip() + " […]"
        who = "Me" if turn.role == "user" else "You"
        lines.append(f"{who}: {text}")
        lines.append("")
    lines.append(prompt)
    return "\n".join(lines)
