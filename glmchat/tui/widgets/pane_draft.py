"""A pane's unsent prompt (its draft): kept with its conversation when the pane goes (closed,
the app quitting), put back in the box when the conversation opens again, forgotten once sent.
A new conversation is saved with its first prompt: until then there is nothing to keep a draft
with, and the app asks before closing or quitting would drop it (`at_risk`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glmchat.tui.widgets.chat_pane import ChatPane
    from glmchat.tui.widgets.prompt import PromptInput


class PaneDraft:
    def __init__(self, pane: ChatPane) -> None:
        self._pane = pane
        # Held, not queried: when the pane unmounts, its children have gone before it.
        self._box: PromptInput | None = None
        self._kept = ""  # what the store holds for this conversation

    def restore(self, box: PromptInput) -> None:
        """On mount: the conversation's kept draft into the box (after what is there)."""
        self._box = box
        pane = self._pane
        store = pane.glm.store
        if pane.conversation_id is None or store is None:
            return
        self._kept = pane.glm.guard_store(store.draft, pane.conversation_id) or ""
        if not self._kept:
            return
        there = box.text
        # The box may hold the last prompt given back (its answer failed); the draft, kept
        # from this box, usually holds it already.
        if there.strip() and there not in self._kept:
            box.text = f"{there}\n{self._kept}"
        else:
            box.text = self._kept
        box.move_cursor(box.document.end)

    def keep(self) -> None:
        """The pane is going: what its box holds becomes the conversation's draft."""
        self._save(self._box.text if self._box is not None else "")

    def sent(self) -> None:
        """A prompt was sent: the kept draft is not one any more."""
        self._save("")

    def at_risk(self) -> bool:
        """Text in the box that closing the pane would lose: nothing to keep it with."""
        pane = self._pane
        text = self._box.text if self._box is not None else ""
        return bool(text.strip()) and (pane.conversation_id is None or pane.glm.store is None)

    def _save(self, text: str) -> None:
        if not text.strip():
            text = ""
        pane = self._pane
        store = pane.glm.store
        if text == self._kept or pane.conversation_id is None or store is None:
            return
        pane.glm.guard_store(store.save_draft, pane.conversation_id, text)
        self._kept = text
