"""The user's prompt in the log: plain text, with its version (`‹ 2/3 ›`) when there are others."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from glmchat.terminal_text import neutralize_controls
from glmchat.tui.widgets.message_select import SelectableMessage, sibling_label


class UserMessage(Static, SelectableMessage, can_focus=True):
    """The user's prompt, shown literally: markup in a prompt is text, never style. Under a
    prompt with other versions, a first line says which one this is (`‹ 2/3 ›`)."""

    # Static is declared with inherit_bindings=False: the selection's keys are listed again.
    BINDINGS = SelectableMessage.BINDINGS

    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $accent;
        background: $boost;
    }
    UserMessage:focus {
        background: $accent 25%;  /* selected (tui/widgets/message_select.py) */
    }
    """

    def __init__(self, text: str, siblings: tuple[int, int] = (1, 1), **kwargs: object) -> None:
        shown = Text(neutralize_controls(text))
        if label := sibling_label(*siblings):
            shown = Text.assemble((label, "dim"), "\n", shown)
        super().__init__(shown, **kwargs)  # type: ignore[arg-type]
        self.text = text
        self.versions = siblings  # as drawn (a redraw mounts it again when they change)
