"""A call to a tool of an MCP server that is not up (it died, failed to start, is disabled or
still starting) returns that server's one line to the model, as the chat, `glmchat ask` and
the engine see it; a name no configured server owns is "no tool named …"."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.cli.ask_tools import AskTools
from glmchat.config import load_settings, save_value
from glmchat.engine import ConversationEngine
from glmchat.engine.events import ApprovalRequest
from glmchat.store import SessionStore
from glmchat.tools.base import Toolbox
from glmchat.tui.app_tools import AppTools
from tests.test_ask_cli import ask
from tests.test_engine_tools import answer, tool_round
from tests.tui_helpers import API_KEY
from tests.wire_server import WireServer

MCP_SERVER = str(Path(__file__).with_name("mcp_server.py"))
DIED = 'Error: MCP server "test" failed: stopped on its own (crashing on purpose)'
NEVER_STARTED = (
    'Error: MCP server "broken" failed: exited while starting (fatal: no configuration found)'
)
DISABLED = 'Error: MCP server "off" disabled (enabled = false in config.toml)'
STARTING = 'Error: MCP server "test" starting: its tools are not ready yet'


def mcp_server(name: str, *args: str, enabled: bool = True) -> None:
    save_value(f"mcp.servers.{name}.command", sys.executable)
    save_value(f"mcp.servers.{name}.args", ",".join([MCP_SERVER, *args]))
    if not enabled:
        save_value(f"mcp.servers.{name}.enabled", "false")


def tool_results(request: Any) -> list[str]:
    return [m["content"] for m in request.json["messages"] if m["role"] == "tool"]


# --- the two ways a toolbox is made ----------------------------------------------------------


async def tui_toolbox(*, start: bool = True) -> tuple[Toolbox, Callable[[], Any]]:
    """A pane's toolbox as the chat makes it: it follows the servers as they come and go."""
    tools = AppTools(load_settings(), changed=lambda: None, failed=lambda line: None)
    toolbox = tools.toolbox()
    if start:
        await tools.start()
    return toolbox, tools.aclose


async def ask_toolbox(*, start: bool = True) -> tuple[Toolbox, Callable[[], Any]]:
    """`glmchat ask`'s toolbox: made once the servers have started, kept for the run."""
    settings = load_settings()
    tools = AskTools(settings, settings.providers["zai"], flag=None)
    toolbox = await tools.start(approve_all=False)
    assert toolbox is not None
    return toolbox, tools.aclose


@pytest.fixture(params=[tui_toolbox, ask_toolbox], ids=["chat", "ask"])
def make_toolbox(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture
async def engine_with(zai: WireServer) -> AsyncIterator[Callable[[Toolbox], ConversationEngine]]:
    settings = load_settings()
    store = SessionStore(paths.database_path())
    client = OpenAICompatClient(settings.providers["zai"], API_KEY)

    def make(toolbox: Toolbox) -> ConversationEngine:
        return ConversationEngine(
            settings, store, lambda name: client, provider="zai", model="glm-4.6", toolbox=toolbox
        )

    yield make
    await client.aclose()
    store.close()


async def run(engine: ConversationEngine, prompt: str) -> Any:
    """The exchange to its end, every call allowed; its result."""
    async for event in engine.send(prompt):
        if isinstance(event, ApprovalRequest):
            event.answer("once")
    assert engine.running is None
    return event.result  # ExchangeEnded, the last event


# --- a server that died ------------------------------------------------------------------------


async def test_a_call_to_a_server_that_died_gets_its_failure_line(
    zai: WireServer, make_toolbox: Any, engine_with: Any
) -> None:
    mcp_server("test")
    zai.reply(
        tool_round(("c1", "test__crash", "{}")),
        tool_round(("c2", "test__echo", json.dumps({"text": "hi"}))),
        answer("It is gone."),
    )
    toolbox, close = await make_toolbox()
    try:
        result = await run(engine_with(toolbox), "crash it, then echo")
    finally:
        await close()
    crash, echo = result.tool_calls
    assert crash.state == "error"
    assert (echo.name, echo.state, echo.result) == ("test__echo", "error", DIED)
    assert tool_results(zai.requests[2])[-1] == DIED  # what the model read


# --- the class: every state of a server that is not up -----------------------------------------


async def test_calls_to_servers_that_are_not_up_say_why(
    zai: WireServer, make_toolbox: Any, engine_with: Any
) -> None:
    mcp_server("test")
    mcp_server("broken", "--fail-start")
    mcp_server("off", enabled=False)
    calls = [
        ("c1", "broken__echo", json.dumps({"text": "x"})),  # failed to start
        ("c2", "off__echo", json.dumps({"text": "x"})),  # disabled in config.toml
        ("c3", "nope__echo", json.dumps({"text": "x"})),  # no such server
        ("c4", "test__no_such_tool", "{}"),  # a server that is up, a tool it lacks
        ("c5", "test__echo", json.dumps({"text": "up"})),
    ]
    zai.reply(tool_round(*calls), answer("Noted."))
    toolbox, close = await make_toolbox()
    try:
        result = await run(engine_with(toolbox), "try them all")
    finally:
        await close()
    assert [(c.state, c.result) for c in result.tool_calls] == [
        ("error", NEVER_STARTED),
        ("error", DISABLED),
        ("error", "Error: there is no tool named 'nope__echo'."),
        ("error", "Error: there is no tool named 'test__no_such_tool'."),
        ("ok", "up"),
    ]
    assert tool_results(zai.requests[1]) == [c.result for c in result.tool_calls]


async def test_a_call_to_a_server_still_starting_says_so(zai: WireServer, engine_with: Any) -> None:
    """The chat offers a server's tools once it is up; a model that names one before (a
    resumed conversation) is told the server is starting."""
    save_value("tools.builtin", "list_dir")  # tools are on meanwhile: the built-ins
    mcp_server("test")
    mcp_server("off", enabled=False)
    zai.reply(
        tool_round(("c1", "test__echo", json.dumps({"text": "x"})), ("c2", "off__echo", "{}")),
        answer("Later, then."),
    )
    toolbox, close = await tui_toolbox(start=False)
    try:
        result = await run(engine_with(toolbox), "echo")
    finally:
        await close()
    assert [c.result for c in result.tool_calls] == [STARTING, DISABLED]


async def test_ask_with_only_a_disabled_server_says_it_is_disabled(
    zai: WireServer, engine_with: Any
) -> None:
    """No server to start, so no servers' manager: the disabled one is still named."""
    save_value("tools.builtin", "list_dir")
    mcp_server("off", enabled=False)
    zai.reply(tool_round(("c1", "off__echo", "{}"), ("c2", "nope__echo", "{}")), answer("No."))
    toolbox, close = await ask_toolbox()
    try:
        result = await run(engine_with(toolbox), "echo")
    finally:
        await close()
    assert [c.result for c in result.tool_calls] == [
        DISABLED,
        "Error: there is no tool named 'nope__echo'.",
    ]


# --- glmchat ask, end to end --------------------------------------------------------------------


def test_ask_json_gives_the_model_the_dead_servers_line(wire: WireServer) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"[mcp.servers.test]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(MCP_SERVER)}]\n"
    )
    wire.reply(
        tool_round(("c1", "test__crash", "{}")),
        tool_round(("c2", "test__echo", json.dumps({"text": "hi"}))),
        answer("It is gone."),
    )
    proc = ask("--json", "--no-save", "--yes", "--base-url", wire.url, "crash, then echo")
    assert proc.returncode == 0, proc.stderr
    crash, echo = json.loads(proc.stdout)["tool_calls"]
    assert (echo["status"], echo["result"]) == ("error", DIED)
    assert tool_results(wire.requests[2]) == [crash["result"], DIED]


