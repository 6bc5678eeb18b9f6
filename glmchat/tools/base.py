"""What a tool is to the engine: a spec the model sees, a call that returns text, and the rules
for asking the user before it runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from glmchat.tools.mcp_servers import ServerStatus

# How calls are approved: "ask" (every call asks), "read-only" (read-only tools run at once,
# others ask), "all" (everything runs at once).
ApprovePolicy = Literal["ask", "read-only", "all"]
APPROVE_POLICIES: tuple[ApprovePolicy, ...] = ("ask", "read-only", "all")

# The user's answer to one approval request: run it once, run this tool for the rest of the
# conversation without asking, or refuse (the model is told).
Decision = Literal["once", "always", "deny"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as offered to the model and shown to the user."""

    name: str  # the wire name: ^[a-zA-Z0-9_-]{1,64}$, unique in one request (see names.py)
    title: str  # what the user sees: "read_file", "weather__get_forecast"
    description: str
    parameters: Mapping[str, Any]  # a JSON Schema object
    read_only: bool = False
    source: str = "builtin"  # "builtin" or "mcp:SERVER"
    approve: ApprovePolicy | None = None  # a per-server override of [tools].approve

    def wire(self) -> dict[str, Any]:
        """The `tools` entry for the request."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description or self.title,
                "parameters": dict(self.parameters) or {"type": "object", "properties": {}},
            },
        }


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """What a call returned, as the text the model gets (`is_error`: the tool failed)."""

    text: str
    is_error: bool = False


class Tool(Protocol):
    spec: ToolSpec

    async def call(self, arguments: dict[str, Any]) -> ToolOutput:
        """Run the tool. Raising is allowed: the engine turns any exception into error text
        for the model. Cancellation (the user pressed escape) must stop the work."""
        ...


# The built-in tools `[tools].builtin` may list (glmchat/tools/builtin.py).
BUILTIN_TOOL_NAMES: tuple[str, ...] = ("read_file", "list_dir", "fetch_url")


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """One `[mcp.servers.NAME]` table: a stdio server (`command`, `args`, `env`) or a
    streamable-HTTP one (`url`, `headers`)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    enabled: bool = True
    approve: ApprovePolicy | None = None  # overrides [tools].approve for this server's tools

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "http" if self.url else "stdio"


@dataclass
class ToolSettings:
    """The `[tools]` table (DESIGN.md "Tools"), as the engine needs it."""

    approve: ApprovePolicy = "ask"
    max_rounds: int = 20
    timeout: float = 60.0
    max_result_kb: int = 64
    web_search: bool = False
    builtin: tuple[str, ...] = ()  # names from BUILTIN_TOOL_NAMES
    allowed_dirs: tuple[str, ...] = (".",)  # as written; resolved when the built-ins are made
    fetch_private: bool = False  # fetch_url may reach loopback and private addresses
    servers: tuple[McpServerConfig, ...] = ()  # every [mcp.servers.NAME], enabled or not


@dataclass
class Toolbox:
    """The tools offered in one conversation, and what the user allowed in it.

    `tools` are the function tools available now (built-ins and the MCP servers that are up);
    `disabled` holds wire names the user switched off for this conversation; `web_search`
    adds Z.ai's server-side search on the Z.ai family of providers; `server_states` gives
    each configured MCP server's state now (for a call to a tool of one that is not up)."""

    settings: ToolSettings = field(default_factory=ToolSettings)
    tools: list[Tool] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)
    web_search: bool = False
    always_allowed: set[str] = field(default_factory=set)  # "always" answers, by wire name
    approve_all: bool = False  # `ask --yes`
    server_states: Callable[[], Sequence[ServerStatus]] | None = None

    def offered(self) -> list[Tool]:
        return [tool for tool in self.tools if tool.spec.name not in self.disabled]

    def find(self, wire_name: str) -> Tool | None:
        for tool in self.offered():
            if tool.spec.name == wire_name:
                return tool
        return None

    def unavailable(self, wire_name: str) -> str | None:
        """Why `wire_name`, not on offer, cannot run: the user switched it off in this
        conversation, or it names a tool of an MCP server that is not up (it failed or died,
        is disabled, or is still starting): that server's line, as the call's result for the
        model. None for any other name: no such tool.

        A server's tools are named `SERVER__tool` (names.py); the server's state, not its
        tools, is what is known of a server that is down (it lists none)."""
        if wire_name in self.disabled and any(t.spec.name == wire_name for t in self.tools):
            return f"the tool {wire_name!r} is switched off in this conversation; do not call it."
        if self.server_states is None:
            return None
        from glmchat.tools.names import SEPARATOR, sanitise  # not loaded by every config read

        owners = [
            status
            for status in self.server_states()
            if wire_name.startswith(sanitise(status.name) + SEPARATOR)
        ]
        if not owners:
            return None
        owner = max(owners, key=lambda status: len(status.name))  # "a__b__x" is a__b's
        return None if owner.state == "ready" else owner.refusal()

    def needs_approval(self, tool: Tool) -> bool:
        if self.approve_all or tool.spec.name in self.always_allowed:
            return False
        policy = tool.spec.approve or self.settings.approve
        if policy == "all":
            return False
        if policy == "read-only":
            return not tool.spec.read_only
        return True
