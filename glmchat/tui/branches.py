"""A pane's conversation tree: edit an earlier prompt, regenerate an answer, switch between
versions, undo the last exchange, fork. The engine moves the current leaf (engine.turns is
always the path from the root to it); this redraws the log from that path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.widget import Widget

from glmchat.engine import Exchange, Turn
from glmchat.engine.budget import DoesNotFit
from glmchat.tui.answer_rounds import exchanges
from glmchat.tui.context_budget import cannot_regenerate
from glmchat.tui.widgets.message_select import SelectableMessage

if TYPE_CHECKING:
    from textual.notifications import Notification

    from glmchat.tui.widgets.chat_pane import ChatPane


def group_of(turns: Sequence[Turn], index: int) -> int:
    """The log's message (a prompt, or a whole answer) that shows turns[index]."""
    group = -1
    for i, turn in enumerate(turns[: index + 1]):
        if turn.role == "user" or i == 0 or turns[i - 1].role == "user":
            group += 1
    return max(group, 0)


class PaneBranches:
    """What the selection's keys and the palette do to one pane's conversation tree."""

    def __init__(self, pane: ChatPane) -> None:
        self.pane = pane
        self.selected: SelectableMessage | None = None  # the last message selected
        self.editing: Turn | None = None  # a prompt whose edit is in the prompt box
        self._edit_notice: Notification | None = None  # the toast that says so
        # The box as the last edit left it, and what it held before (a draft, kept under it).
        self._edit_box: tuple[str, str] = ("", "")
        self.read = False  # whether the log was shown the whole conversation (read_whole)

    # --- which turn ----------------------------------------------------------------------

    def index_of(self, turn: Turn | None) -> int | None:
        """Where `turn` is on the current path (None: not on it any more)."""
        if turn is None:
            return None
        turns = self.pane.engine.turns
        for index, each in enumerate(turns):
            if each is turn or (turn.message_id is not None and each.message_id == turn.message_id):
                return index
        return None

    def target(self, role: str) -> int | None:
        """The selected message's turn if it is a `role` one, else the last such message's."""
        selected = self.selected
        if selected is not None and selected.is_attached and selected.turn is not None:
            index = self.index_of(selected.turn)
            if index is not None and (selected.turn.role == "user") == (role == "user"):
                return index
        turns = self.pane.engine.turns
        for index in range(len(turns) - 1, -1, -1):
            if turns[index].role == role and (index == 0 or turns[index - 1].role == "user"):
                return index  # an answer's first turn: the one its siblings hang beside
            if role == "user" and turns[index].role == "user":
                return index
        return None

    # --- the keys on a selected message --------------------------------------------------

    def act(self, message: SelectableMessage, what: str, step: int) -> None:
        if not self._whole():  # indices below are into the whole branch
            return
        index = self.index_of(message.turn)
        if index is None:
            self.pane.app.notify("This message is not on the branch shown any more.")
            return
        if what == "edit":
            self.edit(index)
        elif what == "regenerate":
            self.regenerate(index)
        else:
            self.switch(index, step)

    def edit(self, index: int) -> None:
        """Put a prompt's text in the box: sending it makes a new branch from that point."""
        pane = self.pane
        if pane._busy():
            return
        turn = pane.engine.turns[index]
        box, typed = self._edit_box
        if self.editing is not None and pane.prompt.text == box:
            # The last edit's text, untouched: replaced, not doubled; what was typed before
            # it (kept under it) stays.
            pane.prompt.text = typed
        typed = pane.prompt.text
        self.editing = turn
        pane._give_back(turn.content)
        self._edit_box = (pane.prompt.text, typed)
        send, stop = pane._key("send"), pane._key("stop")
        pane.glm.withdraw(self._edit_notice)
        # Said for as long as it is true: sent or given up, the edit's toast goes.
        self._edit_notice = pane.glm.notice(
            f"Editing an earlier prompt: {send} sends it as a new branch from there (the old "
            f"one is kept); {stop} sends it as a new prompt instead.",
            timeout=8,
        )

    def cancel_edit(self) -> bool:
        editing, self.editing = self.editing, None
        self._end_edit_notice()
        return editing is not None

    def _end_edit_notice(self) -> None:
        notice, self._edit_notice = self._edit_notice, None
        self.pane.glm.withdraw(notice)

    def send(self, text: str) -> tuple[Exchange, bool]:
        """The exchange for a prompt sent from the box, and whether the log must show the path
        again before the answer: an edit (a new branch from an earlier prompt), or a log that
        shows a window away from the end (a branch opened at an earlier message). DoesNotFit
        and HistoryUnavailable pass through with the edit still pending."""
        self.read_whole()  # indices below are into the whole branch (the engine checks)
        editing, self.editing = self.editing, None
        index = self.index_of(editing)
        if index is None:
            self._end_edit_notice()
            return self.pane.engine.send(text), not self.pane.log_view.at_end
        try:
            exchange = self.pane.engine.edit(index, text)
        except DoesNotFit:
            self.editing = editing
            raise
        self._end_edit_notice()
        return exchange, True

    def regenerate(
        self, index: int | None = None, *, model: str | None = None, thinking: bool | None = None
    ) -> None:
        """A new answer beside the one at `index` (default: the selected or last answer)."""
        if not self._whole():  # indices below are into the whole branch
            return
        pane = self.pane
        if pane._busy():
            return
        if index is None:
            index = self.target("assistant")
        if index is None:
            pane.app.notify("No answer to regenerate.")
            return
        try:
            exchange = pane.engine.regenerate(index, model=model, thinking=thinking)
        except DoesNotFit as exc:
            cannot_regenerate(pane, exc)
            return
        self.answer_on_new_branch(exchange)

    def answer_on_new_branch(self, exchange: Exchange) -> None:
        """The path up to the new answer is drawn again, then the answer streams below it.
        A selection in the log (`r` on an answer, the palette over it) moves to the new
        answer: the version just asked for is what `[`, `]` and `r` act on next."""
        pane = self.pane
        selected = pane.log_view.selection()
        self._draw(pane.engine.turns[:-1], keep=None)
        pane._begin_answer(exchange)
        new = pane.streaming if selected is not None else None
        if new is not None and isinstance(selected, SelectableMessage):
            new.clicked = selected.clicked  # selected as the old one was (message_select.py)
        pane.call_after_refresh(pane.log_view.settle_focus, new, pane.prompt)

    def switch(self, index: int, step: int) -> None:
        """The previous / next version of the message at `index`, and the branch below it."""
        pane = self.pane
        if pane._busy():
            return
        if not pane.engine.switch_sibling(index, step):
            pane.app.notify("No other version of this message.", timeout=3)
            return
        self.redraw(pane.engine.turns, keep=group_of(pane.engine.turns, index))

    def open_message(self, message_id: int) -> None:
        """Show a branch that holds a saved message (a search hit: the one shown if it
        holds it, else the newest that does), with that message in view."""
        if not self._whole():  # indices below are into the whole branch
            return
        pane = self.pane
        if pane.streaming is not None and self._shows(message_id):
            return  # on the branch shown: nothing to switch, the answer goes on
        if pane._busy():
            return
        index = pane.engine.open_message(message_id)
        if index is not None:
            # Shown, not selected: the prompt keeps the keys, to go on with the conversation.
            turns = pane.engine.turns
            self.redraw(turns, keep=group_of(turns, index), select=False)

    def _shows(self, message_id: int) -> bool:
        """The branch shown holds the message."""
        return any(turn.message_id == message_id for turn in self.pane.engine.turns)

    def read_whole(self) -> bool:
        """After the first paint of a conversation opened from the end of its branch: read
        the rest of it; the log's window stays on the same messages, now with every earlier
        one above them, and the status bar counts the whole branch. False when the store
        could not read it (the store's error was shown): the caller changes nothing."""
        pane = self.pane
        # Once, even when the engine read it already (an export reads it too).
        if pane.engine.read_whole() or not self.read:
            self.read = True
            pane.log_view.rebase(exchanges(pane.engine.turns))
            pane.update_status()
        return pane.engine.is_whole

    def _whole(self) -> bool:
        if self.read_whole():
            return True
        self.pane.app.notify(
            "Only the end of this conversation could be read, so nothing was changed: try again.",
            severity="error",
            markup=False,
        )
        return False

    # --- the palette ---------------------------------------------------------------------

    def undo(self) -> None:
        """Move back to before the last prompt (it stays as a branch); the prompt goes back
        in the box."""
        if not self._whole():  # indices below are into the whole branch
            return
        pane = self.pane
        if pane._busy():
            return
        text = pane.engine.undo_last_exchange()
        if text is None:
            pane.app.notify("Nothing to undo.")
            return
        self.redraw(pane.engine.turns)
        pane._give_back(text)

    async def fork(self) -> None:
        """A new conversation from the path up to the selected (or last) message, in a new
        pane next to this one."""
        if not self._whole():  # indices below are into the whole branch
            return
        pane = self.pane
        turns = pane.engine.turns
        index = len(turns) - 1
        selected = self.selected
        if selected is not None and selected.is_attached:
            found = self.index_of(selected.turn)
            if found is not None:
                index = found
                if turns[index].role != "user":  # an answer goes whole, tool rounds and all
                    while index + 1 < len(turns) and turns[index + 1].role != "user":
                        index += 1
        if index < 0:
            pane.app.notify("Nothing to fork yet.")
            return
        new_id = pane.engine.fork(index)
        if new_id is None:
            pane.app.notify("Could not fork: this conversation is not saved.", severity="error")
            return
        await pane.glm.open_pane(new_id, after=pane)
        pane.app.notify("Forked into a new conversation.", timeout=3)

    # --- drawing -------------------------------------------------------------------------

    def redraw(
        self, turns: Sequence[Turn], *, keep: int | None = None, select: bool = True
    ) -> None:
        """The log shows `turns` again (the history window is kept bounded); the message at
        group `keep`, if given, is mounted, shown, and selected unless `select` is False."""
        pane = self.pane
        shown = self._draw(turns, keep=keep)
        # After the new messages are painted: moving the selection is a second, smaller
        # update (the footer's keys, the highlight). With nothing to select, the box takes
        # the keys: the focus never falls to whichever message Textual would pick.
        pane.call_after_refresh(pane.log_view.settle_focus, shown if select else None, pane.prompt)

    def _draw(self, turns: Sequence[Turn], *, keep: int | None) -> Widget | None:
        self.selected = None
        shown = self.pane.log_view.reset(exchanges(turns), keep=keep)
        self.pane.update_status()
        return shown