async def test_a_call_right_after_the_server_died_waits_for_its_reason() -> None:
    """The next call can come before the server's task has recorded why it ended: it gets
    that reason, never the "ready" of a server that is gone."""
    from glmchat.tools.base import McpServerConfig
    from glmchat.tools.mcp_servers import McpManager

    manager = McpManager([McpServerConfig("test", command=sys.executable, args=(MCP_SERVER,))])
    await manager.start_all()
    try:
        crashed = await manager.call("test", "crash", {})
        echoed = await manager.call("test", "echo", {"text": "x"})
    finally:
        await manager.aclose()
    assert crashed.is_error and crashed.text.startswith('MCP server "test" stopped while running')
    assert echoed.is_error and f"Error: {echoed.text}" == DIED


async def test_in_the_chat_the_dead_servers_line_is_the_calls_result(zai: WireServer) -> None:
    """The report's steps: the model calls test__crash (allowed with y), the server dies, then
    it calls test__echo, which the chat no longer offers (a built-in is still on: with no
    tool on at all, a call is not run, as in any chat without tools)."""
    from tests.test_tui_tools import ask_and_wait, panels
    from tests.tui_helpers import (
        active,
        build_app,
        running,
        screen_text,
        wait_for_stream,
        wait_until,
    )

    save_value("tools.builtin", "list_dir")
    mcp_server("test")
    zai.reply(
        tool_round(("c1", "test__crash", "{}")),
        answer("It crashed."),
        tool_round(("c2", "test__echo", json.dumps({"text": "hi"}))),
        answer("It is gone."),
    )
    app = build_app()
    async with running(app) as pilot:
        await wait_until(
            pilot, lambda: [s.state for s in app.tools.statuses()] == ["ready"], "the server"
        )
        await ask_and_wait(pilot, "crash it")
        await pilot.press("y")
        await wait_for_stream(pilot)
        await wait_until(
            pilot, lambda: app.tools.statuses()[0].state == "failed", "the server to fail"
        )
        pane = active(pilot)
        await pilot.press(*"echo")
        await pilot.press("enter")
        await wait_for_stream(pilot)
        echo = panels(pilot)[-1]
        assert (echo.update_seen.name, echo.state) == ("test__echo", "error")
        assert echo.update_seen.result == DIED
        assert "It is gone." in screen_text(app)
        assert pane.approval is None  # nothing to allow: it could not run
    assert tool_results(zai.requests[3])[-1] == DIED  # what the model read
