"""`ask`'s tools: which are on for the run, the MCP servers started before the answer and
stopped after it, the approval question on the terminal, and the lines --show-thinking prints
about each call."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, TextIO

from glmchat.cli.errors import CliError
from glmchat.tools.base import Decision

if TYPE_CHECKING:
    from glmchat.backend.providers import ProviderConfig
    from glmchat.config import Settings
    from glmchat.engine.events import ApprovalRequest, ToolCallUpdate
    from glmchat.tools.base import Toolbox
    from glmchat.tools.mcp_servers import McpManager

NOT_CONFIGURED = (
    "--tools: no tools are configured; list built-ins in [tools] builtin, add "
    "[mcp.servers.NAME] tables, or set [tools] web_search = true (Z.ai providers) in config.toml"
)
_SHOWN_ARGUMENTS = 4000  # characters of a call's arguments in the approval question
_LINE_ARGUMENTS = 300  # ... and in a --show-thinking line


class AskTools:
    """The tools of one `ask` run. `start()` builds the toolbox (starting the configured MCP
    servers; one that fails is a warning and the answer goes on without it); `aclose()` stops
    the servers, also after Ctrl-C or SIGTERM."""

    def __init__(self, settings: Settings, provider: ProviderConfig, flag: bool | None) -> None:
        self.settings = settings
        self.provider = provider
        self.flag = flag  # --tools (True), --no-tools (False), neither (None)
        self.manager: McpManager | None = None

    def check(self) -> bool:
        """Whether any tool is on for this run; --tools with none configured is a usage error
        (raised before anything is sent)."""
        if self.flag is False:
            return False
        table, servers = self.settings.tools, self.settings.mcp_servers.values()
        # Z.ai's search exists only on the Z.ai family (the engine's rule in wire_tools).
        search = table.web_search and self.provider.thinking_param == "zai"
        configured = bool(table.builtin or search or any(s.enabled for s in servers))
        if not configured and self.flag:
            raise CliError(NOT_CONFIGURED)
        return configured

    async def start(self, *, approve_all: bool) -> Toolbox | None:
        if not self.check():
            return None
        from glmchat.tools.toolbox import build_toolbox, tool_settings

        tools = tool_settings(self.settings)
        if any(server.enabled for server in tools.servers):
            from glmchat.tools.mcp_servers import McpManager

            self.manager = McpManager(tools.servers)
            await self.manager.start_all()
            for status in self.manager.statuses():
                if status.state == "failed":
                    # A setup problem, like a config warning: said even with --json.
                    print(
                        f"glmchat: warning: {status.line()}; answering without its tools",
                        file=sys.stderr,
                    )
        toolbox = build_toolbox(tools, self.manager)
        toolbox.approve_all = approve_all
        return toolbox

    async def aclose(self) -> None:
        if self.manager is not None:
            manager, self.manager = self.manager, None
            await manager.aclose()


class TerminalApprovals:
    """Answers the engine's approval requests: on the terminal when stdin is one (y once,
    a always, n deny), else a denial with a note (the model is told it was denied)."""

    def __init__(self, stdin: TextIO | None, *, quiet: bool) -> None:
        self.quiet = quiet  # --json: only the question itself goes to stderr
        self._fd = _terminal_fd(stdin)
        self._pending = b""  # typed ahead: the next questions' answers

    async def answer(self, request: ApprovalRequest) -> None:
        call = request.call
        if self._fd is None:
            if not self.quiet:
                print(
                    f"glmchat: denied the tool call {call.title}: stdin is not a terminal to "
                    "ask on; pass --yes to allow tool calls",
                    file=sys.stderr,
                )
            request.answer("deny")
            return
        request.answer(await self._ask(call))

    async def _ask(self, call: ToolCallUpdate) -> Decision:
        arguments = _shown(call.arguments, _SHOWN_ARGUMENTS)
        question = (
            f"glmchat: run the tool {call.title} {arguments}?\n"
            "  [y] once  [a] always (this tool, this run)  [n] no: "
        )
        while True:
            sys.stderr.write(question)
            sys.stderr.flush()
            try:
                line = await self._read_line()
            except asyncio.CancelledError:
                sys.stderr.write("\n")  # Ctrl-C at the question: what follows starts a line
                raise
            if line is None:  # end of input: nobody will answer
                sys.stderr.write("\n")
                return "deny"
            reply = line.strip().lower()
            if reply in ("y", "yes"):
                return "once"
            if reply in ("a", "always"):
                return "always"
            if reply in ("n", "no", ""):
                return "deny"
            question = "glmchat: answer y (once), a (always) or n (no): "

    async def _read_line(self) -> str | None:
        """One line from the terminal, read without blocking the event loop (the stream and
        the timers go on; Ctrl-C cancels the wait)."""
        assert self._fd is not None
        fd = self._fd
        loop = asyncio.get_running_loop()
        while b"\n" not in self._pending:
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_reader(fd, _settle, ready)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                return None
            self._pending += data
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode("utf-8", "replace")


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _terminal_fd(stdin: TextIO | None) -> int | None:
    try:
        return stdin.fileno() if stdin is not None and stdin.isatty() else None
    except (ValueError, OSError):
        return None


def _shown(text: str, limit: int) -> str:
    """A call's arguments on one line (JSON needs no line breaks between its tokens), cut
    with a count of what is left out."""
    one_line = " ".join(text.split()) or "{}"
    if len(one_line) <= limit:
        return one_line
    return f"{one_line[:limit]}… ({len(one_line) - limit} more characters)"


def activity_line(update: ToolCallUpdate) -> str | None:
    """What --show-thinking prints for a call: the call when it starts running, and how it
    ended (state, seconds, the result's first line); None for the states in between."""
    if update.state == "running":
        return f"[tool] {update.title} {_shown(update.arguments, _LINE_ARGUMENTS)}"
    if update.state in ("streaming", "queued", "waiting"):
        return None
    took = f" in {update.seconds:.2f} s" if update.seconds is not None else ""
    first = (update.result or "").strip().split("\n", 1)[0]
    first = _shown(first, _LINE_ARGUMENTS) if first else ""
    state = update.state.replace("_", " ")
    return f"[tool] {update.title} {state}{took}" + (f": {first}" if first else "")
