"""The tools of a conversation: the settings from config.toml, and the built-ins plus the ready
MCP servers' tools gathered under unique wire names (the Toolbox the engine offers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmchat.tools.base import McpServerConfig, Tool, Toolbox, ToolOutput, ToolSettings, ToolSpec
from glmchat.tools.builtin import builtin_tools
from glmchat.tools.names import SEPARATOR, NameMap

if TYPE_CHECKING:
    from glmchat.config import Settings
    from glmchat.tools.mcp_servers import McpManager, McpToolInfo, ServerStatus


def tool_settings(settings: Settings) -> ToolSettings:
    """`[tools]` and `[mcp.servers.NAME]` as the engine and the tools take them."""
    table = settings.tools
    return ToolSettings(
        approve=table.approve,  # type: ignore[arg-type]  # checked against APPROVE_POLICIES
        max_rounds=table.max_rounds,
        timeout=table.timeout,
        max_result_kb=table.max_result_kb,
        web_search=table.web_search,
        builtin=table.builtin,
        allowed_dirs=table.allowed_dirs,
        fetch_private=table.fetch_private,
        servers=tuple(settings.mcp_servers.values()),
    )


class McpTool:
    """One MCP server's tool under its glmchat wire name; calls go to the server's manager."""

    def __init__(self, spec: ToolSpec, manager: McpManager, server: str, name: str) -> None:
        self.spec = spec
        self.manager = manager
        self.server = server
        self.name = name  # the server's own name for it

    async def call(self, arguments: dict[str, Any]) -> ToolOutput:
        return await self.manager.call(self.server, self.name, arguments)


def mcp_spec(config: McpServerConfig, info: McpToolInfo, wire: str) -> ToolSpec:
    """How a server's tool is offered and shown. Its read-only hint is only a hint: it counts
    (lets the tool run unasked) only when the server's own `approve = "read-only"` says its
    hints are trusted; otherwise the tool is treated as one that may change things."""
    return ToolSpec(
        name=wire,
        title=f"{config.name}{SEPARATOR}{info.name}",
        description=info.description,
        parameters=info.parameters,
        read_only=info.read_only_hint and config.approve == "read-only",
        source=f"mcp:{config.name}",
        approve=config.approve,
    )


def build_toolbox(
    settings: ToolSettings, mcp_manager: McpManager | None = None, *, cwd: Path | None = None
) -> Toolbox:
    """Every tool offered now: the listed built-ins, then each ready server's tools (prefixed
    `SERVER__`), with unique wire names; a server still starting or failed adds none."""
    names = NameMap()
    tools: list[Tool] = []
    for tool in builtin_tools(settings, cwd):
        names.add(tool.spec.name)
        tools.append(tool)
    if mcp_manager is not None:
        configs = {config.name: config for config in mcp_manager.configs}
        for status in mcp_manager.statuses():
            if status.state != "ready":
                continue
            config = configs[status.name]
            for info in status.tools:
                wire = names.add(info.name, server=status.name)
                spec = mcp_spec(config, info, wire)
                tools.append(McpTool(spec, mcp_manager, status.name, info.name))
    return Toolbox(
        settings=settings,
        tools=tools,
        web_search=settings.web_search,
        server_states=mcp_manager.statuses if mcp_manager is not None else _configured(settings),
    )


def _configured(settings: ToolSettings) -> Callable[[], list[ServerStatus]]:
    """The servers' states when none was started: each disabled one says so (an enabled one
    is not running here, and is left to say "no tool named")."""

    def states() -> list[ServerStatus]:
        from glmchat.tools.mcp_servers import ServerStatus

        return [ServerStatus(s.name, "disabled") for s in settings.servers if not s.enabled]

    return states
