"""The choice when a prompt would not fit the model's context window: leave out the oldest
turns, fork into a new conversation, or keep editing."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label

from glmchat.tui.literal import literal
from glmchat.tui.screens.dialog import Dialog


class ContextFull(Dialog[str | None]):
    """Dismissed with "leave", "fork", or None (the prompt stays in the box)."""

    BINDINGS = [
        Binding("escape", "choose('')", "Cancel"),
        Binding("l", "choose('leave')", "Leave out oldest", show=False),
        Binding("f", "choose('fork')", "Fork", show=False),
    ]

    def __init__(self, message: str, *, can_leave_out: bool) -> None:
        super().__init__()
        self.message = message
        self.can_leave_out = can_leave_out

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("The conversation does not fit the model", classes="dialog-title")
            yield Label(literal(self.message))
            yield Label(
                "Leaving out keeps every turn here (dimmed) and stops sending the oldest. "
                "A fork starts a new conversation from the last few turns' text.",
                classes="hint",
            )
            with Horizontal(classes="buttons"):
                if self.can_leave_out:
                    yield Button("Leave out oldest (l)", id="leave", variant="primary")
                yield Button("Fork (f)", id="fork")
                yield Button("Cancel (esc)", id="cancel")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.action_choose("" if event.button.id == "cancel" else event.button.id or "")

    def action_choose(self, choice: str) -> None:
        if choice == "leave" and not self.can_leave_out:
            return
        self.dismiss(choice or None)
