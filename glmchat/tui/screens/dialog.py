"""What every modal dialog of the app shares: its style sheet (modals.tcss), and classes for a
terminal under 30 rows or 80 columns, where a dialog drops its blank lines and its buttons their
borders, and its text scrolls between its title and its buttons, which stay on screen (found by
QA: at 60x14 the unsent-prompt and the context dialogs showed no buttons)."""

from __future__ import annotations

from textual import events
from textual.screen import ModalScreen, ScreenResultType
from textual.widgets import Input

from glmchat.tui.compat.keys import route_key

# A text box's keys that edit what it holds: with the focus elsewhere in the dialog, they are
# the box's too (found by QA: ctrl+u on a button did nothing), unless what has the focus or the
# dialog binds them.
_EDITING_KEYS = frozenset({"backspace", "delete", "ctrl+u", "ctrl+w", "ctrl+k"})


class Dialog(ModalScreen[ScreenResultType]):
    CSS_PATH = "modals.tcss"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]

    def on_mount(self) -> None:
        # The dialog's own keys at the bottom (esc Cancel...): the key bar below it was the
        # chat's, listing keys that here type into the box or do nothing (found by QA: the
        # rename dialog offered "r Regenerate"). A dialog's own on_mount runs as well
        # (Textual calls each class's handler in turn).
        from glmchat.tui.widgets.key_footer import KeyFooter

        self.mount(KeyFooter())

    # In a dialog with a text box, text typed or pasted wherever the focus is (a button, the
    # dialog's scrolling text, the picker's list) is the box's: it reached nothing and was lost
    # (found as a new user: a search typed on the picker's list), and so are its editing keys. A
    # key that types text bubbles up here from what has the focus; the box keeps its own.
    # Enter on a button and the arrows in a list are not text: they still act there.
    def on_key(self, event: events.Key) -> None:
        typed = (event.is_printable and event.character) or (
            event.key in _EDITING_KEYS and event.key not in self.active_bindings
        )
        if typed and (box := self._text_box()) is not None:
            event.stop()
            event.prevent_default()
            route_key(box, events.Key(event.key, event.character))

    def on_paste(self, event: events.Paste) -> None:
        if (box := self._text_box()) is not None:
            event.stop()
            route_key(box, events.Paste(event.text))

    def _text_box(self) -> Input | None:
        """The dialog's text box, with the focus (the text is added to what it holds: it does
        not select all of it as it takes the focus), or None for a dialog without one."""
        boxes = self.query(Input)
        if not boxes:
            return None
        box = boxes.first()
        if not box.has_focus:
            box.select_on_focus = False
            self.set_focus(box)  # now: the box's keys are looked up along the focus
        return box
