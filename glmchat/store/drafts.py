"""Drafts: what a conversation's prompt box held unsent when its pane closed, until it is sent."""

from __future__ import annotations

from typing import NamedTuple

from glmchat.store.connection import StoreConnection
from glmchat.store.models import now_iso


class KeptDraft(NamedTuple):
    text: str  # "" when the box was emptied on purpose
    # Kept after the message asked about and every later one of the conversation were written:
    # the box as the user left it, after a failed prompt was given back to it.
    current: bool


class Drafts(StoreConnection):
    """One draft per conversation (migration 7); it goes with its conversation."""

    def draft(self, conversation_id: str) -> str:
        """The conversation's kept draft, "" when none."""
        kept = self.kept_draft(conversation_id)
        return kept.text if kept else ""

    def kept_draft(self, conversation_id: str, since: int | None = None) -> KeptDraft | None:
        """The conversation's kept box, None when none; `current` when it was kept at or after
        the time the message `since` and every later message were written."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT text, saved >= coalesce((SELECT max(coalesce(finished, started)) "
                "FROM messages WHERE conversation_id = ?1 AND id >= ?2), '') "
                "FROM drafts WHERE conversation_id = ?1",
                (conversation_id, since if since is not None else -1),
            ).fetchone()
        return KeptDraft(str(row[0]), bool(row[1])) if row else None

    def save_draft(self, conversation_id: str, text: str) -> None:
        """Keep `text` (as the prompt box holds it) as the conversation's draft; blank text is
        kept as "" (the box emptied on purpose: a prompt given back to it before stays gone).
        A conversation deleted meanwhile (`sessions rm` elsewhere) keeps none."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO drafts (conversation_id, text, saved) "
                "SELECT id, ?, ? FROM conversations WHERE id = ? "
                "ON CONFLICT (conversation_id) DO UPDATE "
                "SET text = excluded.text, saved = excluded.saved",
                (text if text.strip() else "", now_iso(), conversation_id),
            )

    def forget_draft(self, conversation_id: str) -> None:
        """No draft any more (it was sent)."""
        with self._write() as conn:
            conn.execute("DELETE FROM drafts WHERE conversation_id = ?", (conversation_id,))
