"""The session store (SessionStore): conversations and their messages in glmchat.db, written."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from glmchat.store.database import NotFoundError, translate_error
from glmchat.store.drafts import Drafts
from glmchat.store.models import (
    ROLES,
    STATUSES,
    Conversation,
    CostSource,
    Role,
    Status,
    StoredMessage,
    new_id,
    now_iso,
    title_from_prompt,
)
from glmchat.store.rows import (
    INSERT_CONVERSATION,
    INSERT_MESSAGE,
    conversation_changes,
    conversation_params,
    message_changes,
    message_params,
)
from glmchat.store.tree_edits import TreeEdits

if TYPE_CHECKING:  # the backend's events load with the engine, not with the store
    from glmchat.backend.events import Usage


class _AtLeaf:
    """The type of AT_LEAF: "under the conversation's current leaf", not a message id."""

    def __repr__(self) -> str:
        return "AT_LEAF"


AT_LEAF = _AtLeaf()


class SessionStore(TreeEdits, Drafts):
    """Conversations and their messages: every write and read of them. Writing messages and
    settings is here; reads are in reads.py, branch and import edits in tree_edits.py, unsent
    prompts in drafts.py."""

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
        parent: int | None
        if isinstance(parent_id, _AtLeaf):
            parent = conn.execute(
                "SELECT current_leaf FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()[0]
        else:
            parent = parent_id
            if parent is not None:
                self._require_message(conn, conversation_id, parent)
        position = conn.execute(
            "SELECT coalesce(max(position), -1) + 1 FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()[0]
        message = StoredMessage(
            id=0, conversation_id=conversation_id, position=position, parent_id=parent, **values
        )
        cursor = conn.execute(INSERT_MESSAGE, message_params(message))
        message_id = int(cursor.lastrowid or 0)
        conn.execute(
            "UPDATE conversations SET updated = ?, current_leaf = ? WHERE id = ?",
            (message.started, message_id, conversation_id),
        )
        return message_id

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
        web_search: list[dict[str, str]] | None = None,
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
                "web_search": web_search,
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


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
