"""An answer stopped or failed in a LATER round of its tool loop (found by QA: a prompt answered
"Let me check." + a call, the call denied, then the answer stopped in round two before any
text: the exchange stayed on the branch, on screen and in `sessions show`, but was never sent
to the model again, and its prompt was put back in the box and kept as a draft).

What the branch shows is what is sent: an exchange that got anything from the model in an
earlier round (text, a call that got its result) is sent as it is, wherever its last round
stopped or failed (before any text, after a result, while a call's arguments streamed), and
its prompt is not given back. The stopped round adds nothing: no empty assistant message (an
assistant message needs text or calls), its unfinished calls are not sent (a call goes back
only with its result), so the next prompt follows the last round's tool results. A stop
before any text in the FIRST round still gives the prompt back, and it is not sent again.
Engine, `ask --session` and TUI, against the loopback server; request bodies are checked."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from glmchat.backend.events import ContentDelta
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.config import load_settings, save_value
from glmchat.engine import ConversationEngine
from glmchat.engine.events import ApprovalRequest, ExchangeResult, RoundStarted, ToolCallUpdate
from glmchat.engine.turns import history, unanswered
from glmchat.store import SessionStore
from glmchat.tools.base import Toolbox, ToolOutput, ToolSettings, ToolSpec
from tests.test_ask_cli import ask
from tests.tui_helpers import (
    API_KEY,
    active,
    glm,
    running,
    screen_text,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer, fixture_reply, sse_body, sse_event

USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
PROMPT = "tool add please"
HELLO = [{"role": "user", "content": "hello first"}, {"role": "assistant", "content": "Hello!"}]


def call(index: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "index": index,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def tool_round(text: str, call_id: str, name: str, arguments: str) -> Reply:
    """One model call: `text` (if any), then one whole call."""
    events = [sse_event({"reasoning_content": "I need a tool. "})]
    if text:
        events.append(sse_event({"content": text}))
    events.append(sse_event({"tool_calls": [call(0, call_id, name, arguments)]}))
    events.append(sse_event({"content": ""}, finish_reason="tool_calls", usage=USAGE))
    return Reply(body=sse_body(*events), splits=17)


def answer(text: str) -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"content": text}), sse_event({}, finish_reason="stop", usage=USAGE)
        )
    )


def hung(gate: threading.Event) -> Reply:
    """A model call that sends nothing (SSE comments) until `gate` is set."""
    return Reply(chunks=stream((), holds={0: gate}, finish=None), delay=0.002)


def half_call(gate: threading.Event | None) -> Reply:
    """A model call cut while it writes a call's arguments: held there until `gate` is set,
    or (no gate) the connection drops there."""

    def chunks() -> Iterator[bytes]:
        yield sse_event({"tool_calls": [call(0, "call_2", "add", "")]})
        yield sse_event({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 7'}}]})
        while gate is not None and not gate.wait(0.05):
            yield b": waiting\n\n"

    return Reply(chunks=chunks, delay=0.002)


def held_text(gate: threading.Event) -> Reply:
    """A model call that writes some text, then holds until `gate` is set."""
    return Reply(chunks=stream(["Still thinking"], holds={1: gate}), delay=0.002)


def adder() -> Any:
    params = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}

    class Add:
        spec = ToolSpec("add", "add", "Add two numbers", params, read_only=True)

        async def call(self, arguments: dict[str, Any]) -> ToolOutput:
            return ToolOutput(str(arguments.get("a", 0) + arguments.get("b", 0)))

    return Add()


@pytest.fixture
async def engine(zai: WireServer) -> AsyncIterator[ConversationEngine]:
    settings = load_settings()
    store = SessionStore(paths.database_path())
    client = OpenAICompatClient(settings.providers["zai"], API_KEY)
    toolbox = Toolbox(settings=ToolSettings(approve="ask"), tools=[adder()])  # every call asks
    yield ConversationEngine(
        settings, store, lambda name: client, provider="zai", model="glm-4.6", toolbox=toolbox
    )
    await client.aclose()
    store.close()


Stop = Callable[[object, int], bool]  # (event, requests the server has seen) -> stop now


async def drive(
    engine: ConversationEngine, zai: WireServer, prompt: str, decision: str, stop: Stop | None
) -> ExchangeResult:
    """Send `prompt`, answer its approval with `decision`, stop it when `stop` says so (once
    the server has seen the round's request: a stop that lands before the request is sent
    would leave its reply queued for the next one)."""
    exchange = engine.send(prompt)
    async for event in exchange:
        if isinstance(event, ApprovalRequest):
            event.answer(decision)  # type: ignore[arg-type]
        if stop is not None and exchange.result is None and stop(event, len(zai.requests)):
            exchange.cancel()
    assert exchange.result is not None
    return exchange.result


async def requests_reach(zai: WireServer, count: int) -> None:
    for _ in range(500):
        if len(zai.requests) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the server saw {len(zai.requests)} requests, not {count}")


async def stop_when_round_two_is_asked(
    engine: ConversationEngine, zai: WireServer, decision: str
) -> ExchangeResult:
    """Stop the answer once round two's request reached the server, before anything came."""
    exchange = engine.send(PROMPT)
    async for event in exchange:
        if isinstance(event, ApprovalRequest):
            event.answer(decision)  # type: ignore[arg-type]
        if isinstance(event, RoundStarted):
            await requests_reach(zai, 3)
            exchange.cancel()
    assert exchange.result is not None
    return exchange.result


