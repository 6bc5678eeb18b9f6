"""A pane's unsent prompt (its draft): kept with its conversation when the pane goes (closed,
the app quitting or its terminal closed), put back in the box when the conversation opens
again, forgotten once sent. A new conversation is saved with its first prompt: until then there
is nothing to keep a draft with, and the app asks before closing or quitting would drop it
(`at_risk`); a closed terminal, with no one to ask, saves the conversation for it.

A prompt whose answer failed is given back to the box (engine/turns.py `unanswered`). Once the
user had that box, what it held when the pane went is the truth: sent again, edited or cleared,
the prompt does not come back (found by QA: it was joined back in on every open). It is given
back again only when nothing was kept since it failed (an `ask` elsewhere, a crash)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glmchat.engine import NEW_TITLE
from glmchat.engine.turns import unanswered

if TYPE_CHECKING:
    from glmchat.tui.widgets.chat_pane import ChatPane
    from glmchat.tui.widgets.prompt import PromptInput


class PaneDraft:
    def __init__(self, pane: ChatPane) -> None:
        self._pane = pane
        # Held, not queried: when the pane unmounts, its children have gone before it.
        self._box: PromptInput | None = None
        self._kept: str | None = None  # what the store holds for this conversation (None: none)

    def restore(self, box: PromptInput) -> None:
        """On mount: the prompt given back (unless the box was kept since it failed), then the
        conversation's kept draft."""
        self._box = box
        pane = self._pane
        store = pane.glm.store
        left = unanswered(pane.engine.turns)
        kept = None
        if pane.conversation_id is not None and store is not None:
            since = left.message_id if left is not None else None
            kept = pane.glm.guard_store(store.kept_draft, pane.conversation_id, since)
        self._kept = kept.text if kept is not None else None
        if left is not None and (kept is None or left.message_id is None or not kept.current):
            pane.answer_stream.give_back_unanswered()
        if not self._kept:
            return
        there = box.text
        # A draft kept before the prompt failed: the prompt, then the draft (unless it holds it).
        box.text = (
            f"{there}\n{self._kept}" if there.strip() and there not in self._kept else self._kept
        )
        box.move_cursor(box.document.end)

    def keep(self) -> None:
        """The pane is going: what its box holds becomes the conversation's draft. With a
        prompt that would be given back, even an empty box is kept (emptied on purpose)."""
        text = self._box.text if self._box is not None else ""
        text = text if text.strip() else ""
        if unanswered(self._pane.engine.turns) is not None:
            self._write(text)  # kept after the failure, always: see the module's docstring
        elif text:
            if text != self._kept:
                self._write(text)
        elif self._kept is not None:
            self._forget()

    def keep_unasked(self) -> None:
        """The terminal closed (or the app was told to end): no one is there to ask whether to
        lose a prompt of a conversation not saved yet, so nothing is lost: the conversation is
        saved now, titled from the text and with no messages, and the text kept as its draft
        (found by QA: a new pane's text was lost). `--resume` and ctrl+r find it, the box as
        it was; sending it goes on as a first prompt does."""
        pane = self._pane
        store = pane.glm.store
        text = self._box.text if self._box is not None else ""
        if self.at_risk() and store is not None:
            from glmchat.store import title_from_prompt

            engine = pane.engine
            title = engine.title
            if title == NEW_TITLE:
                title = title_from_prompt(text) or "Untitled"
            engine.conversation_id = pane.glm.guard_store(
                store.create_conversation,
                model=engine.model,
                provider=engine.provider_name,
                thinking=engine.thinking,
                system_prompt=engine.system_prompt,
                title=title,
            )
            engine.title = title
        self.keep()

    def sent(self) -> None:
        """A prompt was sent: the kept draft is not one any more."""
        if self._kept is not None:
            self._forget()

    def at_risk(self) -> bool:
        """Text in the box that closing the pane would lose: nothing to keep it with."""
        pane = self._pane
        text = self._box.text if self._box is not None else ""
        return bool(text.strip()) and (pane.conversation_id is None or pane.glm.store is None)

    def _write(self, text: str) -> None:
        pane = self._pane
        store = pane.glm.store
        if pane.conversation_id is None or store is None:
            return
        pane.glm.guard_store(store.save_draft, pane.conversation_id, text)
        self._kept = text

    def _forget(self) -> None:
        pane = self._pane
        store = pane.glm.store
        if pane.conversation_id is None or store is None:
            return
        pane.glm.guard_store(store.forget_draft, pane.conversation_id)
        self._kept = None
