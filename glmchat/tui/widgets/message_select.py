"""The selection over a pane's messages: which message has it, its keys, and its highlight.

A message is selected by giving it the focus (alt+up / alt+down from the prompt or another
message, or a click): the focus is what Textual routes keys by, so `e`, `r`, `[` and `]` reach
the selected message and never the prompt, where they are typed. The actions are the pane's
(tui/branches.py); a message only says which one was asked for.

Only a selection made with the keyboard takes those keys. A click anywhere on a message (its
text, a thinking or tool panel's header, a result) selects it for the palette's commands, but
someone who clicks and then types is writing: after a click, and for any key that is not one of
the selection's, what is typed (or pasted) goes to the prompt box, which takes the focus back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import events
from textual.binding import Binding
from textual.message import Message as TMessage
from textual.widget import Widget

from glmchat.config import BINDING_IDS
from glmchat.engine import Turn
from glmchat.tui.widgets.prompt import PromptInput, type_into_prompt


def sibling_label(position: int, count: int) -> str:
    """`‹ 2/3 ›`: this message is the second of three versions; empty without others."""
    return f"‹ {position}/{count} ›" if count > 1 else ""


def _binding(binding_id: str, action: str, description: str) -> Binding:
    return Binding(BINDING_IDS[binding_id], action, description, id=binding_id)


class SelectableMessage(Widget):
    """A prompt or a whole answer that can be selected; `turn` is its first turn (for an
    answer, the assistant turn that answers the prompt).

    Listed after the widget's own base (`UserMessage(Static, SelectableMessage)`): Textual
    takes DEFAULT_CSS along the first base only, bindings along the whole MRO. The highlight
    (`:focus`) is in each message's DEFAULT_CSS for that reason, and each one says
    `can_focus=True` (Textual sets it per class)."""

    BINDINGS = [
        _binding("select_prev", "select(-1)", "Previous message"),
        _binding("select_next", "select(1)", "Next message"),
        _binding("edit_message", "act('edit', 0)", "Edit"),
        _binding("regenerate", "act('regenerate', 0)", "Regenerate"),
        _binding("prev_sibling", "act('sibling', -1)", "‹ Version"),
        _binding("next_sibling", "act('sibling', 1)", "Version ›"),
    ]

    turn: Turn | None = None
    # Selected by a click, not with the keyboard: the letter keys are typed, not actions.
    clicked = False

    @dataclass
    class Act(TMessage):
        """`what` ("edit", "regenerate", "sibling") asked for on `message`; `step` ±1 for
        "sibling"."""

        message: SelectableMessage
        what: str
        step: int

    @dataclass
    class Selected(TMessage):
        message: SelectableMessage

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only what applies to this kind of message is offered (and shown in the footer).
        if action != "act":
            return True
        if self.clicked or self._waiting_tools() is not None:
            return False  # not offered either: the footer shows what the keys do now
        if self.screen.focused is not self:
            return False  # a part of it has the focus (a tool call's question): not a selection
        what = parameters[0]
        if what == "edit":
            return self.is_prompt
        if what == "regenerate":
            return not self.is_prompt
        return True

    @property
    def is_prompt(self) -> bool:
        return self.turn is not None and self.turn.role == "user"

    def on_focus(self) -> None:
        self.post_message(self.Selected(self))

    def focus_on_click(self) -> bool:
        self._select_by_click()
        return False  # focused here, once marked (the footer reads `clicked`)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        # From anywhere in the message: a panel's header or a result takes the focus on a
        # click of its own (Textual focuses the nearest focusable widget), and keys would
        # then bubble up to this message's bindings. The click still folds or unfolds it.
        self._select_by_click()

    def _select_by_click(self) -> None:
        self.clicked = True
        if self.screen.focused is not self:
            self.screen.set_focus(self, scroll_visible=False)
        self.refresh_bindings()

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # After a click, a key that types text is the user's text: Textual then skips the
        # bindings of the pane and the app for it (a waiting tool call's y, a and n), as it
        # does for a text box; this message's own are off (check_action).
        return self.clicked and character is not None and character.isprintable()

    def on_key(self, event: events.Key) -> None:
        # Here, before the bindings (they are looked up once the key has bubbled up to the
        # app): a key that types text and is not one of the keys active here goes to the box.
        # Not from a part that has keys of its own (a tool's approval question takes its own).
        # The keys of one read are all routed here before the first is handled, and the first
        # gives the box the focus: the rest follow it there, in order (found by QA: a burst
        # after a click kept only its first letter).
        if not event.is_printable:
            return
        tools = self._waiting_tools()
        if tools is not None and event.character:
            # A tool call waits: its keys decide, as at its question (a lone y, a or n
            # answers; the first letter of a word is typed, in order with the rest).
            event.stop()
            event.prevent_default()
            tools.key_at_question(event.character)
            return
        focused = self.screen.focused
        if focused is self:
            active = self.screen.active_bindings.get(event.key)
            if active is not None and active.enabled:
                return
        elif not isinstance(focused, PromptInput):
            return
        event.stop()
        event.prevent_default()
        type_into_prompt(self, event.character or "")

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        type_into_prompt(self, event.text)

    def _waiting_tools(self) -> Any:
        """The pane's tool state when one of its calls waits for the user, else None."""
        log = self.parent
        tools = getattr(log.parent if log is not None else None, "pane_tools", None)
        return tools if tools is not None and tools.waiting else None

    def action_select(self, step: int) -> None:
        """Move the selection to the previous / next message of the log (stays at the ends)."""
        parent = self.parent
        if parent is None:
            return
        messages = [w for w in parent.children if isinstance(w, SelectableMessage)]
        index = messages.index(self) + step
        if 0 <= index < len(messages):
            # At once, not after the queued messages (focus()): under key repeat each press
            # moves one step from where the last one landed.
            messages[index].clicked = False  # with the keyboard: the letter keys act
            self.screen.set_focus(messages[index])
            messages[index].scroll_visible(animate=False)

    def action_act(self, what: str, step: int) -> None:
        self.post_message(self.Act(self, what, step))
