"""The session store: conversations and their messages in glmchat.db, written and read."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from glmchat.backend.events import Message, Usage
from glmchat.store import tree
from glmchat.store.connection import StoreConnection
from glmchat.store.database import AmbiguousIdError, NotFoundError, translate_error
from glmchat.store.models import (
    ROLES,
    STATUSES,
    Conversation,
    ConversationSummary,
    CostSource,
    Role,
    Status,
    StoredMessage,
    new_id,
    now_iso,
    title_from_prompt,
)
from glmchat.store.rows import (
    CONVERSATION_COLUMNS,
    INSERT_CONVERSATION,
    INSERT_MESSAGE,
    MESSAGE_COLUMNS,
    SUMMARY_COLUMNS,
    conversation_changes,
    conversation_from_row,
    conversation_params,
    message_changes,
    message_from_row,
    message_params,
    summary_from_row,
)
from glmchat.store.search import search_fts, search_like
from glmchat.store.usage import By, UsageRow, prompts_since, report, spent_since


class _AtLeaf:
    """The type of AT_LEAF: "under the conversation's current leaf", not a message id."""

    def __repr__(self) -> str:
        return "AT_LEAF"


AT_LEAF = _AtLeaf()


class SessionStore(StoreConnection):
    """Conversations and their messages: every write and read of them (search: search.py)."""

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

    # -- writes -------------------------------------------------------------------------

    def create_conversation(
        self,
        *,
        model: str,
        provider: str,
        thinking: bool,
        system_prompt: str | None = None,
        title: str | None = None,
    ) -> str:
        stamp = now_iso()
        with self._write() as conn:
            conversation = Conversation(
                id=self._free_id(conn, new_id()),
                title=title or None,
                created=stamp,
                updated=stamp,
                model=model,
                provider=provider,
                thinking=thinking,
                system_prompt=system_prompt or None,
            )
            conn.execute(INSERT_CONVERSATION, conversation_params(conversation))
        return conversation.id

    @staticmethod
    def _free_id(conn: sqlite3.Connection, wanted: str) -> str:
        """`wanted` if no conversation has it, else a fresh id that none has."""
        conversation_id = wanted
        while conn.execute(
            "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone():
            conversation_id = new_id()
        return conversation_id

    def _append_message(
        self,
        conn: sqlite3.Connection,
        conversation_id: str,
        parent_id: int | None | _AtLeaf,
        **values: Any,
    ) -> int:
        """Insert a message under `parent_id` (AT_LEAF: under the current leaf) and make it
        the current leaf; returns its id. `position` is the order of insertion."""
        self._require(conn, conversation_id)
        if isinstance(parent_id, _AtLeaf):
            parent_id = conn.execute(
                "SELECT current_leaf FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()[0]
        elif parent_id is not None:
            self._require_message(conn, conversation_id, parent_id)
        position = conn.execute(
            "SELECT coalesce(max(position), -1) + 1 FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()[0]
        message = StoredMessage(
            id=0, conversation_id=conversation_id, position=position, parent_id=parent_id, **values
        )
        cursor = conn.execute(INSERT_MESSAGE, message_params(message))
        message_id = int(cursor.lastrowid or 0)
        conn.execute(
            "UPDATE conversations SET updated = ?, current_leaf = ? WHERE id = ?",
            (message.started, message_id, conversation_id),
        )
        return message_id

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

    def add_message(
        self,
        conversation_id: str,
        role: Role,
        content: str,
        *,
        model: str | None = None,
        provider: str | None = None,
        thinking: bool | None = None,
        status: Status = "complete",
        parent_id: int | None | _AtLeaf = AT_LEAF,
    ) -> int:
        """Store a user or system message under `parent_id` (None: a new root; by default the
        current leaf), titling the conversation from its first prompt."""
        _check(role, ROLES, "role")
        _check(status, STATUSES, "status")
        stamp = now_iso()
        with self._write() as conn:
            message_id = self._append_message(
                conn,
                conversation_id,
                parent_id,
                role=role,
                content=content,
                model=model,
                provider=provider,
                thinking=thinking,
                started=stamp,
                finished=stamp,
                status=status,
            )
            if role == "user":
                title = title_from_prompt(content)
                if title:
                    conn.execute(
                        "UPDATE conversations SET title = ? "
                        "WHERE id = ? AND (title IS NULL OR title = '')",
                        (title, conversation_id),
                    )
        return message_id

    def add_tool_result(
        self,
        conversation_id: str,
        *,
        tool_call_id: str,
        content: str,
        record: dict[str, Any],
        status: Status = "complete",
        parent_id: int | None | _AtLeaf = AT_LEAF,
    ) -> int:
        """Store the result of one tool call (`record`: its name, arguments, state, time)."""
        _check(status, STATUSES, "status")
        stamp = now_iso()
        with self._write() as conn:
            return self._append_message(
                conn,
                conversation_id,
                parent_id,
                role="tool",
                content=content,
                started=stamp,
                finished=stamp,
                status=status,
                tool_calls=[record],
                tool_call_id=tool_call_id,
            )

    def begin_assistant(
        self,
        conversation_id: str,
        *,
        model: str,
        provider: str,
        thinking: bool,
        parent_id: int | None | _AtLeaf = AT_LEAF,
    ) -> int:
        """Create the assistant row as the request starts, so a crash leaves it `partial`."""
        with self._write() as conn:
            return self._append_message(
                conn,
                conversation_id,
                parent_id,
                role="assistant",
                content="",
                model=model,
                provider=provider,
                thinking=thinking,
                started=now_iso(),
                status="partial",
            )

    def checkpoint(self, message_id: int, content: str, reasoning: str) -> None:
        """Save the text streamed so far: one UPDATE, no throttling (see StreamRecorder)."""
        with self._lock:
            try:
                cursor = self._conn.execute(
                    "UPDATE messages SET content = ?, reasoning = ? WHERE id = ?",
                    (content, reasoning, message_id),
                )
            except sqlite3.Error as exc:
                raise translate_error(self.path, exc, "write to") from exc
        if cursor.rowcount == 0:
            # The row is gone (its conversation deleted from another shell): say so now,
            # not at the end of the answer, so the text is known to be on screen only.
            raise self._gone(message_id)

    def _gone(self, message_id: int) -> NotFoundError:
        return NotFoundError(
            f"message {message_id} is no longer in {self.path} (its conversation was deleted)"
        )

    def finish_assistant(
        self,
        message_id: int,
        *,
        content: str,
        reasoning: str,
        status: Status,
        usage: dict[str, Any] | Usage | None = None,
        error: str | None = None,
        finish_reason: str | None = None,
        timings: dict[str, Any] | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        cost: float | None = None,
        cost_source: CostSource | None = None,
    ) -> None:
        _check(status, STATUSES, "status")
        if usage is not None and not isinstance(usage, dict):
            usage = usage.as_dict()  # a backend Usage is welcome too
        stamp = now_iso()
        assignments, values = message_changes(
            {
                "content": content,
                "reasoning": reasoning,
                "status": status,
                "usage": usage,
                "error": error,
                "finish_reason": finish_reason,
                "timings": timings,
                "finished": stamp,
                "tool_calls": tool_calls,
                "cost": cost,
                "cost_source": cost_source if cost is not None else None,
            }
        )
        with self._write() as conn:
            row = conn.execute(
                "SELECT conversation_id FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                raise self._gone(message_id)
            conn.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (*values, message_id))
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (stamp, row[0]))

    def update_conversation(
        self,
        conversation_id: str,
        *,
        title: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        thinking: bool | None = None,
        system_prompt: str | None = None,
    ) -> None:
        """Change the given fields; None leaves a field alone (pass "" to clear system_prompt)."""
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = title.strip() or None
        if model is not None:
            changes["model"] = model
        if provider is not None:
            changes["provider"] = provider
        if thinking is not None:
            changes["thinking"] = thinking
        if system_prompt is not None:
            changes["system_prompt"] = system_prompt or None
        with self._write() as conn:
            self._require(conn, conversation_id)
            if changes:
                assignments, values = conversation_changes(changes)
                conn.execute(
                    f"UPDATE conversations SET {assignments} WHERE id = ?",
                    (*values, conversation_id),
                )

    def rename(self, id_or_prefix: str, title: str) -> None:
        with self._write() as conn:
            conversation_id = self._resolve(conn, id_or_prefix)
            conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ?",
                (title.strip() or None, conversation_id),
            )

    def delete(self, id_or_prefix: str) -> None:
        with self._write() as conn:
            conversation_id = self._resolve(conn, id_or_prefix)
            # Explicitly, rather than by cascade, so the search triggers see every row go.
            conn.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def delete_message(self, message_id: int) -> None:
        """Delete a message and everything under it (see delete_subtree)."""
        self.delete_subtree(message_id)

    # -- the tree (glmchat/store/tree.py reads it) ----------------------------------------

    def set_current_leaf(self, conversation_id: str, message_id: int | None) -> None:
        """Show and send the branch ending at `message_id` (None: an empty branch)."""
        with self._write() as conn:
            self._require(conn, conversation_id)
            if message_id is not None:
                self._require_message(conn, conversation_id, message_id)
            conn.execute(
                "UPDATE conversations SET current_leaf = ? WHERE id = ?",
                (message_id, conversation_id),
            )

    def newest_leaf(self, conversation_id: str, message_id: int) -> int:
        """The most recent leaf at or below `message_id`: the end of the newest branch that
        holds it (where opening a search hit lands). Raises NotFoundError."""
        found = tree.newest_leaf(self.get_conversation(conversation_id), message_id)
        if found is None:
            raise NotFoundError(
                f"no message {message_id} in conversation {conversation_id} in {self.path}"
            )
        return found

    def open_at(self, conversation_id: str, message_id: int) -> int:
        """Switch the conversation to the newest branch that holds `message_id`; returns the
        new current leaf."""
        leaf = self.newest_leaf(conversation_id, message_id)
        self.set_current_leaf(conversation_id, leaf)
        return leaf

    def fork(self, id_or_prefix: str, at_message_id: int | None = None) -> str:
        """A new conversation holding a copy of the branch from the root to `at_message_id`
        (None: the current leaf), with the same settings; returns its id."""
        with self._write() as conn:
            conversation_id = self._resolve(conn, id_or_prefix)
            row = conn.execute(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            source = conversation_from_row(row, self._messages(conn, conversation_id))
            leaf = source.current_leaf if at_message_id is None else at_message_id
            if leaf is not None:
                self._require_message(conn, conversation_id, leaf)
            branch = tree.path_to(source.messages, leaf)
            stamp = now_iso()
            new = replace(
                source,
                id=self._free_id(conn, new_id()),
                created=stamp,
                updated=stamp,
                current_leaf=None,
                messages=(),
            )
            conn.execute(INSERT_CONVERSATION, conversation_params(new))
            parent: int | None = None
            for position, message in enumerate(branch):
                copy = replace(message, conversation_id=new.id, position=position, parent_id=parent)
                parent = int(conn.execute(INSERT_MESSAGE, message_params(copy)).lastrowid or 0)
            conn.execute("UPDATE conversations SET current_leaf = ? WHERE id = ?", (parent, new.id))
            # The usage ledger counts what was spent; the copies cost nothing new, so the new
            # conversation's ledger rows (all from the copies, in this transaction) go.
            conn.execute("DELETE FROM usage_hours WHERE conversation_id = ?", (new.id,))
        return new.id

    def delete_subtree(self, message_id: int) -> int:
        """Delete a message and every message under it; a current leaf among them moves up to
        the deleted message's parent. Returns how many messages went."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT conversation_id, parent_id FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                return 0
            conversation_id, parent_id = row
            ids = [
                r[0]
                for r in conn.execute(
                    """
                    WITH RECURSIVE below(id) AS (
                        SELECT ?
                        UNION SELECT m.id FROM messages m JOIN below b ON m.parent_id = b.id
                    )
                    SELECT id FROM below
                    """,
                    (message_id,),
                )
            ]
            leaf = conn.execute(
                "SELECT current_leaf FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()[0]
            if leaf in ids:
                conn.execute(
                    "UPDATE conversations SET current_leaf = ? WHERE id = ?",
                    (parent_id, conversation_id),
                )
            # Row by row rather than by cascade, so the search triggers see every row go.
            conn.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in ids])
        return len(ids)

    def insert_conversations(self, conversations: Sequence[Conversation]) -> list[tuple[str, str]]:
        """Insert whole conversations (an import) in one transaction: all or nothing.

        Messages keep their tree: their `id` and `parent_id` are the document's, renumbered
        here (parents must come first, as parse_documents orders them); messages without
        distinct ids (built in code) are one branch in their order, ending at the last. An
        id already taken is never overwritten: that conversation gets a new id. Returns (id
        in the document, id stored) pairs."""
        results: list[tuple[str, str]] = []
        with self._write("import into") as conn:
            for conv in conversations:
                conv = _as_tree(conv)
                stored_id = self._free_id(conn, conv.id)
                stored = replace(conv, id=stored_id, current_leaf=None, messages=())
                conn.execute(INSERT_CONVERSATION, conversation_params(stored))
                new_ids: dict[int, int] = {}
                for position, m in enumerate(conv.messages):
                    parent = new_ids.get(m.parent_id) if m.parent_id is not None else None
                    copy = replace(
                        m, conversation_id=stored_id, position=position, parent_id=parent
                    )
                    new_ids[m.id] = int(
                        conn.execute(INSERT_MESSAGE, message_params(copy)).lastrowid or 0
                    )
                leaf = new_ids.get(conv.current_leaf) if conv.current_leaf is not None else None
                conn.execute(
                    "UPDATE conversations SET current_leaf = ? WHERE id = ?", (leaf, stored_id)
                )
                results.append((conv.id, stored_id))
        return results

    # -- reads --------------------------------------------------------------------------

    def get_conversation(self, id_or_prefix: str) -> Conversation:
        """The conversation with every branch (`tree.path` picks the current one)."""
        with self._read() as conn:
            conversation_id = self._resolve(conn, id_or_prefix)
            row = conn.execute(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            messages = self._messages(conn, conversation_id)
        return conversation_from_row(row, messages)

    @staticmethod
    def _messages(conn: sqlite3.Connection, conversation_id: str) -> tuple[StoredMessage, ...]:
        rows = conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position",
            (conversation_id,),
        ).fetchall()
        return tuple(message_from_row(m) for m in rows)

    def get_message(self, message_id: int) -> StoredMessage:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no message {message_id} in {self.path}")
        return message_from_row(row)

    def most_recent(self) -> Conversation | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated DESC, seq DESC LIMIT 1"
            ).fetchone()
        return self.get_conversation(row[0]) if row else None

    def history(self, conversation_id: str) -> list[Message]:
        """The turns of the current branch to send back to the model: user and assistant
        text, never reasoning.

        Rows with no text (an error before any answer, a cancelled empty one) are skipped;
        a partial or interrupted answer that has text is kept, as the user saw it."""
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
                find = search_fts if self.fts_enabled else search_like
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


def _as_tree(conv: Conversation) -> Conversation:
    """`conv` itself if its messages have distinct ids, else its messages as one branch."""
    if len({m.id for m in conv.messages}) == len(conv.messages):
        return conv
    chain = tuple(replace(m, id=i + 1, parent_id=i or None) for i, m in enumerate(conv.messages))
    return replace(conv, messages=chain, current_leaf=len(chain) or None)


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