def in_round_two(kind: type) -> Stop:
    def stop(event: object, requests: int) -> bool:
        if kind is ToolCallUpdate:
            return isinstance(event, ToolCallUpdate) and event.key[0] == 1
        return isinstance(event, kind) and requests >= 3

    return stop


def assistant_with_call(text: str, arguments: str = '{"a": 2, "b": 3}') -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": text,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "add", "arguments": arguments},
            }
        ],
    }


def well_formed(messages: list[dict[str, Any]]) -> None:
    """What every provider takes: no assistant message without text and without calls, each
    call followed by its result, no result without its call."""
    open_calls: set[str] = set()
    for m in messages:
        if m["role"] == "assistant":
            assert not open_calls, f"calls with no result before {m}"
            assert m.get("tool_calls") or (m.get("content") or "").strip(), f"empty: {m}"
            open_calls = {c["id"] for c in m.get("tool_calls") or ()}
        elif m["role"] == "tool":
            assert m["tool_call_id"] in open_calls, f"a result with no call: {m}"
            open_calls.discard(m["tool_call_id"])
        else:
            assert not open_calls, f"calls with no result before {m}"


# (id, round one's text, the approval, round two's reply, how it ends, what round two adds)
LATER_ROUNDS = [
    ("after text and a denied call, before any text", "Let me check.", "deny", "asked"),
    ("after a call and its result, before any text", "", "once", "asked"),
    ("failed after the tool result", "", "once", "error"),
    ("stream cut in a call's arguments", "Let me check.", "once", "cut"),
    ("stopped in a call's arguments", "", "once", "stop_in_call"),
    ("stopped after some text", "", "once", "stop_after_text"),
]


@pytest.mark.parametrize(
    ("text", "decision", "ending"),
    [case[1:] for case in LATER_ROUNDS],
    ids=[case[0] for case in LATER_ROUNDS],
)
async def test_an_exchange_stopped_in_a_later_round_is_sent_again(
    zai: WireServer, engine: ConversationEngine, text: str, decision: str, ending: str
) -> None:
    gate = threading.Event()
    round_two = {
        "asked": hung(gate),
        "error": fixture_reply("zai_error_400_1261"),
        "cut": half_call(None),
        "stop_in_call": half_call(gate),
        "stop_after_text": held_text(gate),
    }[ending]
    zai.reply(answer("Hello!"), tool_round(text, "call_1", "add", '{"a": 2, "b": 3}'), round_two)
    try:
        await drive(engine, zai, "hello first", "once", None)
        if ending == "asked":
            result = await stop_when_round_two_is_asked(engine, zai, decision)
        else:
            stop = {"stop_in_call": in_round_two(ToolCallUpdate)}.get(ending)
            stop = stop or {"stop_after_text": in_round_two(ContentDelta)}.get(ending)
            result = await drive(engine, zai, PROMPT, decision, stop)
    finally:
        gate.set()
    expected_status = {"error": "error", "cut": "error"}.get(ending, "cancelled")
    assert result.status == expected_status
    assert [t.role for t in engine.turns[2:]] == ["user", "assistant", "tool", "assistant"]
    # Nothing to give back: the branch's exchange is sent.
    assert unanswered(engine.turns) is None
    # The same from the store (a reopened conversation, `ask --session`).
    with SessionStore(paths.database_path()) as store:
        conversation = store.get_conversation(engine.conversation_id)
        resumed = ConversationEngine.resume(load_settings(), store, engine.clients, conversation)
    assert unanswered(resumed.turns) is None
    assert history(resumed.turns) == history(engine.turns)

    zai.reply(answer("Sure."))
    await drive(engine, zai, "next one", "once", None)
    messages = zai.requests[-1].json["messages"]
    result_text = "The user denied this tool call." if decision == "deny" else "5"
    round_two_text = (
        [{"role": "assistant", "content": "Still thinking"}] if ending == "stop_after_text" else []
    )
    assert messages == [
        *HELLO,
        {"role": "user", "content": PROMPT},
        assistant_with_call(text),
        {"role": "tool", "tool_call_id": "call_1", "content": result_text},
        *round_two_text,
        {"role": "user", "content": "next one"},
    ]
    well_formed(messages)


FIRST_ROUND = [
    ("stopped before anything", "stop"),
    ("failed before anything", "error"),
    ("stopped at its call's approval", "stop_at_approval"),
]


