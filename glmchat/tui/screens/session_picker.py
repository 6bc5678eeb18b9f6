"""Ctrl+R: pick a saved conversation, with full-text search over everything said."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from glmchat.terminal_text import neutralize_controls


class SessionPicker(ModalScreen[str | None]):
    """Dismisses with the chosen conversation id, or None."""

    CSS_PATH = "modals.tcss"
    AUTO_FOCUS = "#search"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "focus_list", "List", show=False),
    ]

    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label("Resume a conversation", classes="dialog-title")
            yield Input(placeholder="search titles, prompts and answers", id="search")
            yield OptionList(id="sessions")

    def on_mount(self) -> None:
        self.refresh_list("")

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        self.refresh_list(event.value)

    def refresh_list(self, query: str) -> None:
        from glmchat.store import StoreError

        options = self.query_one("#sessions", OptionList)
        options.clear_options()
        try:
            rows = self.store.list_conversations(limit=100, search=query.strip() or None)
        except StoreError as exc:
            options.add_option(Option(Text(str(exc), style="red"), disabled=True))
            return
        if not rows:
            options.add_option(Option("No conversations found.", disabled=True))
            return
        for row in rows:
            label = Text(no_wrap=True, overflow="ellipsis")
            label.append(f"{row.updated[:16].replace('T', ' ')}  ", style="dim")
            label.append(neutralize_controls(row.title or "Untitled"), style="bold")
            label.append(f"  {row.provider}/{row.model} · {row.message_count} msgs", style="dim")
            snippet = getattr(row, "snippet", None)
            if snippet:
                label.append(
                    "\n   " + neutralize_controls(" ".join(snippet.split())), style="italic"
                )
            options.add_option(Option(label, id=row.id))
        options.highlighted = 0

    @on(Input.Submitted, "#search")
    def pick_first(self) -> None:
        options = self.query_one("#sessions", OptionList)
        if options.option_count and options.highlighted is not None:
            option = options.get_option_at_index(options.highlighted)
            if option.id:
                self.dismiss(option.id)

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)

    def action_focus_list(self) -> None:
        self.query_one("#sessions", OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
