"""The state each tool call of a round is in once the model's stream has ended: the calls behind
the one asking, or the one running, are `queued` (their arguments are complete), never
`writing arguments…`; in the engine, the chat's panels and `glmchat ask`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.config import load_settings, save_value
from glmchat.engine import ConversationEngine
from glmchat.engine.events import ApprovalRequest, ExchangeEnded, ToolCallUpdate
from glmchat.store import SessionStore
from glmchat.tools.base import Toolbox, ToolOutput, ToolSettings
from tests.test_engine_tools import adder, answer, tool_round
from tests.test_tui_tools import GatedTool, ask_and_wait, panel_title, panels
from tests.test_tui_tools import tool_round as tui_tool_round
from tests.tui_helpers import (
    API_KEY,
    active,
    glm,
    running,
    saved,
    screen_text,
    send,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer, sse_body, sse_event

THREE = (
    ("c1", "add", '{"a": 1, "b": 1}'),
    ("c2", "add", '{"a": 2, "b": 2}'),
    ("c3", "add", '{"a": 3, "b": 3}'),
)


@pytest.fixture
async def engine_for(zai: WireServer) -> AsyncIterator[Any]:
    settings = load_settings()
    store = SessionStore(paths.database_path())
    client = OpenAICompatClient(settings.providers["zai"], API_KEY)

    def make(*tools: Any, **settings_kw: Any) -> ConversationEngine:
        toolbox = Toolbox(settings=ToolSettings(**settings_kw), tools=list(tools))
        return ConversationEngine(
            settings, store, lambda name: client, provider="zai", model="glm-4.6", toolbox=toolbox
        )

    yield make
    await client.aclose()
    store.close()


def latest(events: list[Any]) -> dict[int, ToolCallUpdate]:
    """Each call of round 0 as the front-end last heard of it."""
    seen: dict[int, ToolCallUpdate] = {}
    for event in events:
        if isinstance(event, ToolCallUpdate) and event.key[0] == 0:
            seen[event.key[1]] = event
    return seen


def states(events: list[Any]) -> list[str]:
    return [update.state for _, update in sorted(latest(events).items())]


async def _answered(engine: Any, answer: Any) -> tuple[list[Any], list[list[str]]]:
    """Send "add them", answering each question with `answer(call)`: every event, and the
    calls' states as each question was asked."""
    events: list[Any] = []
    at_each_question: list[list[str]] = []
    async for event in engine.send("add them"):
        events.append(event)
        if isinstance(event, ApprovalRequest):
            at_each_question.append(states(events))
            event.answer(answer(event.call))
    return events, at_each_question


async def test_calls_behind_the_one_asking_are_queued(zai: WireServer, engine_for: Any) -> None:
    zai.reply(tool_round(*THREE), answer("2, 4 and 6."))
    engine = engine_for(adder(), approve="ask")
    events, at_each_question = await _answered(engine, lambda _call: "once")
    assert at_each_question == [
        ["waiting", "queued", "queued"],
        ["ok", "waiting", "queued"],
        ["ok", "ok", "waiting"],
    ]
    # A queued call's arguments are the whole of them.
    queued = [e for e in events if isinstance(e, ToolCallUpdate) and e.state == "queued"]
    assert {(e.key[1], e.arguments) for e in queued} >= {(1, THREE[1][2]), (2, THREE[2][2])}
    assert states(events) == ["ok", "ok", "ok"]


async def test_a_denied_call_leaves_the_next_one_asking(zai: WireServer, engine_for: Any) -> None:
    zai.reply(tool_round(*THREE[:2]), answer("fine"))
    engine = engine_for(adder(), approve="ask")
    events, at_each_question = await _answered(
        engine, lambda call: "deny" if call.key == (0, 0) else "once"
    )
    assert at_each_question == [["waiting", "queued"], ["denied", "waiting"]]
    assert states(events) == ["denied", "ok"]


async def test_calls_behind_a_running_call_are_queued(zai: WireServer, engine_for: Any) -> None:
    release = asyncio.Event()

    async def held(arguments: dict[str, Any]) -> ToolOutput:
        await release.wait()
        return ToolOutput("held")

    zai.reply(tool_round(("c1", "held", "{}"), *THREE[:2]), answer("done"))
    engine = engine_for(adder("held", run=held), adder(), approve="all")
    events: list[Any] = []
    while_running: list[str] = []
    async for event in engine.send("go"):
        events.append(event)
        if isinstance(event, ToolCallUpdate) and event.key == (0, 0) and event.state == "running":
            while_running = states(events)
            release.set()
    assert while_running == ["running", "queued", "queued"]
    assert states(events) == ["ok", "ok", "ok"]


