"""The context budget's shape: a long history is counted once per message and then from the
cache, the fitting start is found in one pass, and leaving out turns shortens the request."""

from __future__ import annotations

import pytest

from glmchat.backend.events import ChatRequest, Message
from glmchat.engine import budget
from glmchat.engine.budget import Budget, estimate_request, fitting_start
from glmchat.engine.turns import Turn
from glmchat.token_estimate import estimate_tokens


def conversation(exchanges: int, words: int = 100) -> list[Turn]:
    turns: list[Turn] = []
    for i in range(exchanges):
        turns.append(Turn("user", f"q{i:03d} " + "word " * words))
        turns.append(Turn("assistant", f"a{i:03d} " + "word " * words))
    return turns


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the estimator actually reads (not answered from the cache)."""
    seen: list[str] = []
    real = budget.estimate_tokens

    def counting(text: str) -> int:
        seen.append(text)
        return real(text)

    budget._text_tokens.cache_clear()
    monkeypatch.setattr(budget, "estimate_tokens", counting)
    return seen


def test_a_long_history_is_read_once_then_from_the_cache(counted: list[str]) -> None:
    turns = conversation(500)  # 1,000 messages
    messages = tuple(Message(t.role, t.content) for t in turns)  # type: ignore[arg-type]
    request = ChatRequest(model="m", messages=messages)
    first = estimate_request(request)
    assert len(counted) == 1000
    counted.clear()
    again = ChatRequest(model="m", messages=(*messages, Message("user", "one more")))
    assert estimate_request(again) > first
    assert counted == ["one more"]  # the 1,000 earlier texts come from the cache


def test_fitting_start_is_the_fewest_exchanges_left_out(counted: list[str]) -> None:
    turns = conversation(500)
    per_exchange = 2 * (budget.MESSAGE_OVERHEAD + estimate_tokens("q000 " + "word " * 100))
    window = 10 * per_exchange + 50
    start = fitting_start(turns, 0, 50, window)
    assert start is not None and turns[start].role == "user"
    kept = len(turns) - start
    assert kept == 20  # the last ten exchanges, and not one more
    assert len(counted) <= len(turns)  # one pass: each text read at most once
    assert fitting_start(turns, 0, window + 1, window) is None  # the prompt alone is too big
    assert fitting_start([], 0, 10, 100) == 0


def test_budget_shares() -> None:
    assert Budget(80, 100).near_limit and Budget(80, 100).fits
    assert not Budget(101, 100).fits and Budget(10**9, None).fits
    assert Budget(10, None).share is None and not Budget(79, 100).near_limit


def test_room_is_kept_for_the_answer() -> None:
    # max_tokens when set, else ANSWER_ROOM; never above the model's output nor a quarter of
    # the window.
    assert budget.answer_room(200_000, None, 98_304) == budget.ANSWER_ROOM
    assert budget.answer_room(200_000, 20_000, 98_304) == 20_000
    assert budget.answer_room(200_000, None, 1_000) == 1_000
    assert budget.answer_room(200_000, 150_000, None) == 50_000
    assert budget.answer_room(8_000, None, None) == 2_000
    # A request that fills the window leaves the model nothing to answer with.
    assert Budget(96, 100, room=4).fits and not Budget(97, 100, room=4).fits
    assert Budget(97, 100, room=4).share == 0.97
