"""A one-line modal prompt (rename a conversation, and the like)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label

from glmchat.terminal_text import neutralize_controls
from glmchat.tui.literal import literal
from glmchat.tui.screens.dialog import Dialog
from glmchat.tui.widgets.safe_entry import SafeInput


class TextPrompt(Dialog[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self.title_text), classes="dialog-title")
            # The value is stored text (a title): shown with its control characters visible.
            yield SafeInput(value=neutralize_controls(self.value), id="value")
            # The footer behind a modal shows the chat's keys: say this dialog's own.
            yield Label("enter to save · escape to cancel", classes="hint")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
