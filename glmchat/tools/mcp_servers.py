"""MCP servers from `[mcp.servers.NAME]`: started in the background with the official `mcp` SDK
(stdio or streamable HTTP), their tools listed and called (what they answer: mcp_results.py).

A server that cannot start, stops answering or dies is a state with a one-line reason, never an
exception in the chat. The SDK (and pydantic under it) is imported only when a server starts:
start-up and a chat without MCP servers never load it."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import tempfile
from collections.abc import Callable, Collection, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any, Literal

from glmchat.secret_values import mask_text, secrets_in
from glmchat.tools.base import McpServerConfig, ToolOutput
from glmchat.tools.mcp_end_watch import watched

# `McpToolInfo as McpToolInfo`: callers import it from here too, where it lived.
from glmchat.tools.mcp_results import McpToolInfo as McpToolInfo
from glmchat.tools.mcp_results import flatten_result, list_tools

if TYPE_CHECKING:
    from mcp import Client

log = logging.getLogger(__name__)

ServerState = Literal[
    "disabled",  # `enabled = false` in config.toml
    "starting",
    "ready",
    "failed",  # could not start, or stopped on its own: see the reason
    "stopped",  # glmchat stopped it
]
START_TIMEOUT = 30.0  # seconds for a server to start and list its tools
STOP_TIMEOUT = 10.0  # the SDK's own shutdown of a stdio server takes at most about 6 s
_STDERR_TAIL = 4096  # bytes of a server's stderr read back for a failure's reason
_REASON_LEN = 300


@dataclass(frozen=True, slots=True)
class ServerStatus:
    name: str
    state: ServerState
    reason: str | None = None  # why it failed (one line)
    tools: tuple[McpToolInfo, ...] = ()

    def line(self) -> str:
        """One line for the user: `MCP server "files" failed: cannot start ...`."""
        shown = f'MCP server "{self.name}" {self.state}'
        if self.state == "ready":
            return f"{shown} ({len(self.tools)} tools)"
        return f"{shown}: {self.reason}" if self.reason else shown

    def refusal(self) -> str:
        """What a call to one of its tools returns to the model while it is not ready: its
        line, and what a state without a reason means."""
        if self.state == "disabled":
            return f"{self.line()} (enabled = false in config.toml)"
        if self.state == "starting":
            return f"{self.line()}: its tools are not ready yet"
        return self.line()


def _aside(text: str) -> str:
    return f" ({text})" if text else ""


def _one_line(text: str, secrets: Collection[str]) -> str:
    """A message about a server for the user or the model, with the server's secrets masked:
    it may quote its URL (a token in the query) or a stderr line that echoes a setting. Masked
    before it is cut, so no secret is left half shown."""
    text = mask_text(" ".join(text.split()), secrets)
    return text if len(text) <= _REASON_LEN else _cut(text, _REASON_LEN)


_CLOSERS = {"(": ")", "[": "]", "{": "}", '"': '"'}


def _cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "…" and closing every bracket and
    quote the cut left open: `exited while starting (auth failed …)`, not an aside without
    its end."""
    room = limit - 1
    while True:
        kept = text[:room]
        expected: list[str] = []  # the closers still owed, innermost last
        for char in kept:
            if expected and char == expected[-1]:
                expected.pop()
            elif char in _CLOSERS:
                expected.append(_CLOSERS[char])
        tail = "…" + "".join(reversed(expected))
        if len(kept) + len(tail) <= limit or room <= 0:
            return kept + tail
        room -= len(kept) + len(tail) - limit


@dataclass
class _Server:
    config: McpServerConfig
    status: ServerStatus
    client: Client | None = None
    task: asyncio.Task[None] | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # the connection is over
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # no longer starting
    stopping: bool = False
    stderr: IO[str] | None = None  # a stdio server's stderr, for the reason it failed
    scope: Any = None  # the anyio cancel scope of its life
    http_refusal: str | None = None  # an HTTP server's last error status ("HTTP 401 ...")

    @property
    def secrets(self) -> frozenset[str]:
        """What a message about this server must not show (only failures ask)."""
        config = self.config
        return secrets_in(
            texts=[config.url or "", config.command or ""],
            pairs=[*config.env, *config.headers],
            args=config.args,
        )

    def stderr_tail(self) -> str:
        """The last non-empty line the server wrote on stderr, or ""."""
        if self.stderr is None:
            return ""
        fd = self.stderr.fileno()
        size = os.fstat(fd).st_size
        # pread leaves the file offset alone: the child process shares it.
        data = os.pread(fd, _STDERR_TAIL, max(0, size - _STDERR_TAIL))
        lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
        return next((line for line in reversed(lines) if line), "")

    def settle(self, _task: asyncio.Task[None]) -> None:
        """Its start task's done callback: however the task ended, the server is not starting."""
        self.settled.set()


