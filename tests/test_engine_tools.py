"""The tool loop in the engine, against the loopback server: rounds, request bodies, approval,
timeouts, result caps, errors, cancellation, saved rows and history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from glmchat import paths
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.config import load_settings
from glmchat.engine import ConversationEngine
from glmchat.engine.events import ApprovalRequest, ExchangeEnded, RoundStarted, ToolCallUpdate
from glmchat.store import SessionStore
from glmchat.tools.base import Toolbox, ToolOutput, ToolSettings, ToolSpec
from tests.tui_helpers import API_KEY
from tests.wire_server import Reply, WireServer, sse_body, sse_event

USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}


def call_chunk(calls: list[tuple[str, str, str]], **extra: Any) -> bytes:
    """Shape A: each call whole, in one delta (Z.ai without tool_stream)."""
    return sse_event(
        {
            "tool_calls": [
                {"id": cid, "index": i, "type": "function", "function": {"name": n, "arguments": a}}
                for i, (cid, n, a) in enumerate(calls)
            ]
        },
        **extra,
    )


def tool_round(*calls: tuple[str, str, str], reasoning: str = "I need a tool. ") -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"reasoning_content": reasoning}),
            call_chunk(list(calls), finish_reason="tool_calls"),
            sse_event({"content": ""}, finish_reason="tool_calls", usage=USAGE),
        ),
        splits=13,
    )


def answer(text: str) -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"content": text}), sse_event({}, finish_reason="stop", usage=USAGE)
        )
    )


@dataclass
class FakeTool:
    """A real tool object as the engine sees one; it records its calls."""

    spec: ToolSpec
    run: Any = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def call(self, arguments: dict[str, Any]) -> ToolOutput:
        self.calls.append(arguments)
        if self.run is not None:
            return await self.run(arguments)
        return ToolOutput(str(arguments.get("a", 0) + arguments.get("b", 0)))


def adder(name: str = "add", *, read_only: bool = True, run: Any = None) -> FakeTool:
    params = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}
    return FakeTool(ToolSpec(name, name, "Add two numbers", params, read_only=read_only), run)


@pytest.fixture
async def engine_for(zai: WireServer) -> AsyncIterator[Any]:
    settings = load_settings()
    store = SessionStore(paths.database_path())
    client = OpenAICompatClient(settings.providers["zai"], API_KEY)

    def make(*tools: FakeTool, **settings_kw: Any) -> ConversationEngine:
        toolbox = Toolbox(
            settings=ToolSettings(**{"approve": "all", **settings_kw}), tools=list(tools)
        )
        return ConversationEngine(
            settings, store, lambda name: client, provider="zai", model="glm-4.6", toolbox=toolbox
        )

    yield make
    await client.aclose()
    store.close()


async def run(exchange, answers: dict[str, str] | None = None) -> list:  # type: ignore[no-untyped-def]
    events = []
    async for event in exchange:
        events.append(event)
        if isinstance(event, ApprovalRequest):
            event.answer((answers or {}).get(event.call.name, "once"))  # type: ignore[arg-type]
    return events


async def test_a_tool_round_then_the_answer(zai: WireServer, engine_for: Any) -> None:
    zai.reply(tool_round(("call_1", "add", '{"a": 2, "b": 3}')), answer("It is 5."))
    tool = adder()
    engine = engine_for(tool)
    events = await run(engine.send("What is 2 + 3?"))
    result = events[-1].result
    assert isinstance(events[-1], ExchangeEnded)
    assert result.status == "complete" and result.content == "It is 5."
    assert tool.calls == [{"a": 2, "b": 3}]
    assert any(isinstance(e, RoundStarted) and e.round == 1 for e in events)
    [call] = result.tool_calls
    assert (call.call_id, call.name, call.state, call.result) == ("call_1", "add", "ok", "5")
    assert result.usage.prompt_tokens == 40  # both model calls
    first, second = (r.json for r in zai.requests)
    assert first["tools"][0]["function"]["name"] == "add" and first["tool_choice"] == "auto"
    sent = second["messages"]
    assert sent[0] == {"role": "user", "content": "What is 2 + 3?"}
    assert sent[1]["role"] == "assistant"
    assert sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"a": 2, "b": 3}'
    assert sent[1]["reasoning_content"] == "I need a tool. "  # Z.ai: inside the loop
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "5"}
    rows = SessionStore(paths.database_path()).get_conversation(engine.conversation_id).messages
    assert [(m.role, m.status) for m in rows] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("tool", "complete"),
        ("assistant", "complete"),
    ]
    assert rows[1].tool_calls[0]["name"] == "add" and rows[2].tool_call_id == "call_1"
    assert rows[2].tool_calls[0]["status"] == "ok"


async def test_parallel_calls_and_a_continued_conversation(
    zai: WireServer, engine_for: Any
) -> None:
    zai.reply(
        tool_round(("c1", "add", '{"a": 1, "b": 1}'), ("c2", "mul", '{"a": 2, "b": 3}')),
        answer("2 and 6."),
        answer("Sure."),
    )

    async def times(arguments: dict[str, Any]) -> ToolOutput:
        return ToolOutput(str(arguments["a"] * arguments["b"]))

    engine = engine_for(adder(), adder("mul", run=times))
    await run(engine.send("both please"))
    await run(engine.send("thanks"))
    sent = zai.requests[2].json["messages"]
    # The finished loop goes back without reasoning (a plain earlier turn), calls and results
    # in order, then the answer.
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool", "assistant", "user"]
    assert "reasoning_content" not in sent[1]
    assert [m["content"] for m in sent[2:4]] == ["2", "6"]


async def test_denied_call_tells_the_model(zai: WireServer, engine_for: Any) -> None:
    zai.reply(tool_round(("c1", "add", "{}")), answer("OK, I will not."))
    tool = adder(read_only=False)
    engine = engine_for(tool, approve="read-only")
    events = await run(engine.send("q"), {"add": "deny"})
    assert any(isinstance(e, ApprovalRequest) for e in events)
    assert tool.calls == []
    assert events[-1].result.tool_calls[0].state == "denied"
    assert zai.requests[1].json["messages"][2]["content"] == "The user denied this tool call."


async def test_always_allows_the_tool_for_the_rest_of_the_conversation(
    zai: WireServer, engine_for: Any
) -> None:
    zai.reply(
        tool_round(("c1", "add", "{}")),
        answer("one"),
        tool_round(("c2", "add", "{}")),
        answer("two"),
    )
    engine = engine_for(adder(), approve="ask")
    first = await run(engine.send("a"), {"add": "always"})
    second = await run(engine.send("b"))
    assert sum(isinstance(e, ApprovalRequest) for e in first) == 1
    assert not any(isinstance(e, ApprovalRequest) for e in second)


async def test_timeout_error_and_oversized_results_reach_the_model_as_text(
    zai: WireServer, engine_for: Any
) -> None:
    async def slow(arguments: dict[str, Any]) -> ToolOutput:
        await asyncio.sleep(30)
        return ToolOutput("never")

    async def broken(arguments: dict[str, Any]) -> ToolOutput:
        raise RuntimeError("disk on fire")

    async def huge(arguments: dict[str, Any]) -> ToolOutput:
        return ToolOutput("x" * 5000)

    zai.reply(
        tool_round(("c1", "slow", "{}"), ("c2", "broken", "{}"), ("c3", "huge", "{}")),
        answer("done"),
    )
    engine = engine_for(
        adder("slow", run=slow),
        adder("broken", run=broken),
        adder("huge", run=huge),
        timeout=0.2,
        max_result_kb=1,
    )
    events = await run(engine.send("q"))
    states = [c.state for c in events[-1].result.tool_calls]
    assert states == ["timeout", "error", "ok"]
    results = [m["content"] for m in zai.requests[1].json["messages"] if m["role"] == "tool"]
    assert "did not finish within 0.2 s" in results[0]
    assert results[1] == "Error: RuntimeError: disk on fire"
    assert results[2].startswith("x" * 1024) and "[The result was cut" in results[2]


async def test_unknown_tool_and_bad_arguments_are_errors_for_the_model(
    zai: WireServer, engine_for: Any
) -> None:
    zai.reply(tool_round(("c1", "nosuch", "{}"), ("c2", "add", '{"a": 1,')), answer("sorry"))
    engine = engine_for(adder())
    events = await run(engine.send("q"))
    calls = events[-1].result.tool_calls
    assert [c.state for c in calls] == ["error", "error"]
    assert "no tool named 'nosuch'" in calls[0].result
    assert "not valid JSON" in calls[1].result


async def test_a_tool_switched_off_is_not_run_and_the_model_is_told_so(
    zai: WireServer, engine_for: Any
) -> None:
    zai.reply(tool_round(("c1", "add", '{"a": 1, "b": 2}'), ("c2", "mul", "{}")), answer("ok"))
    add, mul = adder(), adder("mul")
    engine = engine_for(add, mul)
    assert engine.toolbox is not None
    engine.toolbox.disabled.add("add")  # as the Tools picker does
    events = await run(engine.send("q"))
    calls = events[-1].result.tool_calls
    assert [c.state for c in calls] == ["error", "ok"] and add.calls == [] and mul.calls
    assert calls[0].result == (
        "Error: the tool 'add' is switched off in this conversation; do not call it."
    )
    offered = [t["function"]["name"] for t in zai.requests[0].json["tools"]]
    assert offered == ["mul"]


async def test_a_tool_switched_off_while_its_approval_waits_does_not_run(
    zai: WireServer, engine_for: Any
) -> None:
    """Found by QA: the call waited for approval, the tool was switched off in the Tools
    picker meanwhile, and the yes that followed ran it."""
    zai.reply(tool_round(("c1", "add", '{"a": 1, "b": 2}')), answer("ok"))
    add = adder(read_only=False)
    engine = engine_for(add, approve="ask")
    assert engine.toolbox is not None
    events = []
    async for event in engine.send("q"):
        events.append(event)
        if isinstance(event, ApprovalRequest):
            engine.toolbox.disabled.add("add")
            event.answer("once")
    (call,) = events[-1].result.tool_calls
    assert call.state == "error" and add.calls == []
    assert call.result == (
        "Error: the tool 'add' is switched off in this conversation; do not call it."
    )


async def test_max_rounds_stops_the_loop(zai: WireServer, engine_for: Any) -> None:
    zai.reply(tool_round(("c1", "add", "{}")), tool_round(("c2", "add", "{}")))
    engine = engine_for(adder(), max_rounds=2)
    events = await run(engine.send("q"))
    result = events[-1].result
    assert len(zai.requests) == 2
    assert [c.state for c in result.tool_calls] == ["ok", "not_run"]
    assert "max_rounds" in result.note


async def test_cancel_while_a_tool_runs_stops_it_and_saves(
    zai: WireServer, engine_for: Any
) -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def forever(arguments: dict[str, Any]) -> ToolOutput:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()
        return ToolOutput("never")

    zai.reply(tool_round(("c1", "wait", "{}")))
    engine = engine_for(adder("wait", run=forever))
    exchange = engine.send("q")
    async for event in exchange:
        if isinstance(event, ToolCallUpdate) and event.state == "running":
            await asyncio.wait_for(started.wait(), 5)
            result = exchange.cancel()
    await asyncio.wait_for(stopped.wait(), 5)  # the tool's work was cancelled
    assert result.status == "cancelled" and result.tool_calls[0].state == "cancelled"
    rows = SessionStore(paths.database_path()).get_conversation(engine.conversation_id).messages
    assert [m.role for m in rows] == ["user", "assistant", "tool"]
    assert rows[1].status == "cancelled" and rows[1].tool_calls[0]["id"] == "c1"
    assert rows[2].status == "cancelled"
    # A loop cut short has no answer: it is not sent again.
    zai.reply(answer("fresh"))
    await run(engine.send("again"))
    assert [m["role"] for m in zai.requests[-1].json["messages"]] == ["user"]


async def test_without_tools_a_tool_call_is_reported_not_run(
    zai: WireServer, engine_for: Any
) -> None:
    zai.reply(tool_round(("c1", "add", "{}")))
    engine = engine_for()
    engine.toolbox = None
    events = await run(engine.send("q"))
    result = events[-1].result
    assert result.status == "complete" and "not run" in (result.note or "")
    assert "tools" not in zai.requests[0].json


async def test_resume_shows_and_sends_a_saved_tool_loop(zai: WireServer, engine_for: Any) -> None:
    zai.reply(tool_round(("call_9", "add", '{"a": 4, "b": 4}')), answer("8"), answer("yes"))
    engine = engine_for(adder())
    await run(engine.send("4 + 4?"))
    settings = load_settings()
    with SessionStore(paths.database_path()) as store:
        resumed = ConversationEngine.resume(
            settings, store, engine.clients, store.get_conversation(engine.conversation_id)
        )
        assert [t.role for t in resumed.turns] == ["user", "assistant", "tool", "assistant"]
        assert json.loads(resumed.turns[1].tool_calls[0]["arguments"]) == {"a": 4, "b": 4}
        resumed.toolbox = engine.toolbox
        await run(resumed.send("sure?"))
    sent = zai.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]
    assert sent[2] == {"role": "tool", "tool_call_id": "call_9", "content": "8"}