async def test_stopped_at_a_question_the_queued_calls_are_cancelled_and_saved(
    zai: WireServer, engine_for: Any
) -> None:
    zai.reply(tool_round(*THREE))
    engine = engine_for(adder(), approve="ask")
    exchange = engine.send("add them")
    events: list[Any] = []
    async for event in exchange:
        events.append(event)
        if isinstance(event, ApprovalRequest):
            exchange.cancel()
    result = events[-1].result
    assert isinstance(events[-1], ExchangeEnded) and result.status == "cancelled"
    # Every call the model made is accounted for (none left open), in call order.
    assert [(c.call_id, c.state) for c in result.tool_calls] == [
        ("c1", "cancelled"),
        ("c2", "cancelled"),
        ("c3", "cancelled"),
    ]
    assert states(events) == ["cancelled", "cancelled", "cancelled"]
    rows = SessionStore(paths.database_path()).get_conversation(engine.conversation_id).messages
    assert [m.role for m in rows] == ["user", "assistant", "tool", "tool", "tool"]
    assert [m.tool_call_id for m in rows[2:]] == ["c1", "c2", "c3"]


async def test_a_stream_cut_while_arguments_stream_queues_nothing(
    zai: WireServer, engine_for: Any
) -> None:
    body = sse_body(
        sse_event({"tool_calls": [_call(0, "c1", "add", '{"a": 1, "b": 1}')]}),
        sse_event({"tool_calls": [_call(1, "c2", "add", '{"a": 2')]}),
        done=False,
    )
    zai.reply(Reply(body=body))
    engine = engine_for(adder(), approve="ask")
    events: list[Any] = []
    async for event in engine.send("add them"):
        events.append(event)
        assert not isinstance(event, ApprovalRequest)  # a cut round runs nothing
    # Its arguments never ended: no call was made, so none is queued or run (the chat closes
    # the panels of an answer that ended: tests/test_tui_tools.py).
    result = events[-1].result
    assert result.status == "error" and result.tool_calls == ()
    assert not any(e.state == "queued" for e in events if isinstance(e, ToolCallUpdate))


def _call(index: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "index": index,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


# --- the chat's panels -------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """read_file and list_dir on, inside a directory holding notes.txt."""
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text("hello\n", encoding="utf-8")
    save_value("tools.builtin", "read_file,list_dir")
    save_value("tools.allowed_dirs", str(root))
    return root


async def test_panels_behind_the_question_say_queued(zai: WireServer, files: Path) -> None:
    reads = json.dumps({"path": "notes.txt"})
    zai.reply(
        tui_tool_round(
            ("c1", "read_file", reads),
            ("c2", "list_dir", json.dumps({"path": "."})),
            ("c3", "read_file", reads),
        ),
        answer("Read."),
    )
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await ask_and_wait(pilot, "read them")
        assert [panel_title(p) for p in panels(pilot)] == [
            "read_file · waiting for approval",
            "list_dir · queued",
            "read_file · queued",
        ]
        screen = screen_text(app)
        assert "writing arguments" not in screen
        assert '"path": "."' in screen  # a queued call shows its whole arguments
        await pilot.press("n")  # denied: the next one asks, the last is still queued
        await wait_until(
            pilot,
            lambda: pane.approval is not None and pane.approval.call.key == (0, 1),
            "the second question",
        )
        await pilot.pause()
        assert [panel_title(p) for p in panels(pilot)] == [
            "read_file · denied",
            "list_dir · waiting for approval",
            "read_file · queued",
        ]
        await pilot.press("y")
        await wait_until(
            pilot,
            lambda: pane.approval is not None and pane.approval.call.key == (0, 2),
            "the third question",
        )
        await pilot.press("y")
        await wait_for_stream(pilot)
        assert [p.state for p in panels(pilot)] == ["denied", "ok", "ok"]


async def test_panels_behind_a_running_call_say_queued_and_a_stop_cancels_them(
    zai: WireServer,
) -> None:
    save_value("tools.approve", "all")
    zai.reply(tui_tool_round(("c1", "wait", "{}"), ("c2", "wait", "{}"), ("c3", "wait", "{}")))
    tool = GatedTool()
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        assert pane.engine.toolbox is not None
        pane.engine.toolbox.tools.append(tool)
        await send(pilot, "wait for it")
        await wait_until(pilot, tool.started.is_set, "the tool to start")
        await wait_until(pilot, lambda: "wait · running" in screen_text(app), "running")
        titles = [panel_title(p) for p in panels(pilot)]
        assert titles[0].startswith("wait · running")
        assert titles[1:] == ["wait · queued", "wait · queued"]
        await pilot.press("escape")
        await wait_for_stream(pilot)
        assert [p.state for p in panels(pilot)] == ["cancelled"] * 3
        rows = saved(pane.conversation_id)
    assert [(r.role, r.status) for r in rows] == [
        ("user", "complete"),
        ("assistant", "cancelled"),
        *[("tool", "cancelled")] * 3,
    ]


def test_a_queued_panel_title() -> None:
    from glmchat.tui.widgets.tool_panel import OPEN_STATES, state_text

    update = ToolCallUpdate((0, 1), "c", "f", "f", "{}", "queued")
    assert state_text(update) == "queued"
    assert "queued" in OPEN_STATES  # an answer that ends around it closes it


# --- glmchat ask -------------------------------------------------------------------------------


def test_ask_prints_no_line_for_a_queued_call() -> None:
    from glmchat.cli.ask_tools import activity_line

    update = ToolCallUpdate((0, 1), "c", "add", "add", '{"a": 1}', "queued")
    assert activity_line(update) is None
    assert activity_line(replace(update, state="running")) == '[tool] add {"a": 1}'
