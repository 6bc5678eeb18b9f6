"""What MCP servers answer, as glmchat values: the tools they list (McpToolInfo, read page by
page) and tools/call results flattened to the text of a `role: tool` message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glmchat.tools.base import ToolOutput

if TYPE_CHECKING:
    from mcp import Client

_PAGES = 100  # tools/list pages read at most (a server whose cursor never ends)


@dataclass(frozen=True, slots=True)
class McpToolInfo:
    """A tool as its server lists it (the glmchat side names and wraps it: toolbox.py)."""

    name: str  # the server's own name, sent back in tools/call
    description: str
    parameters: dict[str, Any]
    read_only_hint: bool = False  # annotations.readOnlyHint: a hint from the server


def flatten_result(result: Any) -> ToolOutput:
    """A tools/call result as the text of a `role: tool` message (TOOLS.md 5.5): text items
    joined, embedded text resources included, links as `uri (name)`, images and audio as a
    placeholder, the structured content as JSON when there is nothing else."""
    parts: list[str] = []
    for item in result.content:
        kind = getattr(item, "type", None)
        if kind == "text":
            parts.append(item.text)
        elif kind == "resource":
            resource = item.resource
            text = getattr(resource, "text", None)
            mime = f", {resource.mime_type}" if resource.mime_type else ""
            parts.append(text if text is not None else f"[binary resource {resource.uri}{mime}]")
        elif kind == "resource_link":
            parts.append(f"{item.uri} ({item.name})")
        elif kind in ("image", "audio"):
            size = len(item.data) * 3 // 4  # base64
            parts.append(f"[{kind}: {item.mime_type}, about {size} bytes, not shown]")
        else:
            parts.append(f"[{kind or 'unknown'} content, not shown]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts) if parts else "(no output)"
    return ToolOutput(text, is_error=bool(result.is_error))


def tool_info(tool: Any) -> McpToolInfo:
    """A tools/list entry; its input schema made an object schema the providers accept."""
    schema = {k: v for k, v in (tool.input_schema or {}).items() if k != "$schema"}
    schema.setdefault("type", "object")
    if schema["type"] == "object":
        schema.setdefault("properties", {})
    annotations = tool.annotations
    title = tool.title or (annotations.title if annotations else None)
    return McpToolInfo(
        name=tool.name,
        description=tool.description or title or tool.name,
        parameters=schema,
        read_only_hint=bool(annotations and annotations.read_only_hint),
    )


async def list_tools(client: Client) -> list[McpToolInfo]:
    """Every tool the server lists, following its cursor for at most _PAGES pages."""
    tools: list[McpToolInfo] = []
    cursor: str | None = None
    for _ in range(_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(tool_info(tool) for tool in page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools
