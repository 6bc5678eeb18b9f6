"""The choice when a prompt would not fit the model's context window: leave out the oldest
turns, fork into a new conversation, or keep editing. When the prompt alone is over the window
neither helps (found by QA: a fork carried it over again, in a loop): the dialog says so and
offers only to edit it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label

from glmchat.tui.literal import literal
from glmchat.tui.screens.dialog import Dialog


class ContextFull(Dialog[str | None]):
    """Dismissed with "leave", "fork", or None (the prompt stays in the box). `can_fork`:
    False when the prompt alone is over the window (then nothing can be left out either)."""

    # The key bar says what the buttons say, and only the ones shown (found by QA: it said
    # `esc Cancel` under a lone "Edit the prompt (esc)", and never showed l or f).
    BINDINGS = [
        Binding("l", "choose('leave')", "Leave out oldest"),
        Binding("f", "choose('fork')", "Fork"),
        Binding("escape", "choose('')", "Cancel"),
        Binding("escape", "choose('', 'edit')", "Edit the prompt"),
    ]

    def __init__(self, message: str, *, can_leave_out: bool, can_fork: bool = True) -> None:
        super().__init__()
        self.message = message
        self.can_leave_out = can_leave_out and can_fork
        self.can_fork = can_fork

    def compose(self) -> ComposeResult:
        if not self.can_fork:
            yield from self._too_long()
            return
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

    def _too_long(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("The prompt is too long for the model", classes="dialog-title")
            yield Label(literal(self.message))
            yield Label(
                "Shorten it (it stays in the box), or pick a model with a larger window "
                "(palette: Switch model).",
                classes="hint",
            )
            with Horizontal(classes="buttons"):
                yield Button("Edit the prompt (esc)", id="cancel", variant="primary")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.action_choose("" if event.button.id == "cancel" else event.button.id or "")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "choose":
            return True
        if parameters[0] == "":  # escape: "Edit the prompt" when that is the only choice
            return (parameters[1:] == ("edit",)) is not self.can_fork
        return self.can_leave_out if parameters[0] == "leave" else self.can_fork

    def action_choose(self, choice: str, _: str = "") -> None:
        if (choice == "leave" and not self.can_leave_out) or (
            choice == "fork" and not self.can_fork
        ):
            return
        self.dismiss(choice or None)
