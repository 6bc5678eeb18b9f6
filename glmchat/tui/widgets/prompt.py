"""The prompt box: Enter sends, Ctrl+J or Shift+Enter adds a newline, it grows to ~8 lines."""

from __future__ import annotations

from dataclasses import dataclass
from time import monotonic

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from glmchat.tui.key_order import hand_on, hand_on_paste, moves_focus, run_here, unpark
from glmchat.tui.widgets.safe_entry import SafeTextArea

# Seconds after a key typed in the box during which any key is taken as more typing. Longer
# than the gap between two keys of one word, shorter than reading a question and answering it.
TYPING_PAUSE = 1.0


class PromptInput(SafeTextArea):
    BINDINGS = [
        Binding("enter", "submit", "Send", id="send"),
        Binding("ctrl+j,shift+enter", "newline", "Newline", show=False, id="newline"),
        # A chat's PageUp/PageDown read the conversation, as in every chat app; in a prompt of
        # a few lines, TextArea's own (the cursor a page up) would do next to nothing.
        Binding("pageup", "scroll_log(-1)", "Scroll up", show=False, id="scroll_up"),
        Binding("pagedown", "scroll_log(1)", "Scroll down", show=False, id="scroll_down"),
    ]

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 10;
        border: round $primary 50%;
        padding: 0 1;
    }
    PromptInput:focus {
        border: round $primary;
    }
    """

    @dataclass
    class Submitted(Message):
        prompt: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt

    def __init__(self, *, scrolls: Widget | None = None, **kwargs: object) -> None:
        self.scrolls = scrolls
        self._typed_at = float("-inf")  # when a key last typed text here (monotonic)
        """What PageUp and PageDown scroll: the pane's conversation."""
        self._left_by_key = False  # a key here gave the focus away (tui/key_order.py)
        super().__init__(
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            highlight_cursor_line=False,
            **kwargs,  # type: ignore[arg-type]
        )

    async def on_key(self, event: events.Key) -> None:
        # Send and newline are handled here, in this widget's own queue, so they keep their
        # place among the keys typed just before them: a burst like "hello\r" arrives in one
        # read, and a binding that runs at the app (priority) or after the key bubbles up
        # would act before or after the text it follows. This handler runs before TextArea's
        # own (which would insert Enter as a newline); `prevent_default` keeps the key from it.
        # The screen's active bindings are the ones with the `[keys]` remapping applied; a
        # lookup costs about 0.2 ms, so a key that types text (which `[keys]` never binds:
        # see glmchat.keybindings.types_text) goes straight to TextArea.
        if self._left_by_key and hand_on(self, event):
            return  # queued behind a key that moved the focus away: it follows the focus
        if event.is_printable:
            self._typed_at = monotonic()
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.enabled and moves_focus(active.binding):
            # To the messages (or, with tab, the next widget), at once: the keys and pastes
            # after it in the same read follow the focus, in order.
            self._left_by_key = True
            await run_here(self, event, active)
            return
        if active is None or active.node is not self or not active.enabled:
            return
        # Every key of the box's own (send, newline, and TextArea's: backspace, delete, the
        # cursor keys, ...) acts here, in order: run after the key had bubbled up to the app,
        # a backspace came after the letters typed behind it (found by QA: "abcd", four
        # backspaces and "xy" in one read left "ax").
        action = active.binding.action
        if action == "submit":
            self._submit()
        elif action == "newline":
            self.insert("\n")
        else:
            await run_here(self, event, active)
            return
        event.stop()
        event.prevent_default()

    def on_focus(self) -> None:
        self._left_by_key = False
        unpark(self)

    def on_paste(self, event: events.Paste) -> None:
        if self._left_by_key and hand_on_paste(self, event):
            return  # queued behind a key that moved the focus away: it follows the focus
        self._typed_at = monotonic()

    def take_typing(self, text: str) -> None:
        """Text the user typed while the focus was elsewhere (a message, a tool call's
        question): it goes in here, which takes the focus for the keys that follow."""
        self.screen.set_focus(self)
        self.insert(text)
        self._typed_at = monotonic()

    def typing(self) -> bool:
        """Whether the user typed (or pasted) here within the last TYPING_PAUSE seconds: a
        key that comes now is more of their text, whatever else took the focus meanwhile."""
        return monotonic() - self._typed_at < TYPING_PAUSE

    def action_scroll_log(self, pages: int) -> None:
        """Scroll the conversation by a page, up when `pages` is negative. Scrolling up
        leaves the bottom, so a streaming answer stops pulling the view down; back at the
        bottom, the view follows it again (Textual's anchor)."""
        log = self.scrolls
        if log is None:
            return
        if pages < 0:
            log.scroll_page_up(animate=False)
        else:
            log.scroll_page_down(animate=False)

    def action_submit(self) -> None:
        self._submit()

    # ctrl+u and ctrl+k act on the line as typed, as in a shell, not on the screen row a long
    # line wraps onto (found by QA: ctrl+u in a 300-character line deleted its last row only).
    def action_delete_to_start_of_line(self) -> None:
        row, column = self.selection.end
        if column and self.selection.is_empty:
            self.delete((row, 0), (row, column))
        else:
            super().action_delete_to_start_of_line()

    def action_delete_to_end_of_line(self) -> None:
        row, column = self.selection.end
        end = len(self.document[row])
        if column < end and self.selection.is_empty:
            self.delete((row, column), (row, end))
        else:
            super().action_delete_to_end_of_line()

    def action_newline(self) -> None:
        self.insert("\n")

    def _submit(self) -> None:
        # The box empties here, in the same step as the key, not when the message is handled:
        # keys typed after Enter in the same burst ("a\rb\r", a paste) belong to the next
        # prompt, and clearing later would erase them. A refused send gives the text back.
        text = self.text
        if text.strip():
            self.clear()
            # Sent is sent: undo in the empty box brought the prompt back, ready to go again
            # (found by QA). A refused send gives the text back itself.
            self.history.clear()
            self.post_message(self.Submitted(self, text))


def type_into_prompt(widget: Widget, text: str) -> None:
    """`text`, typed while `widget` (inside a pane) had the focus, into that pane's prompt."""
    for node in widget.ancestors:
        boxes = node.query_children(PromptInput)
        if boxes:
            boxes.first().take_typing(text)
            return
