"""`glmchat tools list`: every tool offered (built-in, web search, each MCP server's), with the
state of its server; the configured MCP servers are started to list them, then stopped."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len

from glmchat.cli.cells import clip
from glmchat.terminal_text import dumps_json

if TYPE_CHECKING:
    from glmchat.tools.base import ToolSettings

WEB_SEARCH_DESCRIPTION = (
    "Z.ai's server-side web search (on the zai, zai-coding and bigmodel providers)"
)
_DESCRIPTION_CELLS = 60
_NO_TOOLS = (
    "no tools are offered: list built-ins in [tools] builtin, set [tools] web_search = true, or "
    "add [mcp.servers.NAME] tables (see config.example.toml)"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # noqa: SLF001
    parser = sub.add_parser(
        "tools",
        description="The tools the model is offered: built-ins, web search and MCP servers'.",
    )
    actions = parser.add_subparsers(dest="tools_action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "list",
        help="list every tool offered, with its MCP server's state",
        description="Start the configured MCP servers, list every tool offered (MCP tools as "
        "SERVER__tool) with its server's state, and stop the servers again.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long each MCP server may take to start (default: 30)",
    )
    p.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from glmchat.config import load_settings
    from glmchat.tools.toolbox import tool_settings

    settings = tool_settings(load_settings())
    if args.timeout <= 0:
        from glmchat.cli.errors import CliError

        raise CliError("--timeout: expected a number of seconds above 0")
    import asyncio

    entries = asyncio.run(_entries(settings, args.timeout))
    if args.json:
        print(dumps_json(entries, indent=2))
        return 0
    if not entries:
        print(_NO_TOOLS)
        return 0
    _print_table(entries)
    return 0


async def _entries(settings: ToolSettings, timeout: float) -> list[dict[str, Any]]:
    """One entry per tool, in the order they are offered; a configured MCP server that offers
    none (failed, disabled, or ready with no tools) is one entry with `name` null."""
    from glmchat.tools.mcp_servers import McpManager
    from glmchat.tools.toolbox import build_toolbox

    manager = McpManager(settings.servers, start_timeout=timeout)
    try:
        await manager.start_all()
        box = build_toolbox(settings, manager)
        states = {status.name: status for status in manager.statuses()}
        entries: list[dict[str, Any]] = []
        for tool in box.tools:
            spec = tool.spec
            server = spec.source.partition("mcp:")[2] or None
            entries.append(
                {
                    "name": spec.name,
                    "title": spec.title,
                    "source": spec.source,
                    "read_only": spec.read_only,
                    "description": spec.description,
                    "server": server,
                    "state": states[server].state if server else None,
                    "reason": None,
                }
            )
        if settings.web_search:
            entries.insert(
                sum(entry["source"] == "builtin" for entry in entries),
                {
                    "name": "web_search",
                    "title": "web_search",
                    "source": "zai",
                    "read_only": True,
                    "description": WEB_SEARCH_DESCRIPTION,
                    "server": None,
                    "state": None,
                    "reason": None,
                },
            )
        listed = {entry["server"] for entry in entries}
        for status in manager.statuses():
            if status.name not in listed:
                entries.append(
                    {
                        "name": None,
                        "title": None,
                        "source": f"mcp:{status.name}",
                        "read_only": None,
                        "description": None,
                        "server": status.name,
                        "state": status.state,
                        "reason": status.reason,
                    }
                )
        return entries
    finally:
        await manager.aclose()


def _print_table(entries: list[dict[str, Any]]) -> None:
    rows = [("NAME", "SOURCE", "READ-ONLY", "STATE", "DESCRIPTION")]
    notes: list[str] = []
    for entry in entries:
        if entry["name"] is None:
            server, state, reason = entry["server"], entry["state"], entry["reason"]
            if state == "ready":
                notes.append(f'MCP server "{server}" is ready but offers no tools')
            elif state == "disabled":
                notes.append(f'MCP server "{server}" is disabled (enabled = false)')
            else:
                notes.append(f'MCP server "{server}" {state}' + (f": {reason}" if reason else ""))
            continue
        rows.append(
            (
                entry["name"],
                entry["source"],
                "yes" if entry["read_only"] else "no",
                entry["state"] or "-",
                clip(" ".join((entry["description"] or "").split()), _DESCRIPTION_CELLS),
            )
        )
    if len(rows) > 1:
        widths = [max(cell_len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [
                cell + " " * (w - cell_len(cell)) for cell, w in zip(row, widths, strict=False)
            ]
            print("  ".join([*cells, row[-1]]).rstrip())
    for note in notes:
        print(note)
