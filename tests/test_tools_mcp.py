"""MCP servers through McpManager against a real server written with the same SDK
(tests/mcp_server.py) over stdio and over streamable HTTP on 127.0.0.1: start, list, call,
error results, a crash, a server that cannot start, custom headers, and the toolbox."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from glmchat.tools.base import McpServerConfig, ToolSettings
from glmchat.tools.mcp_servers import McpManager, ServerStatus
from glmchat.tools.names import WIRE_NAME
from glmchat.tools.toolbox import McpTool, build_toolbox

SERVER = str(Path(__file__).with_name("mcp_server.py"))


def stdio(name: str = "test", *args: str, **kw: Any) -> McpServerConfig:
    return McpServerConfig(name=name, command=sys.executable, args=(SERVER, *args), **kw)


@pytest.fixture
async def manager() -> AsyncIterator[McpManager]:
    """One running stdio server named "test"."""
    mgr = McpManager([stdio()])
    await mgr.start_all()
    try:
        yield mgr
    finally:
        await mgr.aclose()


async def test_a_stdio_server_starts_and_lists_its_tools(manager: McpManager) -> None:
    status = manager.status("test")
    assert status.state == "ready", status.reason
    tools = {tool.name: tool for tool in status.tools}
    assert {"echo", "add", "slow", "fails", "crash", "mixed", "dotted.name-v2"} <= set(tools)
    echo = tools["echo"]
    assert echo.description == "Echo the text back" and echo.read_only_hint
    assert echo.parameters["type"] == "object" and "text" in echo.parameters["properties"]
    assert not tools["add"].read_only_hint
    assert status.line() == f'MCP server "test" ready ({len(tools)} tools)'


async def test_calls_flatten_results_to_text(manager: McpManager) -> None:
    out = await manager.call("test", "echo", {"text": "héllo"})
    assert (out.text, out.is_error) == ("héllo", False)
    assert (await manager.call("test", "add", {"a": 2, "b": 3.5})).text == "5.5"
    mixed = await manager.call("test", "mixed", {})
    assert mixed.text.splitlines() == [
        "first",
        "[image: image/png, about 9 bytes, not shown]",
        "[audio: audio/wav, about 6 bytes, not shown]",
        "file:///notes.md (notes)",
        "embedded text",
    ]
    structured = await manager.call("test", "structured_only", {})
    assert structured.text == '{"temperature": 21.5, "unit": "C"}'


async def test_error_results_are_tool_errors_for_the_model(manager: McpManager) -> None:
    out = await manager.call("test", "fails", {"reason": "disk full"})
    assert (out.text, out.is_error) == ("it broke: disk full", True)
    raised = await manager.call("test", "raises", {})
    assert raised.is_error and "raises" in raised.text
    unknown = await manager.call("test", "no_such_tool", {})
    assert unknown.is_error and "no_such_tool" in unknown.text
    bad_args = await manager.call("test", "add", {"a": "x"})
    assert bad_args.is_error
    assert manager.status("test").state == "ready"  # none of that harms the server


async def test_a_server_that_crashes_mid_call_is_failed_with_a_reason(
    manager: McpManager, capfd: pytest.CaptureFixture[str]
) -> None:
    seen: list[ServerStatus] = []
    manager.on_change = seen.append
    out = await manager.call("test", "crash", {})
    assert out.is_error
    assert out.text.startswith('MCP server "test" stopped while running crash')
    await asyncio.wait_for(_until(manager, "failed"), 10)
    status = manager.status("test")
    assert status.reason is not None and "crashing on purpose" in status.reason
    assert "\n" not in status.line() and status.line().startswith('MCP server "test" failed: ')
    assert seen[-1] == status and status.tools == ()
    # Later calls say why, without trying; the toolbox no longer offers its tools.
    later = await manager.call("test", "echo", {"text": "x"})
    assert later.is_error and later.text.startswith('MCP server "test" failed: ')
    assert build_toolbox(ToolSettings(), manager).tools == []
    # What the server wrote on its stderr never reached ours (the chat screen, in the TUI).
    assert "crashing on purpose" not in capfd.readouterr().err


async def _until(manager: McpManager, state: str, name: str = "test") -> None:
    while manager.status(name).state != state:
        await asyncio.sleep(0.02)


async def test_a_server_that_dies_between_calls_is_noticed_at_once() -> None:
    """Killed from outside while idle: its state turns failed without a call to notice it."""
    seen: list[ServerStatus] = []
    mgr = McpManager([stdio()], on_change=seen.append)
    await mgr.start_all()
    try:
        pid = int((await mgr.call("test", "pid", {})).text)
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait_for(_until(mgr, "failed"), 10)
    finally:
        await mgr.aclose()
    assert mgr.status("test").reason == "stopped on its own"
    assert [s.state for s in seen] == ["ready", "failed"]


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        (
            McpServerConfig(name="missing", command="/nonexistent/mcp-server-xyz"),
            "cannot run /nonexistent/mcp-server-xyz: No such file or directory",
        ),
        (stdio("early", "--fail-start"), "exited while starting (fatal: no configuration found)"),
        (
            McpServerConfig(name="notmcp", command=sys.executable, args=("-c", "print('hi')")),
            "exited while starting",
        ),
    ],
)
async def test_a_server_that_cannot_start_is_one_clear_line(
    config: McpServerConfig, reason: str
) -> None:
    mgr = McpManager([config, stdio("good")])
    await mgr.start_all()
    try:
        status = mgr.status(config.name)
        assert status.state == "failed"
        assert status.reason == reason
        assert mgr.status("good").state == "ready"  # the others go on
        out = await mgr.call(config.name, "echo", {})
        assert out.is_error and out.text == status.line()  # the line is the call's result
    finally:
        await mgr.aclose()


async def test_a_server_that_does_not_answer_in_time_fails_with_a_timeout() -> None:
    silent = McpServerConfig(
        name="silent", command=sys.executable, args=("-c", "import time; time.sleep(60)")
    )
    mgr = McpManager([silent], start_timeout=0.5)
    await mgr.start_all()
    try:
        assert mgr.status("silent").state == "failed"
        assert mgr.status("silent").reason == "did not start within 0.5 s"
    finally:
        await mgr.aclose()


async def test_start_all_twice_waits_for_the_same_start() -> None:
    mgr = McpManager([stdio()])
    try:
        first = asyncio.create_task(mgr.start_all())
        await asyncio.sleep(0)  # the first call has started the server
        await mgr.start_all()
        assert mgr.status("test").state == "ready"
        await first
        await mgr.start_all()  # nothing new to start
        pid = (await mgr.call("test", "pid", {})).text
        assert (await mgr.call("test", "pid", {})).text == pid
    finally:
        await mgr.aclose()


async def test_disabled_servers_are_not_started() -> None:
    mgr = McpManager([stdio("off", enabled=False)])
    await mgr.start_all()
    assert mgr.status("off").state == "disabled"
    await mgr.aclose()
    assert mgr.status("off").state == "disabled"


async def test_the_environment_reaches_a_stdio_server() -> None:
    mgr = McpManager([stdio(env=(("GLMCHAT_TEST_VALUE", "from config"),))])
    await mgr.start_all()
    try:
        out = await mgr.call("test", "env", {"name": "GLMCHAT_TEST_VALUE"})
        assert out.text == "from config"
    finally:
        await mgr.aclose()


async def test_aclose_stops_every_server_process() -> None:
    mgr = McpManager([stdio("a"), stdio("b")])
    await mgr.start_all()
    pids = [int((await mgr.call(name, "pid", {})).text) for name in ("a", "b")]
    await mgr.aclose()
    assert [s.state for s in mgr.statuses()] == ["stopped", "stopped"]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_aclose_while_a_server_is_still_starting() -> None:
    silent = McpServerConfig(
        name="silent", command=sys.executable, args=("-c", "import time; time.sleep(60)")
    )
    mgr = McpManager([silent])
    starting = asyncio.create_task(mgr.start_all())
    await asyncio.sleep(0.3)
    assert mgr.status("silent").state == "starting"
    await mgr.aclose()
    await starting
    assert mgr.status("silent").state == "stopped"


async def test_cancelling_a_call_stops_waiting_and_the_server_stays_up(
    manager: McpManager,
) -> None:
    call = asyncio.create_task(manager.call("test", "slow", {"seconds": 30}))
    await asyncio.sleep(0.3)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert manager.status("test").state == "ready"
    assert (await manager.call("test", "echo", {"text": "still here"})).text == "still here"


# --- the toolbox -------------------------------------------------------------------------


async def test_the_toolbox_gathers_builtins_and_ready_servers_tools(tmp_path: Path) -> None:
    mgr = McpManager(
        [
            stdio("files", approve="read-only"),
            stdio("other"),
            McpServerConfig(name="broken", command="/nonexistent/x"),
        ]
    )
    await mgr.start_all()
    try:
        settings = ToolSettings(builtin=("read_file",), web_search=True, approve="ask")
        box = build_toolbox(settings, mgr, cwd=tmp_path)
        names = [tool.spec.name for tool in box.tools]
        assert names[0] == "read_file"
        assert "files__echo" in names and "other__echo" in names
        assert "files__dotted_name-v2" in names
        assert not any(name.startswith("broken__") for name in names)
        assert all(WIRE_NAME.match(name) for name in names) and len(set(names)) == len(names)
        assert box.web_search

        dotted = box.find("files__dotted_name-v2")
        assert isinstance(dotted, McpTool)
        assert dotted.spec.title == "files__dotted.name-v2"
        assert dotted.spec.source == "mcp:files"
        assert (await dotted.call({})).text == "dotted ok"

        # A read-only hint counts only where the server's approve trusts it.
        files_echo, other_echo = box.find("files__echo"), box.find("other__echo")
        files_add = box.find("files__add")
        assert files_echo and other_echo and files_add
        assert files_echo.spec.read_only and not other_echo.spec.read_only
        assert not files_add.spec.read_only
        assert not box.needs_approval(files_echo)
        assert box.needs_approval(files_add) and box.needs_approval(other_echo)
        wire = files_echo.spec.wire()["function"]
        assert wire["name"] == "files__echo" and wire["description"] == "Echo the text back"
    finally:
        await mgr.aclose()


async def test_long_dotted_names_from_a_server_fit_the_providers_rule() -> None:
    mgr = McpManager([stdio("a-server-with-a-rather-long-name", "--many", "3")])
    await mgr.start_all()
    try:
        box = build_toolbox(ToolSettings(), mgr)
        long_ones = [t for t in box.tools if "number" in t.spec.title]
        assert len(long_ones) == 3
        assert all(WIRE_NAME.match(t.spec.name) for t in long_ones)
        assert len({t.spec.name for t in long_ones}) == 3
        assert (await long_ones[2].call({})).text == "tool 2"
    finally:
        await mgr.aclose()


# --- streamable HTTP ---------------------------------------------------------------------


class HttpServer:
    """tests/mcp_server.py's tools served over streamable HTTP by uvicorn on 127.0.0.1, in a
    thread, requiring `Authorization: Bearer TOKEN` when a token is given."""

    def __init__(self, token: str | None = None) -> None:
        import logging

        import uvicorn

        from tests.mcp_server import http_app

        # The SDK's server sets up logging on the root logger; keep the test process's own.
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        app = http_app()
        root.handlers[:], root.level = handlers, level
        self.seen_headers: list[dict[str, str]] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]

        async def guarded(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode(): v.decode() for k, v in scope["headers"]}
                self.seen_headers.append(headers)
                if token and headers.get("authorization") != f"Bearer {token}":
                    await send({"type": "http.response.start", "status": 401, "headers": []})
                    await send({"type": "http.response.body", "body": b"no"})
                    return
            await app(scope, receive, send)

        config = uvicorn.Config(guarded, log_level="error", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])), daemon=True
        )
        self._thread.start()
        while not self._server.started:
            threading.Event().wait(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server = HttpServer(token="s3cret-token-value")
    try:
        yield server
    finally:
        server.close()


async def test_a_streamable_http_server_with_headers(http_server: HttpServer) -> None:
    config = McpServerConfig(
        name="remote",
        url=http_server.url,
        headers=(("Authorization", "Bearer s3cret-token-value"), ("X-Title", "glmchat")),
    )
    mgr = McpManager([config])
    await mgr.start_all()
    try:
        assert mgr.status("remote").state == "ready", mgr.status("remote").reason
        assert (await mgr.call("remote", "echo", {"text": "over http"})).text == "over http"
        fails = await mgr.call("remote", "fails", {"reason": "x"})
        assert fails.is_error and fails.text == "it broke: x"
        assert all(h.get("x-title") == "glmchat" for h in http_server.seen_headers)
    finally:
        await mgr.aclose()


async def test_an_http_server_that_refuses_is_failed_without_showing_the_token(
    http_server: HttpServer,
) -> None:
    config = McpServerConfig(
        name="remote", url=http_server.url, headers=(("Authorization", "Bearer wrong-token"),)
    )
    mgr = McpManager([config])
    await mgr.start_all()
    try:
        status = mgr.status("remote")
        assert status.state == "failed"
        assert status.reason == (
            f"{http_server.url} answered HTTP 401 Unauthorized (check its headers in config.toml)"
        )
        assert "wrong-token" not in status.line() and "\n" not in status.line()
    finally:
        await mgr.aclose()


async def test_an_http_server_that_goes_away_is_failed(http_server: HttpServer) -> None:
    config = McpServerConfig(
        name="remote",
        url=http_server.url,
        headers=(("Authorization", "Bearer s3cret-token-value"),),
    )
    mgr = McpManager([config])
    await mgr.start_all()
    try:
        http_server.close()
        out = await mgr.call("remote", "echo", {"text": "x"})
        assert out.is_error and out.text.startswith('MCP server "remote" stopped while running')
        await asyncio.wait_for(_until(mgr, "failed", "remote"), 10)
        assert (
            mgr.status("remote").reason
            == f"cannot reach {config.url}: All connection attempts failed"
        )
    finally:
        await mgr.aclose()


async def test_an_http_server_that_is_not_there_is_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = McpServerConfig(name="gone", url=f"http://127.0.0.1:{port}/mcp")
    mgr = McpManager([config], start_timeout=10)
    await mgr.start_all()
    try:
        status = mgr.status("gone")
        assert status.state == "failed"
        assert status.reason and status.reason.startswith(f"cannot reach {config.url}")
    finally:
        await mgr.aclose()
