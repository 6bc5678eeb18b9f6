"""Text boxes that never pass a control character to the terminal.

Textual's TextArea and Input draw their text as it is: an ESC in it reaches the terminal as an
escape sequence (a window title set, the screen cleared, colours changed), a bidi override
reorders the line. Text gets into them from many places: a stored prompt put back for editing
(edit, undo, edit last), a fork's carried-over turns (model output), a title to rename, a paste.
So the boxes themselves clean every text that enters, by the rule every other text on the screen
follows (glmchat.terminal_text): any control becomes its visible `\\x1b` spelling, except that in a
box a CR is a line end, as LF and CRLF are (terminals paste line breaks as CR). What the box
shows is then exactly what it holds, and what is sent."""

from __future__ import annotations

from textual import events
from textual.widgets import Input, TextArea
from textual.widgets.text_area import Edit, EditResult

from glmchat.terminal_text import neutralize_controls
from glmchat.tui.key_order import run_here

__all__ = ["SafeInput", "SafeTextArea", "box_text"]


def box_text(text: str) -> str:
    """`text` as a box holds it: every line end LF, every other control spelt out."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return neutralize_controls(text)


def _line_text(text: str) -> str:
    # A one-line box: a line end in what is put in it (not a paste: see on_paste) is a space.
    return box_text(text).replace("\n", " ")


class SafeTextArea(TextArea):
    """A TextArea whose every edit (typing, paste, insert, replace) and loaded text is cleaned."""

    def __init__(self, text: str = "", **kwargs: object) -> None:
        super().__init__(box_text(text), **kwargs)  # type: ignore[arg-type]

    def edit(self, edit: Edit) -> EditResult:
        edit.text = box_text(edit.text)
        return super().edit(edit)

    def load_text(self, text: str) -> None:
        super().load_text(box_text(text))


class SafeInput(Input):
    """An Input whose inserted, replaced and assigned text is cleaned, and whose own keys
    keep their place among the letters typed with them."""

    _focused_before = False  # see on_focus

    async def on_key(self, event: events.Key) -> None:
        # Input's own keys (backspace, delete, the cursor keys) are bindings, run once the key
        # has bubbled up to the app: keys of one read typed the letters behind a backspace
        # before it (found by QA: "hot", a backspace and "t" searched "ht"). Run here, in the
        # box's own queue, in order. A key that types text goes on to Input's handler.
        if event.is_printable:
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.node is self and active.enabled:
            await run_here(self, event, active)  # skipped (down: nothing to scroll): goes on

    def on_focus(self) -> None:
        # Runs before Input's own (each class's handler in turn, this one first). Input selects
        # all the box holds each time it takes the focus, and the next key replaced it: half a
        # key typed, a look at the buttons and back, and the rest typed over it (found by QA).
        # Only the first focus selects (a title to rename is typed over or edited).
        if self._focused_before:
            self.select_on_focus = False
        self._focused_before = True

    def insert(self, text: str, index: int) -> None:
        super().insert(_line_text(text), index)

    def replace(self, text: str, start: int, end: int) -> None:
        super().replace(_line_text(text), start, end)

    def on_paste(self, event: events.Paste) -> None:
        # Textual runs this, then Input's own (each class's handler in turn), which keeps the
        # first line: cleaned first, only a line end ends it (a key pasted with its line end
        # is the key), and no other control drops what follows it.
        event.text = box_text(event.text).strip("\n")

    def validate_value(self, value: str) -> str:
        # Every other way in (`value=`, the constructor): the cursor is placed after this.
        return _line_text(value)
