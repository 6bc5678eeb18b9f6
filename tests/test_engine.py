"""The conversation engine on its own (no Textual): history policy, persistence, statuses."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import pytest

from glmchat import paths
from glmchat.backend.events import ContentDelta, ReasoningDelta, Usage
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.config import Settings, load_settings
from glmchat.engine import ConversationEngine, ExchangeEnded, SaveFailed
from glmchat.store import Conversation, SessionStore
from tests.tui_helpers import API_KEY
from tests.wire_server import SSE_DONE, Reply, WireServer, fixture_reply, sidecar, sse_event

THINKING = sidecar("zai_thinking_stream")["expected"]


def slow_answer(*pieces: tuple[str, str], delay: float = 0.05) -> Reply:
    """A stream that sends (kind, text) deltas one event at a time, `delay` apart, then ends."""
    events = [sse_event({kind: text}) for kind, text in pieces]
    events.append(sse_event({}, finish_reason="stop") + SSE_DONE)
    sizes = [len(e) for e in events]
    return Reply(body=b"".join(events), splits=sizes, delay=delay)


@pytest.fixture
async def setup(zai: WireServer) -> AsyncIterator[tuple[Settings, SessionStore, list]]:
    settings = load_settings()
    store = SessionStore(paths.database_path())
    clients: dict[str, OpenAICompatClient] = {}

    def client_for(name: str) -> OpenAICompatClient:
        if name not in clients:
            clients[name] = OpenAICompatClient(settings.providers[name], API_KEY)
        return clients[name]

    yield settings, store, client_for  # type: ignore[misc]
    for client in clients.values():
        await client.aclose()
    store.close()


def new_engine(setup, **kw) -> ConversationEngine:  # type: ignore[no-untyped-def]
    settings, store, clients = setup
    provider, model = settings.resolve_model(None)
    return ConversationEngine(
        settings, kw.pop("store", store), clients, provider=provider.name, model=model, **kw
    )


async def collect(exchange) -> list:  # type: ignore[no-untyped-def]
    return [event async for event in exchange]


async def test_an_exchange_streams_saves_and_ends_complete(setup, zai: WireServer) -> None:
    zai.reply(fixture_reply("zai_thinking_stream", splits=7))
    engine = new_engine(setup)
    events = await collect(engine.send("What is 17 x 23?\nsecond line"))
    assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == THINKING["content"]
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == THINKING["reasoning"]
    assert any(isinstance(e, Usage) for e in events)
    end = events[-1]
    assert isinstance(end, ExchangeEnded)
    assert end.result.status == "complete" and end.result.finish_reason == "stop"
    assert end.result.saved
    conv = setup[1].get_conversation(engine.conversation_id)
    assert conv.title == engine.title == "What is 17 x 23?"
    assert [(m.role, m.status) for m in conv.messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    answer = conv.messages[1]
    assert (answer.content, answer.reasoning) == (THINKING["content"], THINKING["reasoning"])
    assert answer.usage["completion_tokens"] == 61 and answer.finish_reason == "stop"
    assert "thinking_seconds" in answer.timings
    assert engine.turns[1].content == THINKING["content"]
    assert engine.usage_totals().completion_tokens == 61
    body = zai.requests[0].json
    assert body["messages"] == [{"role": "user", "content": "What is 17 x 23?\nsecond line"}]
    assert body["thinking"] == {"type": "enabled"}


async def test_history_leaves_out_a_prompt_whose_answer_failed_before_any_text(
    setup, zai: WireServer
) -> None:
    zai.reply(
        fixture_reply("zai_nothinking_stream"),
        fixture_reply("zai_error_400_1261"),
        fixture_reply("zai_nothinking_stream"),
    )
    engine = new_engine(setup)
    await engine.send("first").wait()
    failed = await engine.send("this one fails").wait()
    assert failed.status == "error" and failed.error is not None
    await engine.send("third").wait()
    sent = [m["content"] for m in zai.requests[2].json["messages"]]
    assert "this one fails" not in sent
    assert sent[0] == "first" and sent[-1] == "third" and len(sent) == 3
    # The failed exchange is kept in the store, as it happened.
    statuses = [m.status for m in setup[1].get_conversation(engine.conversation_id).messages]
    assert statuses == ["complete", "complete", "complete", "error", "complete", "complete"]


async def test_a_partial_answer_is_kept_and_sent_back(setup, zai: WireServer) -> None:
    cut = slow_answer(("content", "half an "), ("content", "answer"), delay=0)
    cut.drop_after = len(sse_event({"content": "half an "}))
    zai.reply(cut, fixture_reply("zai_nothinking_stream"))
    engine = new_engine(setup)
    result = await engine.send("question").wait()
    assert result.status == "partial" and result.content == "half an "
    assert result.error is not None and result.error.kind == "interrupted"
    await engine.send("go on").wait()
    assert [m["content"] for m in zai.requests[1].json["messages"]] == [
        "question",
        "half an ",
        "go on",
    ]


@pytest.mark.parametrize("kind", ["reasoning_content", "content"])
async def test_cancel_mid_stream_saves_what_arrived(setup, zai: WireServer, kind: str) -> None:
    zai.reply(slow_answer((kind, "one "), (kind, "two "), (kind, "three"), delay=5))
    engine = new_engine(setup)
    exchange = engine.send("slow please")
    async for event in exchange:
        if isinstance(event, ReasoningDelta | ContentDelta):
            result = exchange.cancel()
            break
    assert result.status == "cancelled" and result.cancelled
    assert not engine.busy
    answer = setup[1].get_conversation(engine.conversation_id).messages[1]
    field = "reasoning" if kind == "reasoning_content" else "content"
    assert getattr(answer, field) == "one " and answer.status == "cancelled"
    assert await asyncio.to_thread(zai.disconnected.wait, 5)  # the connection was closed


async def test_a_cancelled_consumer_task_saves_as_cancelled(setup, zai: WireServer) -> None:
    zai.reply(slow_answer(("content", "one "), ("content", "two"), delay=5))
    engine = new_engine(setup)
    exchange = engine.send("slow please")
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in exchange:
            if isinstance(event, ContentDelta):
                got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert exchange.result is not None and exchange.result.status == "cancelled"
    answer = setup[1].get_conversation(engine.conversation_id).messages[1]
    assert (answer.content, answer.status) == ("one ", "cancelled")


async def test_a_quiet_stream_is_checkpointed_about_once_a_second(setup, zai: WireServer) -> None:
    zai.reply(slow_answer(("content", "early text"), ("content", " late"), delay=3))
    engine = new_engine(setup)
    exchange = engine.send("q")
    saved = ""
    async for event in exchange:
        if isinstance(event, ContentDelta) and event.text == "early text":
            # No more deltas for 3 s: the engine's own timer must write the checkpoint.
            other = sqlite3.connect(paths.database_path())
            for _ in range(100):
                await asyncio.sleep(0.05)
                row = other.execute(
                    "SELECT content FROM messages WHERE role = 'assistant'"
                ).fetchone()
                if row and row[0]:
                    saved = row[0]
                    break
            other.close()
            exchange.cancel()
    assert saved == "early text"


async def test_save_failure_mid_stream_is_told_once_and_the_chat_goes_on(
    setup, zai: WireServer
) -> None:
    zai.reply(
        slow_answer(("content", "a"), ("content", "b"), ("content", "c"), delay=0.05),
        fixture_reply("zai_nothinking_stream"),
    )
    engine = new_engine(setup)
    exchange = engine.send("q")
    events = []
    async for event in exchange:
        events.append(event)
        if isinstance(event, ContentDelta) and event.text == "a":
            other = sqlite3.connect(paths.database_path())
            other.execute("DELETE FROM messages")
            other.execute("DELETE FROM conversations")
            other.commit()
            other.close()
    fails = [e for e in events if isinstance(e, SaveFailed)]
    assert len(fails) == 1 and "no " in fails[0].message.lower()
    result = events[-1].result
    assert result.status == "complete" and result.content == "abc" and not result.saved
    assert engine.save_error is not None
    second = await engine.send("again").wait()  # the chat goes on, unsaved
    assert second.status == "complete" and not second.saved


async def test_without_a_store_nothing_is_saved_and_it_still_answers(
    setup, zai: WireServer
) -> None:
    zai.reply(fixture_reply("zai_nothinking_stream"))
    engine = new_engine(setup, store=None)
    result = await engine.send("hello there").wait()
    assert result.status == "complete" and not result.saved
    assert engine.conversation_id is None and engine.title == "hello there"


async def test_resume_falls_back_to_the_default_model_and_thinking(setup) -> None:
    settings, store, clients = setup
    imported = Conversation(
        id="abc123",
        title=None,
        created="2026-01-01T00:00:00.000Z",
        updated="2026-01-01T00:00:00.000Z",
        model=None,
        provider=None,
        thinking=None,
        system_prompt=None,
    )
    engine = ConversationEngine.resume(settings, store, clients, imported)
    provider, model = settings.resolve_model(None)
    assert (engine.provider_name, engine.model) == (provider.name, model)
    assert engine.thinking is settings.thinking
    assert engine.title == "Untitled"


async def test_retry_replaces_the_last_answer_and_edit_takes_the_prompt_back(
    setup, zai: WireServer
) -> None:
    from glmchat.store.tree import path

    zai.reply(*(fixture_reply("zai_nothinking_stream") for _ in range(2)))
    engine = new_engine(setup)
    await engine.send("first").wait()
    await engine.retry().wait()  # type: ignore[union-attr]
    assert [t.role for t in engine.turns] == ["user", "assistant"]
    assert engine.turns[1].siblings == (2, 2)
    assert zai.requests[1].json["messages"] == [{"role": "user", "content": "first"}]
    assert engine.take_back_last_prompt() == "first"
    assert engine.turns == []
    # Nothing is deleted: the exchange stays as a branch; the current one is empty.
    stored = setup[1].get_conversation(engine.conversation_id)
    assert len(stored.messages) == 3 and path(stored) == ()


async def test_a_long_first_prompt_titles_the_conversation_the_same_way_everywhere(
    setup, zai: WireServer
) -> None:
    from glmchat.store import title_from_prompt

    zai.reply(fixture_reply("zai_nothinking_stream"))
    engine = new_engine(setup)
    prompt = "word " * 60 + "\nsecond line"
    await engine.send(prompt).wait()
    stored = setup[1].get_conversation(engine.conversation_id).title
    assert engine.title == stored == title_from_prompt(prompt)
    assert len(stored) == 80 and stored.endswith("…")
