"""The app's tools: one Toolbox per pane made from `[tools]`, the MCP servers started once after
the first paint, and their tools joining every pane's toolbox as they become ready."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from glmchat.tools.base import Tool, Toolbox

if TYPE_CHECKING:
    from glmchat.config import Settings
    from glmchat.tools.base import ToolSettings
    from glmchat.tools.mcp_servers import McpManager, ServerStatus


def _import_the_sdk() -> None:
    # The MCP SDK and pydantic under it take a few hundred ms to import: in a thread, so the
    # screen keeps answering keys meanwhile.
    import mcp  # noqa: F401


class AppTools:
    """Tools for every pane. `changed` is called (on the app's loop) when a server's state
    changes and the panes' toolboxes have been brought up to date; `failed` with one line for
    a server that could not start or stopped on its own."""

    def __init__(
        self,
        settings: Settings,
        *,
        changed: Callable[[], None],
        failed: Callable[[str], None],
    ) -> None:
        from glmchat.tools.toolbox import build_toolbox, tool_settings

        self.settings: ToolSettings = tool_settings(settings)
        self._changed = changed
        self._failed = failed
        self._toolboxes: list[Toolbox] = []
        self.manager: McpManager | None = None
        # The built-ins now; each ready server's tools join when it is up.
        self._tools: list[Tool] = build_toolbox(self.settings).tools
        self._closing = False

    @property
    def has_servers(self) -> bool:
        return any(server.enabled for server in self.settings.servers)

    def toolbox(self) -> Toolbox:
        """A new pane's toolbox: every tool there is now, web search as configured."""
        toolbox = Toolbox(
            settings=self.settings,
            tools=list(self._tools),
            web_search=self.settings.web_search,
            server_states=self.statuses,  # a call to a server that is not up says why
        )
        self._toolboxes.append(toolbox)
        return toolbox

    def forget(self, toolbox: Toolbox | None) -> None:
        """A pane closed: its toolbox no longer follows the servers."""
        self._toolboxes = [t for t in self._toolboxes if t is not toolbox]

    def statuses(self) -> list[ServerStatus]:
        """Each configured server's state (all "starting" until the manager is made)."""
        if self.manager is not None:
            return self.manager.statuses()
        from glmchat.tools.mcp_servers import ServerStatus

        return [
            ServerStatus(s.name, "starting" if s.enabled else "disabled")
            for s in self.settings.servers
        ]

    def summary(self) -> str:
        """The servers' part of a status line: those starting, those that failed."""
        if not self.settings.servers:
            return ""
        if self.manager is None:
            # Not started yet: every enabled one is starting. Said without the servers'
            # module, which loads with them, after the first paint (this line is in it).
            starting = sum(s.enabled for s in self.settings.servers)
            failed: list[str] = []
        else:
            statuses = self.manager.statuses()
            starting = sum(s.state == "starting" for s in statuses)
            failed = [s.name for s in statuses if s.state == "failed"]
        parts = []
        if starting:
            parts.append(f"MCP starting {starting}")
        if len(failed) == 1:
            parts.append(f"MCP {failed[0]} failed")
        elif failed:
            parts.append(f"MCP {len(failed)} failed")
        return " · ".join(parts)

    async def start(self) -> None:
        """Start the enabled MCP servers (once; call after the first paint)."""
        if self.manager is not None or not self.has_servers:
            return
        from glmchat.tools.mcp_servers import McpManager

        self.manager = McpManager(self.settings.servers, on_change=self._server_changed)
        try:
            await asyncio.to_thread(_import_the_sdk)
        except ImportError as exc:  # pragma: no cover - mcp is a dependency
            self._failed(f"MCP servers cannot start: the mcp package is missing ({exc}).")
            return
        if not self._closing:
            await self.manager.start_all()

    def _server_changed(self, status: ServerStatus) -> None:
        if self._closing:
            return
        from glmchat.tools.toolbox import build_toolbox

        self._tools = build_toolbox(self.settings, self.manager).tools
        for toolbox in self._toolboxes:
            toolbox.tools = list(self._tools)
        if status.state == "failed":
            from glmchat.sentences import join_sentences

            self._failed(join_sentences(status.line(), "The chat goes on without its tools"))
        self._changed()

    async def aclose(self) -> None:
        """Stop every server (the app is quitting)."""
        self._closing = True
        if self.manager is not None:
            await self.manager.aclose()
