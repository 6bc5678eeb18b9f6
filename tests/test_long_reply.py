"""A reply into a long conversation costs what one into a short one does: the context budget
walks back from the newest exchange and counts what fits, not the whole conversation; the
work of each streaming tick does not walk the mounted history. Shapes are counted, never
timed."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from textual.dom import DOMNode

from glmchat import paths
from glmchat.backend.events import ChatRequest, Message
from glmchat.config import load_settings
from glmchat.engine import ConversationEngine, budget, conversation, turns
from glmchat.engine.budget import DoesNotFit, estimate_request
from glmchat.engine.turns import Turn
from glmchat.store import SessionStore
from glmchat.token_estimate import estimate_tokens
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage
from tests.test_ask_models import add_config
from tests.test_long_conversation import long_conversation
from tests.tui_helpers import active, message, running, seed, send, stream, wait_for_stream
from tests.wire_server import Reply, WireServer

WINDOW = 3000  # tokens: about a dozen of the exchanges below
LIMIT = WINDOW - WINDOW // 4  # what the request may fill: a quarter is kept for the answer


def wordy_conversation(conversation_id: str, exchanges: int) -> str:
    """`exchanges` exchanges of about 100 tokens each, every text different (as in life: the
    estimate's own cache of texts cannot hide a walk of the whole conversation)."""
    rows = []
    for i in range(exchanges):
        rows.append(message("user", f"question {i} " + "word " * 40, position=len(rows)))
        if i % 5 == 1:  # a tool round: the call and its result go back with the answer
            call = {"id": f"call-{i}", "name": "lookup", "arguments": f'{{"q": "{i}"}}'}
            rows.append(message("assistant", "", position=len(rows), tool_calls=[call]))
            rows.append(
                message("tool", "found " * 30, position=len(rows), tool_call_id=f"call-{i}")
            )
        rows.append(message("assistant", f"answer {i} " + "word " * 40, position=len(rows)))
    return seed(conversation_id, "Wordy", rows)


@pytest.fixture
def engine_for() -> Iterator[Any]:
    add_config(f'[models."zai/glm-4.5"]\ncontext = {WINDOW}\n')
    settings = load_settings()
    store = SessionStore(paths.database_path())

    def open_engine(exchanges: int) -> ConversationEngine:
        cid = wordy_conversation(f"{exchanges:04d}0000cafe", exchanges)
        return ConversationEngine.resume(settings, store, {}.get, store.get_conversation(cid))  # type: ignore[arg-type]

    yield open_engine
    store.close()


@pytest.fixture
def estimated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the estimator reads (not answered from a cache)."""
    seen: list[str] = []

    def counting(text: str) -> int:
        seen.append(text)
        return estimate_tokens(text)

    budget._text_tokens.cache_clear()
    monkeypatch.setattr(budget, "estimate_tokens", counting)
    return seen


def whole_request(engine: ConversationEngine, prompt: str, omit_before: int) -> ChatRequest:
    """The request with the history from `omit_before`, built the plain way (the reference)."""
    engine.omit_before, kept = omit_before, engine.omit_before
    try:
        return engine.request_for(engine.turns, prompt)
    finally:
        engine.omit_before = kept


def reference_start(engine: ConversationEngine, prompt: str) -> int | None:
    """The earliest prompt from which the plain request fits, by trying each one."""
    starts = [i for i, turn in enumerate(engine.turns) if turn.role == "user"]
    for start in [*starts, len(engine.turns)]:
        if estimate_request(whole_request(engine, prompt, start)) <= LIMIT:
            return start
    return None


def check(engine: ConversationEngine, prompt: str) -> DoesNotFit | int:
    try:
        return engine.check_fit(prompt).tokens
    except DoesNotFit as exc:
        return exc


@pytest.mark.parametrize("exchanges", [30, 300])
def test_the_budget_says_what_the_whole_request_would(engine_for: Any, exchanges: int) -> None:
    engine = engine_for(exchanges)
    assert any(m.role == "tool" for m in whole_request(engine, "and now?", 0).messages)
    refused = check(engine, "and now?")
    assert isinstance(refused, DoesNotFit)
    # The size said is the whole request's, and the start is the earliest that fits.
    assert refused.budget.tokens == estimate_request(whole_request(engine, "and now?", 0))
    assert refused.omit_before == reference_start(engine, "and now?")
    assert refused.omit_before is not None
    engine.leave_out_before(refused.omit_before)
    fits = check(engine, "and now?")
    left = estimate_request(whole_request(engine, "and now?", refused.omit_before))
    assert fits == left <= LIMIT
    # A prompt too long for the window alone: nothing can be left out to make it fit.
    alone = check(engine, "word " * 4 * WINDOW)
    assert isinstance(alone, DoesNotFit) and alone.omit_before is None


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many turns each build of what is sent (`history`) went through."""
    sizes: list[int] = []
    real = turns.history

    def counting(of: Sequence[Turn]) -> tuple[Message, ...]:
        sizes.append(len(of))
        return real(of)

    monkeypatch.setattr(budget, "history", counting)
    monkeypatch.setattr(conversation, "history", counting)
    return sizes


def counted(engine: ConversationEngine, prompt: str, *seen: list[Any]) -> list[list[Any]]:
    for each in seen:
        each.clear()
    check(engine, prompt)
    return [list(each) for each in seen]


@pytest.mark.parametrize("exchanges", [30, 300])
def test_each_exchange_is_counted_once_and_a_fitting_prompt_walks_what_it_sends(
    engine_for: Any, estimated: list[str], walked: list[int], exchanges: int
) -> None:
    engine = engine_for(exchanges)
    whole = len(engine.turns)
    (first,) = counted(engine, "first", walked)
    assert sum(first) <= whole  # each exchange once, walked back from the newest
    # Asked again (the prompt edited, the dialog cancelled): nothing is counted again.
    texts, again = counted(engine, "again", estimated, walked)
    assert texts == ["again"] and sum(again) == 0
    refused = check(engine, "then")
    assert isinstance(refused, DoesNotFit) and refused.omit_before is not None
    engine.leave_out_before(refused.omit_before)
    for turn in engine.turns:
        turn.sent_tokens = None  # nothing counted yet: the walk itself is what is measured
    (fits,) = counted(engine, "then", walked)
    assert sum(fits) == whole - refused.omit_before  # what is sent, whatever came before


async def test_a_streaming_tick_does_not_walk_the_mounted_history(
    zai: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = long_conversation("01000000feed", 100)
    pieces = [f"piece {i} " for i in range(40)]
    zai.reply(Reply(chunks=stream(pieces), delay=0.02))
    async with running(resume=cid) as pilot:
        pane = active(pilot)
        await pilot.pause(0.3)  # the window mounted, the rest of the conversation read
        history = {
            id(node)
            for message in (
                *pane.log_view.query(UserMessage),
                *pane.log_view.query(AssistantMessage),
            )
            for node in message.walk_children(with_self=True)
        }
        assert len(history) > 24  # 24 messages and their parts
        walked: list[DOMNode] = []
        real = DOMNode.walk_children

        def walk(self: DOMNode, *args: Any, **kwargs: Any) -> Any:
            nodes = real(self, *args, **kwargs)
            if not sys._getframe(1).f_code.co_filename.endswith("pilot.py"):  # the test's waits
                walked.extend(nodes)
            return nodes

        with monkeypatch.context() as patch:
            patch.setattr(DOMNode, "walk_children", walk)
            await send(pilot, "one more")
            await wait_for_stream(pilot)
        assert pane.engine.turns[-1].content == "".join(pieces)
        # Whatever is looked up while the answer streams (the pane shown, a tab) is found
        # without going through the messages above it.
        assert [node for node in walked if id(node) in history] == []


def test_regenerating_an_answer_is_held_to_the_same_budget(engine_for: Any) -> None:
    """Found by QA: r, the palette's retry and regenerate sent the whole history with no
    check, where a new prompt was refused; a refusal changes nothing, not even the model."""
    engine_for(1)  # the fixture's config: glm-4.5's window of WINDOW tokens
    add_config('[models."zai/glm-4.5-air"]\ncontext = 3000\n')
    settings = load_settings()
    with SessionStore(paths.database_path()) as store:
        cid = wordy_conversation("00300000beef", 30)
        engine = ConversationEngine.resume(settings, store, {}.get, store.get_conversation(cid))  # type: ignore[arg-type]
        shown = list(engine.turns)
        last = len(engine.turns) - 1
        for kwargs in ({}, {"model": "zai/glm-4.5-air"}, {"thinking": False}):
            with pytest.raises(DoesNotFit) as refused:
                engine.regenerate(last, **kwargs)
            assert refused.value.omit_before is not None
            assert engine.turns == shown and (engine.model, engine.thinking) == ("glm-4.5", True)
        with pytest.raises(DoesNotFit):
            engine.retry()
        assert engine.turns == shown and engine.running is None
