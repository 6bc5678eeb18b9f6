"""The question before closing a pane, or quitting, would lose a prompt never sent: one in a
conversation not saved yet, which has nothing to keep it with (tui/widgets/pane_draft.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label

from glmchat.tui.literal import literal
from glmchat.tui.screens.dialog import Dialog

if TYPE_CHECKING:
    from glmchat.tui.app import GlmChatApp
    from glmchat.tui.widgets.chat_pane import ChatPane


class DropDraft(Dialog[bool]):
    """Dismissed with True (close or quit, losing the prompt) or False (keep it)."""

    # The key bar says what the buttons say (found by QA: it showed only `esc Keep it`).
    BINDINGS = [
        Binding("escape,n", "choose(False)", "Keep it"),
        Binding("y", "choose(True, 'close')", "Close"),
        Binding("y", "choose(True, 'quit')", "Quit"),
    ]

    def __init__(self, *, quitting: bool, panes: int = 1) -> None:
        super().__init__()
        self.quitting = quitting
        self.panes = panes

    def compose(self) -> ComposeResult:
        # The pane that holds the prompt is the one shown behind the dialog (found by QA: it
        # said "this pane" over another pane, the prompt in a tab in the background).
        if self.panes == 1:
            what = "The prompt in this pane was never sent, and its conversation is not"
        else:
            others = self.panes - 1
            what = (
                f"The prompts in this pane and {others} other{'s' if others > 1 else ''} were "
                "never sent, and their conversations are not"
            )
        lose = "quitting loses" if self.quitting else "closing the pane loses"
        it = "it" if self.panes == 1 else "them"
        act = "Quit (y)" if self.quitting else "Close (y)"
        with Vertical(classes="dialog"):
            yield Label("Unsent prompt", classes="dialog-title")
            yield Label(literal(f"{what} saved yet: {lose} {it}."))
            yield Label(
                "A prompt in a saved conversation is kept, and comes back when you open it.",
                classes="hint",
            )
            with Horizontal(classes="buttons"):
                yield Button("Keep it (esc)", id="keep", variant="primary")
                yield Button(act, id="lose")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id == "lose")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # y's two bindings: the one that names what y does here.
        if action == "choose" and len(parameters) == 2:
            return parameters[1] == ("quit" if self.quitting else "close")
        return True

    def action_choose(self, lose: bool, _: str = "") -> None:
        self.dismiss(lose)


async def unless_a_draft_is_lost(
    app: GlmChatApp,
    panes: Sequence[ChatPane],
    then: Callable[[], Awaitable[None]],
    *,
    quitting: bool = False,
) -> None:
    """Run `then` (close these panes, quit) now, or after asking if it would lose a prompt,
    over a pane that holds one (the shown one if it does). Keeping it shows that pane.
    Quitting while asked to quit: quit."""
    at_risk = [pane for pane in panes if pane.draft.at_risk()]
    screen = app.screen
    if not at_risk or (quitting and isinstance(screen, DropDraft) and screen.quitting):
        await then()
        return
    if app.active_pane not in at_risk and at_risk[0].is_attached:
        app.show_pane(at_risk[0])  # the question is about the pane behind it

    async def chosen(lose: bool | None) -> None:
        if lose:
            await then()
        elif at_risk[0].is_attached:
            app.show_pane(at_risk[0])

    app.push_screen(DropDraft(quitting=quitting, panes=len(at_risk)), chosen)
