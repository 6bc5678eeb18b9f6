"""Drafts: the prompt a conversation's pane held unsent when it closed, until it is sent."""

from __future__ import annotations

from glmchat.store.connection import StoreConnection
from glmchat.store.models import now_iso


class Drafts(StoreConnection):
    """One draft per conversation (migration 7); it goes with its conversation."""

    def draft(self, conversation_id: str) -> str:
        """The conversation's kept draft, "" when none."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT text FROM drafts WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
        return str(row[0]) if row else ""

    def save_draft(self, conversation_id: str, text: str) -> None:
        """Keep `text` (as the prompt box holds it) as the conversation's draft; blank text
        forgets it. A conversation deleted meanwhile (`sessions rm` elsewhere) keeps none."""
        with self._write() as conn:
            if not text.strip():
                conn.execute("DELETE FROM drafts WHERE conversation_id = ?", (conversation_id,))
                return
            conn.execute(
                "INSERT INTO drafts (conversation_id, text, saved) "
                "SELECT id, ?, ? FROM conversations WHERE id = ? "
                "ON CONFLICT (conversation_id) DO UPDATE "
                "SET text = excluded.text, saved = excluded.saved",
                (text, now_iso(), conversation_id),
            )