class McpManager:
    """Starts the configured MCP servers, keeps each one's state, calls their tools and stops
    them. One per process (the TUI's app, or one `ask` / `tools list` run)."""

    def __init__(
        self,
        servers: Sequence[McpServerConfig],
        *,
        start_timeout: float = START_TIMEOUT,
        on_change: Callable[[ServerStatus], None] | None = None,
    ) -> None:
        self.start_timeout = start_timeout
        self.on_change = on_change
        self._servers = {
            config.name: _Server(
                config, ServerStatus(config.name, "starting" if config.enabled else "disabled")
            )
            for config in servers
        }

    @property
    def configs(self) -> list[McpServerConfig]:
        return [server.config for server in self._servers.values()]

    def statuses(self) -> list[ServerStatus]:
        return [server.status for server in self._servers.values()]

    def status(self, name: str) -> ServerStatus:
        return self._servers[name].status

    def _set(self, server: _Server, state: ServerState, reason: str | None = None) -> None:
        tools = server.status.tools if state == "ready" else ()
        server.status = ServerStatus(server.config.name, state, reason, tools)
        if state != "starting":
            server.settled.set()
        if state == "failed":
            log.debug("%s", server.status.line())
        if self.on_change is not None:
            self.on_change(server.status)

    async def start_all(self) -> None:
        """Start every enabled server at once; returns when each is ready or has failed
        (none takes longer than `start_timeout`). Never raises for a server's failure."""
        enabled = [s for s in self._servers.values() if s.config.enabled]
        for server in enabled:
            if server.task is None:  # a second call waits for the same starts
                task = asyncio.create_task(self._run(server), name=f"mcp:{server.config.name}")
                task.add_done_callback(server.settle)
                server.task = task
        await asyncio.gather(*(server.settled.wait() for server in enabled))

    async def _transport(self, server: _Server, stack: AsyncExitStack) -> Any:
        config = server.config
        if config.url:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            # Headers go on a client of our own (the SDK takes no headers= any more), with the
            # SDK's recommended timeouts: a server may hold a response stream open for long.
            async def note_refusal(response: httpx2.Response) -> None:
                # The SDK says only "an error response"; the status says what to fix.
                if response.status_code >= 400:
                    server.http_refusal = f"HTTP {response.status_code} {response.reason_phrase}"

            http = httpx2.AsyncClient(
                headers=dict(config.headers),
                timeout=httpx2.Timeout(30.0, read=300.0),
                event_hooks={"response": [note_refusal]},
            )
            await stack.enter_async_context(http)
            return streamable_http_client(config.url, http_client=http)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        # The server's stderr must not reach the terminal (it would draw over the chat
        # screen); it goes to a file whose last line explains a failure.
        server.stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        params = StdioServerParameters(
            command=config.command or "", args=list(config.args), env=dict(config.env) or None
        )
        return stdio_client(params, errlog=server.stderr)

    async def _run(self, server: _Server) -> None:
        """The server's life, in its own task: the SDK's client is entered and left here."""
        import anyio
        from mcp import Client
        from mcp.types import Implementation

        from glmchat import __version__

        _quiet_sdk_logs()
        failure: Exception | None = None
        # One cancel scope for the server's whole life (the SDK's task groups nest inside it):
        # its deadline bounds the start, and is lifted once the tools are listed.
        scope = server.scope = anyio.CancelScope(deadline=anyio.current_time() + self.start_timeout)
        try:
            with scope:
                async with AsyncExitStack() as stack:
                    transport = await self._transport(server, stack)
                    client = Client(
                        watched(transport, server.ended.set),
                        client_info=Implementation(name="glmchat", version=__version__),
                    )
                    await stack.enter_async_context(client)
                    tools = await list_tools(client)
                    scope.deadline = math.inf
                    server.client = client
                    server.status = replace(server.status, tools=tuple(tools))
                    self._set(server, "ready")
                    await server.ended.wait()
                    server.client = None
            if scope.cancelled_caught and not server.stopping:
                failure = TimeoutError()
        except asyncio.CancelledError:
            self._set(server, "stopped")
            raise
        except Exception as exc:  # an ExceptionGroup from the SDK's task groups, too
            log.debug("MCP server %s failed", server.config.name, exc_info=True)
            failure = exc
        finally:
            server.client = None
        try:
            if server.stopping:
                self._set(server, "stopped")
            elif failure is not None:
                self._set(server, "failed", self._reason(server, failure))
            else:
                tail = server.stderr_tail()
                self._set(
                    server, "failed", _one_line(f"stopped on its own{_aside(tail)}", server.secrets)
                )
        finally:
            if server.stderr is not None:
                server.stderr.close()
                server.stderr = None

    def _reason(self, server: _Server, exc: BaseException) -> str:
        leaf = _first_leaf(exc)
        config = server.config
        tail = server.stderr_tail()
        if isinstance(leaf, TimeoutError):
            reason = f"did not start within {self.start_timeout:g} s"
        elif isinstance(leaf, FileNotFoundError | PermissionError) and config.command:
            reason = f"cannot run {config.command}: {leaf.strerror or leaf}"
        elif _is_connection_closed(leaf):
            reason = "exited while starting" if config.command else "closed the connection"
        elif config.url and type(leaf).__module__.startswith(("httpx2", "httpcore2")):
            reason = f"cannot reach {config.url}: {leaf or type(leaf).__name__}"
        elif server.http_refusal:
            hint = " (check its headers in config.toml)" if "HTTP 40" in server.http_refusal else ""
            reason = f"{config.url} answered {server.http_refusal}{hint}"
        else:
            reason = f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__
        return _one_line(f"{reason}{_aside(tail)}", server.secrets)

    async def call(self, server_name: str, tool: str, arguments: dict[str, Any]) -> ToolOutput:
        """Run `tool` on a ready server. A server's failure is error text for the model, never
        an exception; cancellation (the user stopped the exchange) goes through."""
        server = self._servers.get(server_name)
        if server is None:
            return ToolOutput(f'MCP server "{server_name}" is unknown', is_error=True)
        if server.client is None and server.status.state == "ready" and server.task is not None:
            # Its connection is over (the server died) and its task is recording why: the
            # call gets that reason, not a "ready" that no longer holds.
            await asyncio.wait({server.task}, timeout=STOP_TIMEOUT)
        client = server.client
        if client is None or server.status.state != "ready":
            return ToolOutput(server.status.refusal(), is_error=True)
        from mcp import MCPError

        try:
            result = await client.call_tool(tool, arguments)
        except MCPError as exc:
            if _is_connection_closed(exc):
                server.ended.set()
                await asyncio.sleep(0)  # let the server's task record why
                tail = server.stderr_tail()
                return ToolOutput(
                    _one_line(
                        f'MCP server "{server_name}" stopped while running {tool}{_aside(tail)}',
                        server.secrets,
                    ),
                    is_error=True,
                )
            return ToolOutput(_one_line(f"{tool}: {exc.message}", server.secrets), is_error=True)
        except Exception as exc:
            log.debug("MCP tool %s on %s failed", tool, server_name, exc_info=True)
            message = f"{tool}: {type(exc).__name__}: {exc}"
            return ToolOutput(_one_line(message, server.secrets), is_error=True)
        return flatten_result(result)

    async def aclose(self) -> None:
        """Stop every server (a stdio server's process is ended, its children too)."""
        running = [s for s in self._servers.values() if s.task and not s.task.done()]
        for server in running:
            server.stopping = True
            server.ended.set()
        tasks = [s.task for s in running if s.task]
        if not tasks:
            return
        for server in running:
            if server.status.state == "starting" and server.scope is not None:
                server.scope.cancel()  # nothing to wait for
        _, late = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
        for task in late:  # a shutdown that hangs: give up on it
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)


def _first_leaf(exc: BaseException) -> BaseException:
    """The first real error inside the SDK's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _is_connection_closed(exc: BaseException) -> bool:
    from mcp import MCPError
    from mcp.types import CONNECTION_CLOSED

    return isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED


def _quiet_sdk_logs() -> None:
    # Without a handler, Python prints the SDK's warnings on stderr (over the chat screen, or
    # as lines that are not one clear line); glmchat reports failures itself. GLMCHAT_DEBUG's
    # log still gets them through the root logger if one is set up.
    sdk = logging.getLogger("mcp")
    if not sdk.handlers:
        sdk.addHandler(logging.NullHandler())
