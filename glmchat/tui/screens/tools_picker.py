"""The palette's "Tools…": every tool and MCP server with its state; enter toggles a tool, a
whole server or web search for the pane."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from glmchat.tools.base import Toolbox
from glmchat.tui.literal import literal
from glmchat.tui.screens.dialog import Dialog

if TYPE_CHECKING:
    from glmchat.tools.mcp_servers import ServerStatus

WEB_SEARCH = "web_search"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the list; `key` says what enter toggles ("" for nothing)."""

    key: str  # "tool:WIRE", "server:NAME", "web_search" or ""
    text: Content


def _mark(on: bool) -> Content:
    return literal("[x] " if on else "[ ] ", "bold $text-success" if on else "$text-muted")


def tool_rows(
    toolbox: Toolbox, servers: Sequence[ServerStatus], web_search: bool | None
) -> list[Row]:
    """The list: built-ins, web search (`web_search` None: the provider has none), then each
    server with its state and, under a ready one, its tools."""
    rows: list[Row] = []
    by_source: dict[str, list[tuple[str, Content]]] = {}
    for tool in toolbox.tools:
        spec = tool.spec
        on = spec.name not in toolbox.disabled
        what = "reads only" if spec.read_only else "may change things"
        text = _mark(on) + literal(spec.title, "bold") + literal(f"  {what}", "$text-muted")
        by_source.setdefault(spec.source, []).append((spec.name, text))
    for name, text in by_source.pop("builtin", []):
        rows.append(Row(f"tool:{name}", text))
    if web_search is not None:
        text = _mark(web_search) + literal("web search", "bold")
        rows.append(Row(WEB_SEARCH, text + literal("  Z.ai, on its servers", "$text-muted")))
    for status in servers:
        tools = by_source.pop(f"mcp:{status.name}", [])
        state: str = status.state  # becomes the line shown: the state and what follows it
        if state == "ready":
            state = f"ready, {len(tools)} tool{'s' if len(tools) != 1 else ''}"
        elif status.reason:
            state = f"{state}: {status.reason}"
        style = "$text-error" if status.state == "failed" else "$text-muted"
        head = literal("MCP ", "bold") + literal(status.name, "bold") + literal(f"  {state}", style)
        rows.append(Row(f"server:{status.name}" if tools else "", head))
        rows.extend(Row(f"tool:{name}", literal("    ") + text) for name, text in tools)
    for tools in by_source.values():  # tools from a source nobody listed: shown, toggleable
        rows.extend(Row(f"tool:{name}", text) for name, text in tools)
    if not rows:
        rows.append(
            Row(
                "",
                literal(
                    "No tools are configured: list built-ins in [tools] builtin, or add "
                    "[mcp.servers.NAME] to config.toml (README: Tools)."
                ),
            )
        )
    return rows


def toggle(toolbox: Toolbox, key: str) -> None:
    """Switch a tool, or every tool of a server (off if any is on), for this toolbox."""
    if key.startswith("tool:"):
        name = key.removeprefix("tool:")
        toolbox.disabled.symmetric_difference_update({name})
    elif key.startswith("server:"):
        source = f"mcp:{key.removeprefix('server:')}"
        names = {tool.spec.name for tool in toolbox.tools if tool.spec.source == source}
        if names - toolbox.disabled:
            toolbox.disabled |= names
        else:
            toolbox.disabled -= names


class ToolsPicker(Dialog[None]):
    """Tools for one pane; every toggle takes effect at once (the next request offers the
    tools left on)."""

    AUTO_FOCUS = "#tools"
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(
        self,
        toolbox: Toolbox,
        servers: Callable[[], Sequence[ServerStatus]],
        *,
        web_search_available: bool,
        changed: Callable[[], None],
    ) -> None:
        super().__init__()
        self.toolbox = toolbox
        self._servers = servers
        self._web_search_available = web_search_available
        self._changed = changed

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label(literal("Tools for this conversation"), classes="dialog-title")
            yield OptionList(*self._options(), id="tools")
            yield Label(literal("enter: switch on or off · escape: close"), classes="hint")

    def rows(self) -> list[Row]:
        web = self.toolbox.web_search if self._web_search_available else None
        return tool_rows(self.toolbox, self._servers(), web)

    def _options(self) -> list[Option]:
        return [
            Option(row.text, id=f"{index}|{row.key}", disabled=not row.key)
            for index, row in enumerate(self.rows())
        ]

    @on(OptionList.OptionSelected)
    def switch(self, event: OptionList.OptionSelected) -> None:
        key = (event.option.id or "").split("|", 1)[-1]
        if key == WEB_SEARCH:
            self.toolbox.web_search = not self.toolbox.web_search
        elif key:
            toggle(self.toolbox, key)
        options = event.option_list
        highlighted = options.highlighted
        options.set_options(self._options())
        options.highlighted = highlighted
        self._changed()

    def action_close(self) -> None:
        self.dismiss(None)
