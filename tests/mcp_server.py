"""A real MCP server for the tests, on the official SDK: stdio by default, streamable HTTP with
`--http` (then `http_app()` gives the ASGI app to serve in-process).

Run as `python tests/mcp_server.py [--fail-start] [--many N]`: `--fail-start` writes a line on
stderr and exits before speaking MCP; `--many N` adds N tools with long dotted names."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import (
    AudioContent,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
    ToolAnnotations,
)


def build(many: int = 0) -> MCPServer:
    server = MCPServer("glmchat-test-server")

    @server.tool(description="Echo the text back", annotations=ToolAnnotations(read_only_hint=True))
    def echo(text: str) -> str:
        return text

    @server.tool(description="Add two numbers")
    def add(a: float, b: float) -> str:
        return f"{a + b:g}"

    @server.tool(description="Wait, then answer", annotations=ToolAnnotations(read_only_hint=True))
    async def slow(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return f"waited {seconds:g} s"

    @server.tool(description="Always fails (a tool error meant for the model)")
    def fails(reason: str) -> CallToolResult:
        return CallToolResult(
            content=[TextContent(type="text", text=f"it broke: {reason}")], is_error=True
        )

    @server.tool(description="Raises inside the tool (the SDK turns it into an error result)")
    def raises() -> str:
        raise ValueError("raised on purpose")

    @server.tool(description="Ends the server process, as a crash would")
    def crash() -> str:
        print("crashing on purpose", file=sys.stderr, flush=True)
        os._exit(3)

    @server.tool(description="Every kind of content at once")
    def mixed() -> CallToolResult:
        return CallToolResult(
            content=[
                TextContent(type="text", text="first"),
                ImageContent(type="image", data="iVBORw0KGgo=", mime_type="image/png"),
                AudioContent(type="audio", data="UklGRg==", mime_type="audio/wav"),
                ResourceLink(type="resource_link", uri="file:///notes.md", name="notes"),
                EmbeddedResource(
                    type="resource",
                    resource=TextResourceContents(uri="file:///a.txt", text="embedded text"),
                ),
            ]
        )

    @server.tool(description="Only structured content, no text")
    def structured_only() -> CallToolResult:
        return CallToolResult(content=[], structured_content={"temperature": 21.5, "unit": "C"})

    @server.tool(name="dotted.name-v2", description="A name the providers would refuse")
    def dotted() -> str:
        return "dotted ok"

    @server.tool(description="The server's process id")
    def pid() -> str:
        return str(os.getpid())

    @server.tool(description="Reports the environment variable it was given")
    def env(name: str) -> str:
        return os.environ.get(name, "(unset)")

    for i in range(many):

        def numbered(i: int = i) -> str:
            return f"tool {i}"

        server.add_tool(
            numbered,
            name=f"very.long.tool.name.that.goes.on.and.on.number.{i:04d}",
            description="x",
        )
    return server


def http_app(**kwargs: Any) -> Any:
    return build().streamable_http_app(**kwargs)


def main(argv: list[str]) -> None:
    if "--fail-start" in argv:
        print("fatal: no configuration found", file=sys.stderr, flush=True)
        sys.exit(1)
    many = int(argv[argv.index("--many") + 1]) if "--many" in argv else 0
    build(many).run()


if __name__ == "__main__":
    main(sys.argv[1:])
