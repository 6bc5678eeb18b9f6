"""The selection over a pane's messages: which message has it, its keys, and its highlight.

A message is selected by giving it the focus (alt+up / alt+down from the prompt or another
message, or a click): the focus is what Textual routes keys by, so `e`, `r`, `[` and `]` reach
the selected message and never the prompt, where they are typed. The actions are the pane's
(tui/branches.py); a message asks for one at once, in order with the keys after it
(tui/key_order.py).

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
from glmchat.tui.key_order import hand_on, hand_on_paste, moves_focus, park, run_here, unpark
from glmchat.tui.widgets.prompt import type_into_prompt


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
        # A version key only where it leads to another version: not on a message that has
        # none, nor past the first or the last (found by QA: offered, it only said so).
        position, count = self.turn.siblings if self.turn is not None else (1, 1)
        step = parameters[1]
        return isinstance(step, int) and 1 <= position + step <= count

    @property
    def is_prompt(self) -> bool:
        return self.turn is not None and self.turn.role == "user"

    def on_focus(self) -> None:
        self.post_message(self.Selected(self))
        # The keys parked behind a key that replaced a message are the replacement's, not a
        # neighbour's that Textual gives the focus while the old one is hidden (found with
        # keys read together: `] [` typed the `[`).
        if self.screen.focused is self and not getattr(self.parent, "settling", False):
            unpark(self)

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

    async def on_key(self, event: events.Key) -> None:
        # Here, before the bindings (they are looked up once the key has bubbled up to the
        # app): a key that types text and is not one of the keys active here goes to the box.
        # Not from a part that has keys of its own (a tool's approval question takes its own).
        # The keys of one read are all routed to where the focus was before the first is
        # handled (tui/key_order.py): this message's own keys act here, at once, and a key
        # queued behind one that moved the focus (to another message, or to the box) follows
        # the focus, in order (found by QA: `alt+up ]` in one read typed the `]`; a burst
        # after a click kept only its first letter).
        tools = self._waiting_tools()
        if tools is not None and event.is_printable and event.character:
            # A tool call waits: its keys decide, as at its question (a lone y, a or n
            # answers; the first letter of a word is typed, in order with the rest).
            event.stop()
            event.prevent_default()
            tools.key_at_question(event.character)
            return
        focused = self.screen.focused
        if focused is self:
            if self._replaced():
                park(self, event)  # for the new version, once it has the focus
                return
            active = self.screen.active_bindings.get(event.key)
            if active is not None and active.enabled:
                # Its own, and tab / shift+tab: at once, so the keys queued behind follow the
                # focus (found by QA: after a second shift+tab, a burst's backspace came last).
                if active.node is self or moves_focus(active.binding):
                    await run_here(self, event, active)
                return  # a key of the pane's or the app's: on to their bindings
        elif hand_on(self, event):
            # The focus left (to the box, after a letter typed here): this key follows it
            # through the box's own queue, behind the keys before it, a letter as a backspace
            # (typed here at once, a letter went ahead of a backspace queued there).
            return
        elif not (event.is_printable and event.character):
            return  # a part of this message has the focus: on to its bindings
        # Here, or a part of this message that has no use for text (a panel's header, reached
        # with tab: its key is enter; found by QA, what was typed there was lost): to the box.
        if not event.is_printable:
            return
        event.stop()
        event.prevent_default()
        type_into_prompt(self, event.character or "")

    def on_paste(self, event: events.Paste) -> None:
        if hand_on_paste(self, event):
            return  # behind keys handed on to the box: it follows them, in order
        event.stop()
        type_into_prompt(self, event.text)

    def _pane_part(self, name: str) -> Any:
        """One of the pane's parts (its `pane_tools`, its `branches`); None outside a pane."""
        log = self.parent
        return getattr(log.parent if log is not None else None, name, None)

    def _replaced(self) -> bool:
        """Whether the branch shown no longer holds this message (a key showed another
        version of it, or of one above it): it goes once the new one is painted."""
        branches = self._pane_part("branches")
        if branches is None or self.turn is None:
            return False
        return branches.index_of(self.turn) is None

    def _waiting_tools(self) -> Any:
        """The pane's tool state when one of its calls waits for the user, else None."""
        tools = self._pane_part("pane_tools")
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
        """`what` ("edit", "regenerate", "sibling"; `step` ±1 for "sibling") on this message,
        done by the pane's branches. At once, not in a message to the pane: the keys after
        this one in the same read are handled next, and must find the box filled (an edit)
        or this message replaced (a new version: tui/key_order.py parks them meanwhile)."""
        branches = self._pane_part("branches")
        if branches is not None:
            branches.act(self, what, step)