@pytest.mark.parametrize("ending", [c[1] for c in FIRST_ROUND], ids=[c[0] for c in FIRST_ROUND])
async def test_a_first_round_ended_before_any_text_still_gives_the_prompt_back(
    zai: WireServer, engine: ConversationEngine, ending: str
) -> None:
    gate = threading.Event()
    first = {
        "stop": hung(gate),
        "error": fixture_reply("zai_error_400_1261"),
        "stop_at_approval": tool_round("", "call_1", "add", '{"a": 2, "b": 3}'),
    }[ending]
    zai.reply(answer("Hello!"), first, answer("Sure."))
    await drive(engine, zai, "hello first", "once", None)
    exchange = engine.send(PROMPT)

    async def read() -> None:
        async for event in exchange:
            if isinstance(event, ApprovalRequest) and exchange.result is None:
                exchange.cancel()  # the call neither ran nor was refused

    reading = asyncio.create_task(read())
    try:
        if ending == "stop":  # no event comes: stopped from outside, as a key does
            await requests_reach(zai, 2)
            exchange.cancel()
        await reading
    finally:
        gate.set()
    assert exchange.result is not None and not exchange.result.content
    assert exchange.result.status == ("error" if ending == "error" else "cancelled")
    left = unanswered(engine.turns)
    assert left is not None and left.content == PROMPT
    await drive(engine, zai, "next one", "once", None)
    assert zai.requests[-1].json["messages"] == [
        *HELLO,
        {"role": "user", "content": "next one"},
    ]


async def test_ask_session_sends_an_exchange_stopped_in_round_two(
    zai: WireServer, engine: ConversationEngine
) -> None:
    gate = threading.Event()
    zai.reply(
        answer("Hello!"),
        tool_round("Let me check.", "call_1", "add", '{"a": 2, "b": 3}'),
        hung(gate),
    )
    await drive(engine, zai, "hello first", "once", None)
    try:
        await stop_when_round_two_is_asked(engine, zai, "deny")
    finally:
        gate.set()
    zai.reply(answer("Via ask."))
    proc = ask("--session", str(engine.conversation_id), "--base-url", zai.url, "via ask")
    assert proc.returncode == 0, proc.stderr
    assert "got no answer" not in proc.stderr  # nothing is said to be left out
    messages = zai.requests[-1].json["messages"]
    assert messages == [
        *HELLO,
        {"role": "user", "content": PROMPT},
        assistant_with_call("Let me check."),
        {"role": "tool", "tool_call_id": "call_1", "content": "The user denied this tool call."},
        {"role": "user", "content": "via ask"},
    ]
    well_formed(messages)


# --- the TUI ---------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text("hi\n", encoding="utf-8")
    save_value("tools.builtin", "read_file")
    save_value("tools.allowed_dirs", str(root))
    return root


async def test_tui_a_second_escape_in_round_two_keeps_the_exchange_and_an_empty_box(
    zai: WireServer, files: Path
) -> None:
    """QA's steps: the call denied with escape, the answer stopped with a second escape
    before round two wrote anything; then the app quits and the conversation is reopened."""
    gate = threading.Event()
    arguments = json.dumps({"path": "notes.txt"})
    zai.reply(
        answer("Hello!"),
        tool_round("Let me check.", "call_1", "read_file", arguments),
        Reply(chunks=stream(["never seen"], holds={0: gate}), delay=0.005),
        answer("Sure."),
    )
    try:
        async with running() as pilot:
            app = glm(pilot)
            pane = active(pilot)
            await send(pilot, "hello first")
            await wait_for_stream(pilot)
            await send(pilot, "read the notes")
            await wait_until(pilot, lambda: pane.approval is not None, "the approval question")
            await wait_until(pilot, lambda: not pane.prompt.has_focus, "the question's focus")
            await pilot.pause()
            await pilot.press("escape")  # denies: the answer goes on into round two
            await wait_until(pilot, lambda: len(zai.requests) == 3, "round two's request")
            await pilot.press("escape")  # stops round two before any text
            await wait_for_stream(pilot)
            assert "stopped; the partial answer is kept" in screen_text(app)
            assert "Let me check." in screen_text(app)
            assert pane.prompt.text == ""  # the exchange stays: nothing is given back
            conversation_id = pane.conversation_id
    finally:
        gate.set()
    assert conversation_id is not None
    async with running(resume=conversation_id) as pilot:
        pane = active(pilot)
        assert pane.prompt.text == ""  # nor kept as a draft, nor given back on opening
        await send(pilot, "next one")
        await wait_for_stream(pilot)
    messages = zai.requests[-1].json["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "hello first"),
        ("assistant", "Hello!"),
        ("user", "read the notes"),
        ("assistant", "Let me check."),
        ("tool", "The user denied this tool call."),
        ("user", "next one"),
    ]
    assert messages[3]["tool_calls"][0]["function"]["arguments"] == arguments
    well_formed(messages)
