"""Editing the conversation tree: switching branches, forks, deleting subtrees, importing."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from glmchat.store import tree
from glmchat.store.database import NotFoundError
from glmchat.store.models import Conversation, new_id, now_iso
from glmchat.store.reads import SessionReads
from glmchat.store.rows import (
    CONVERSATION_COLUMNS,
    INSERT_CONVERSATION,
    INSERT_MESSAGE,
    conversation_from_row,
    conversation_params,
    message_params,
)


class TreeEdits(SessionReads):
    """Writes that move between or reshape branches (glmchat/store/tree.py reads them)."""

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
                title=self._fork_title(conn, source.title),
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

    @staticmethod
    def _fork_title(conn: sqlite3.Connection, title: str | None) -> str | None:
        if not title:
            return title
        forked = _FORKED.fullmatch(title)
        base = title if forked is None else forked[1]
        pattern = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        taken = conn.execute(
            "SELECT title FROM conversations WHERE title LIKE ? ESCAPE '\\'",
            (pattern + " (fork%",),
        )
        return fork_title(title, (row[0] for row in taken))

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
            # The ids the usage ledger counts (deleted conversations' too), read once: the
            # ledger has no index by conversation, and an import may hold thousands.
            counted_ids = {
                i for (i,) in conn.execute("SELECT DISTINCT conversation_id FROM usage_hours")
            }
            for conv in conversations:
                conv = _as_tree(conv)
                stored_id = self._free_id(conn, conv.id)
                stored = replace(conv, id=stored_id, current_leaf=None, messages=())
                counted = _ledger_rows(conn, stored_id) if stored_id in counted_ids else ([], [])
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
                if leaf is None and conv.messages:
                    # No leaf named (a conversation built in code, a short document): the
                    # newest message that nothing answers, so the conversation opens on it.
                    parents = {m.parent_id for m in conv.messages}
                    last = next(m for m in reversed(conv.messages) if m.id not in parents)
                    leaf = new_ids[last.id]
                conn.execute(
                    "UPDATE conversations SET current_leaf = ? WHERE id = ?", (leaf, stored_id)
                )
                if stored_id != conv.id or counted[1]:
                    # A copy of a conversation this database holds (an export imported back,
                    # as a fork is a copy), or of one it held and deleted (its spend stays in
                    # the ledger; found by QA: counted twice): its answers were paid for once,
                    # and the usage ledger, which `usage` and the budget read, counts them.
                    conn.execute("DELETE FROM usage_hours WHERE conversation_id = ?", (stored_id,))
                    _put_back(conn, *counted)
                results.append((conv.id, stored_id))
        return results


def _ledger_rows(conn: sqlite3.Connection, conversation_id: str) -> tuple[list[str], list[Any]]:
    """The usage ledger's rows of a conversation id (a deleted conversation's stay), with
    their columns' names."""
    cursor = conn.execute("SELECT * FROM usage_hours WHERE conversation_id = ?", (conversation_id,))
    return [d[0] for d in cursor.description], cursor.fetchall()


def _put_back(conn: sqlite3.Connection, columns: list[str], rows: list[Any]) -> None:
    if rows:
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        conn.executemany(f"INSERT INTO usage_hours ({names}) VALUES ({marks})", rows)


def _as_tree(conv: Conversation) -> Conversation:
    """`conv` itself if its messages have distinct ids, else its messages as one branch."""
    if len({m.id for m in conv.messages}) == len(conv.messages):
        return conv
    chain = tuple(replace(m, id=i + 1, parent_id=i or None) for i, m in enumerate(conv.messages))
    return replace(conv, messages=chain, current_leaf=len(chain) or None)


_FORKED = re.compile(r"(.*) \(fork(?: (\d+))?\)")


def fork_title(title: str | None, taken: Iterable[str] = ()) -> str | None:
    """A fork's title: its source's, marked with the first fork number no title in `taken` has
    (found by QA: two tabs, then two forks from the command line, read the same): "Plan
    (fork)", then "Plan (fork 2)", whether forked from "Plan" or from a fork of it."""
    if not title:
        return title
    forked = _FORKED.fullmatch(title)
    base = title if forked is None else forked[1]
    used = set()
    for other in taken:
        match = _FORKED.fullmatch(other)
        if match is not None and match[1] == base:
            used.add(int(match[2] or 1))
    number = max(used, default=0) + 1
    return f"{base} (fork)" if number == 1 else f"{base} (fork {number})"
