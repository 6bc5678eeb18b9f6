"""Reading the session store: ids and prefixes, conversations, messages, lists, usage sums."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from glmchat.store import tree
from glmchat.store.connection import StoreConnection
from glmchat.store.database import AmbiguousIdError, NotFoundError
from glmchat.store.models import Conversation, ConversationSummary, StoredMessage, new_id
from glmchat.store.rows import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    SUMMARY_COLUMNS,
    conversation_from_row,
    message_from_row,
    summary_from_row,
)
from glmchat.store.search import search_fts, search_like
from glmchat.store.usage import By, UsageRow, prompts_since, report, spent_since

if TYPE_CHECKING:  # the backend's events load with the engine, not with the store
    from glmchat.backend.events import Message


class SessionReads(StoreConnection):
    """Every read of conversations and messages (search: search.py; usage: usage.py), and the
    id checks writes share."""

    # -- ids ----------------------------------------------------------------------------

    def resolve_id(self, id_or_prefix: str) -> str:
        """The full id for an id or a unique prefix of one; raises NotFound/AmbiguousIdError."""
        with self._read() as conn:
            return self._resolve(conn, id_or_prefix)

    def _resolve(self, conn: sqlite3.Connection, id_or_prefix: str) -> str:
        prefix = id_or_prefix.strip()
        if not prefix:
            raise NotFoundError("no conversation id given")
        if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (prefix,)).fetchone():
            return prefix
        # Ids sort, so all ids with this prefix follow it contiguously: an index range scan.
        rows = conn.execute(
            "SELECT id FROM conversations WHERE id > ? AND substr(id, 1, ?) = ? "
            "ORDER BY id LIMIT 4",
            (prefix, len(prefix), prefix),
        ).fetchall()
        if not rows:
            raise NotFoundError(
                f"no conversation with id {prefix!r} in {self.path} (see `glmchat sessions list`)"
            )
        if len(rows) > 1:
            shown = ", ".join(row[0] for row in rows[:3]) + (", …" if len(rows) > 3 else "")
            raise AmbiguousIdError(
                f"id prefix {prefix!r} matches several conversations ({shown}); "
                f"give more characters"
            )
        return str(rows[0][0])

    @staticmethod
    def _free_id(conn: sqlite3.Connection, wanted: str) -> str:
        """`wanted` if no conversation has it, else a fresh id that none has."""
        conversation_id = wanted
        while conn.execute(
            "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone():
            conversation_id = new_id()
        return conversation_id

    def _require_message(
        self, conn: sqlite3.Connection, conversation_id: str, message_id: int
    ) -> None:
        if not conn.execute(
            "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?",
            (message_id, conversation_id),
        ).fetchone():
            raise NotFoundError(
                f"no message {message_id} in conversation {conversation_id} in {self.path}"
            )

    def _require(self, conn: sqlite3.Connection, conversation_id: str) -> None:
        if not conn.execute(
            "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone():
            raise NotFoundError(f"no conversation with id {conversation_id!r} in {self.path}")

    # -- conversations and messages -----------------------------------------------------

    def _conversation_row(self, conn: sqlite3.Connection, id_or_prefix: str) -> tuple[str, Any]:
        """The conversation's id and row (an id or a unique prefix of one)."""
        conversation_id = self._resolve(conn, id_or_prefix)
        row = conn.execute(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        return conversation_id, row

    def get_conversation(self, id_or_prefix: str) -> Conversation:
        """The conversation with every branch (`tree.path` picks the current one)."""
        with self._read() as conn:
            conversation_id, row = self._conversation_row(conn, id_or_prefix)
            messages = self._messages(conn, conversation_id)
        return conversation_from_row(row, messages)

    def get_branch_end(self, id_or_prefix: str, count: int) -> tuple[Conversation, bool]:
        """The conversation with only the end of its current branch: its last `count`
        messages or so (from a prompt on: whole answers), with their siblings (for
        `‹ 2/3 ›`); and whether those are all its messages. What a resumed conversation's
        first paint needs, in O(count): the whole one is read after it (get_conversation)."""
        with self._read() as conn:
            conversation_id, row = self._conversation_row(conn, id_or_prefix)
            # The branch from its leaf up, `count` messages at most (each step an id lookup).
            chain = conn.execute(
                """
                WITH RECURSIVE up(id, parent_id, role, n) AS (
                    SELECT m.id, m.parent_id, m.role, 1 FROM messages m
                    JOIN conversations c ON m.id = c.current_leaf WHERE c.id = ?
                    UNION ALL
                    SELECT m.id, m.parent_id, m.role, up.n + 1 FROM messages m
                    JOIN up ON m.id = up.parent_id WHERE up.n < ?
                )
                SELECT id, parent_id, role FROM up ORDER BY n DESC
                """,
                (conversation_id, count),
            ).fetchall()
            if chain and chain[0][1] is not None:
                # Cut short: start at a prompt, so the first answer shown is whole.
                first = next((i for i, link in enumerate(chain) if link[2] == "user"), 0)
                chain = chain[first:]
            parents = {link[1] for link in chain}
            ids = [link[0] for link in chain]
            marks = ", ".join("?" for _ in ids)
            parent_marks = ", ".join("?" for _ in parents - {None})
            rows = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND "
                f"(id IN ({marks}) OR parent_id IN ({parent_marks})"
                f"{' OR parent_id IS NULL' if None in parents else ''}) ORDER BY position",
                (conversation_id, *ids, *(parents - {None})),
            ).fetchall()
            total = conn.execute(
                "SELECT count(*) FROM messages WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()[0]
        messages = tuple(message_from_row(m) for m in rows)
        return conversation_from_row(row, messages), len(messages) == total

    @staticmethod
    def _messages(conn: sqlite3.Connection, conversation_id: str) -> tuple[StoredMessage, ...]:
        rows = conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position",
            (conversation_id,),
        ).fetchall()
        return tuple(message_from_row(m) for m in rows)

    def added_since(self, conversation_id: str, after_id: int) -> list[tuple[int, str]]:
        """The ids and roles of the conversation's messages saved after message `after_id`,
        by any process: a cheap look, before a request, for what another one added."""
        with self._read() as conn:
            # `+conversation_id` keeps SQLite off the conversation's index: it walks the ids
            # above `after_id` (the newest rows of the whole database: few), not every message.
            rows = conn.execute(
                "SELECT id, role FROM messages WHERE id > ? AND +conversation_id = ?",
                (after_id, conversation_id),
            ).fetchall()
        return [(int(i), str(role)) for i, role in rows]

    def get_message(self, message_id: int) -> StoredMessage:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no message {message_id} in {self.path}")
        return message_from_row(row)

    def most_recent(self) -> Conversation | None:
        conversation_id = self.most_recent_id()
        return self.get_conversation(conversation_id) if conversation_id else None

    def most_recent_id(self) -> str | None:
        """The id of the conversation updated last (none of its messages are read)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated DESC, seq DESC LIMIT 1"
            ).fetchone()
        return str(row[0]) if row else None

    def history(self, conversation_id: str) -> list[Message]:
        """The turns of the current branch to send back to the model: user and assistant
        text, never reasoning.

        Rows with no text (an error before any answer, a cancelled empty one) are skipped;
        a partial or interrupted answer that has text is kept, as the user saw it."""
        from glmchat.backend.events import Message

        branch = tree.path(self.get_conversation(conversation_id))
        return [
            Message(role=m.role, content=m.content)
            for m in branch
            if m.role in ("user", "assistant") and m.content.strip()
        ]

    def count_conversations(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT count(*) FROM conversations").fetchone()[0])

    def list_conversations(
        self, *, limit: int = 50, search: str | None = None, include_reasoning: bool = False
    ) -> list[ConversationSummary]:
        """Most recent first; with `search`, the best matches first, each with a snippet."""
        limit = max(1, int(limit))
        with self._read() as conn:
            if search is not None and search.strip():
                # Loaded by a search only: `glmchat usage` and the first paint never need it.
                from glmchat.store.search_substring import (
                    inside_runs,
                    needs_substring,
                    search_substring,
                )

                find = search_like  # without FTS5, or its trigram tokenizer (SQLite < 3.34)
                if self.fts_enabled and not needs_substring(search):
                    found = search_fts(conn, search, limit, include_reasoning)
                    if self.substring_enabled and len(found) < limit:
                        found = inside_runs(conn, found, search, limit, include_reasoning)
                    return found
                if self.substring_enabled:
                    find = search_substring
                return find(conn, search, limit, include_reasoning)
            rows = conn.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM conversations c "
                "ORDER BY c.updated DESC, c.seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [summary_from_row(row) for row in rows]

    # -- usage (store/usage.py) ---------------------------------------------------------

    def usage_report(
        self, by: By = "day", since: date | None = None, until: date | None = None
    ) -> list[UsageRow]:
        """Answers' tokens and cost by local day, model or conversation, `since` to `until`
        (local days, both included)."""
        with self._read() as conn:
            return report(conn, by, since, until)

    def spent_since(self, since: datetime) -> float:
        with self._read() as conn:
            return spent_since(conn, since)

    def prompts_since(self, provider: str, since: datetime) -> int:
        with self._read() as conn:
            return prompts_since(conn, provider, since)
