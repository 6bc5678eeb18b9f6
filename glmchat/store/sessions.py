"""The session store: conversations and their messages in glmchat.db, with search."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glmchat.backend.events import Message, Usage
from glmchat.store.database import (
    AccessMode,
    AmbiguousIdError,
    NotFoundError,
    access_mode,
    connect,
    ensure_search_index,
    fts5_available,
    search_state,
    translate_error,
)

STATUSES = ("complete", "partial", "cancelled", "error")
ROLES = ("system", "user", "assistant")
# Search snippets wrap each hit in these; neither is Rich markup nor common in chat text.
SNIPPET_START = "«"
SNIPPET_END = "»"
TITLE_MAX = 80  # one limit for the TUI, ask and the store
_SNIPPET_TOKENS = 12
# How many of the newest matching messages (and titles) a search scores; see _search_fts.
RANKED_HITS = 10_000
_LIKE_CONTEXT = 40


def now_iso() -> str:
    """The current time as ISO-8601 UTC with milliseconds, e.g. 2026-11-22T19:30:00.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return secrets.token_hex(6)


def qualified_model(provider: str | None, model: str | None) -> str | None:
    """A model as glmchat names it everywhere: `PROVIDER/MODEL` (`zai/glm-4.5`)."""
    if provider and model:
        return f"{provider}/{model}"
    return model or provider or None


def title_from_prompt(prompt: str) -> str:
    """The first non-blank line of a prompt, trimmed (and shortened if very long)."""
    stripped = prompt.strip()
    line = stripped.splitlines()[0].strip() if stripped else ""
    if len(line) > TITLE_MAX:
        line = line[: TITLE_MAX - 1].rstrip() + "…"
    return line


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: str
    position: int
    role: str
    content: str
    reasoning: str = ""
    model: str | None = None
    provider: str | None = None
    thinking: bool | None = None
    usage: dict[str, Any] | None = None
    started: str | None = None
    finished: str | None = None
    status: str = "complete"
    error: str | None = None
    finish_reason: str | None = None
    timings: dict[str, Any] | None = None


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str | None
    created: str
    updated: str
    model: str | None
    provider: str | None
    thinking: bool | None
    system_prompt: str | None
    messages: tuple[StoredMessage, ...] = field(default=())


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str | None
    created: str
    updated: str
    model: str | None
    provider: str | None
    thinking: bool | None
    message_count: int
    snippet: str | None = None

    @property
    def full_model(self) -> str | None:
        return qualified_model(self.provider, self.model)

    def as_dict(self) -> dict[str, Any]:
        """The `sessions list --json` object; `model` is PROVIDER/MODEL, as in `ask --json`."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "created": self.created,
            "updated": self.updated,
            "model": self.full_model,
            "provider": self.provider,
            "thinking": self.thinking,
            "messages": self.message_count,
        }
        if self.snippet is not None:
            out["snippet"] = self.snippet
        return out


_SUMMARY_COLUMNS = """
    c.id, c.title, c.created, c.updated, c.model, c.provider, c.thinking,
    (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)
"""
_MESSAGE_COLUMNS = """
    id, conversation_id, position, role, content, reasoning, model, provider, thinking, usage,
    started, finished, status, error, finish_reason, timings
"""


class SessionStore:
    """Conversations in SQLite. Every write is one short BEGIN IMMEDIATE transaction, so a TUI
    and an `ask` can share the database; every failure is a StoreError naming the file."""

    def __init__(
        self, path: Path, *, use_fts: bool | None = None, mode: AccessMode | None = None
    ) -> None:
        """Open (creating if needed) and migrate `path`. `use_fts=False` forces the LIKE
        fallback used where SQLite lacks FTS5; None picks FTS5 when available. `mode` None
        opens read-only when this process may not write the file or its directory; then
        `read_only` is true, reads work and every write raises StoreError."""
        self.path = Path(path)
        self._lock = threading.RLock()
        self.mode: AccessMode = access_mode(self.path) if mode is None else mode
        self.read_only = self.mode != "rw"
        self._conn = connect(self.path, self.mode)
        try:
            wanted = fts5_available() if use_fts is None else use_fts
            if self.read_only:
                # No index can be built or dropped here: use it only if it is current.
                self.fts_enabled = wanted and search_state(self._conn) == "ready"
            else:
                self.fts_enabled = ensure_search_index(self._conn, wanted)
        except sqlite3.Error as exc:
            self._conn.close()
            raise translate_error(self.path, exc, "open") from exc

    def close(self) -> None:
        with self._lock:
            with suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")  # keeps query plans good; cheap
            with suppress(sqlite3.Error):
                self._conn.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def _write(self, action: str = "write to") -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate_error(self.path, exc, action) from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise translate_error(self.path, exc, action) from exc
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        # A deferred transaction gives several SELECTs one consistent snapshot under WAL.
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                try:
                    yield self._conn
                finally:
                    self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise translate_error(self.path, exc, "read") from exc

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
        return rows[0][0]

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
            while True:
                conversation_id = new_id()
                if not conn.execute(
                    "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
                ).fetchone():
                    break
            conn.execute(
                "INSERT INTO conversations (id, title, created, updated, model, provider, "
                "thinking, system_prompt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    title or None,
                    stamp,
                    stamp,
                    model,
                    provider,
                    int(thinking),
                    system_prompt or None,
                ),
            )
        return conversation_id

    def _insert_message(self, conn: sqlite3.Connection, conversation_id: str, **values: Any) -> int:
        position = conn.execute(
            "SELECT coalesce(max(position), -1) + 1 FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()[0]
        values = {"conversation_id": conversation_id, "position": position, **values}
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = conn.execute(
            f"INSERT INTO messages ({names}) VALUES ({marks})", tuple(values.values())
        )
        return int(cursor.lastrowid or 0)

    def _require(self, conn: sqlite3.Connection, conversation_id: str) -> None:
        if not conn.execute(
            "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone():
            raise NotFoundError(f"no conversation with id {conversation_id!r} in {self.path}")

    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        model: str | None = None,
        provider: str | None = None,
        thinking: bool | None = None,
        status: str = "complete",
    ) -> int:
        """Store a user or system message (titling the conversation from its first prompt)."""
        _check(role, ROLES, "role")
        _check(status, STATUSES, "status")
        stamp = now_iso()
        with self._write() as conn:
            self._require(conn, conversation_id)
            message_id = self._insert_message(
                conn,
                conversation_id,
                role=role,
                content=content,
                model=model,
                provider=provider,
                thinking=None if thinking is None else int(thinking),
                started=stamp,
                finished=stamp,
                status=status,
            )
            conn.execute(
                "UPDATE conversations SET updated = ? WHERE id = ?", (stamp, conversation_id)
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

    def begin_assistant(
        self, conversation_id: str, *, model: str, provider: str, thinking: bool
    ) -> int:
        """Create the assistant row as the request starts, so a crash leaves it `partial`."""
        stamp = now_iso()
        with self._write() as conn:
            self._require(conn, conversation_id)
            message_id = self._insert_message(
                conn,
                conversation_id,
                role="assistant",
                content="",
                reasoning="",
                model=model,
                provider=provider,
                thinking=int(thinking),
                started=stamp,
                status="partial",
            )
            conn.execute(
                "UPDATE conversations SET updated = ? WHERE id = ?", (stamp, conversation_id)
            )
        return message_id

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
            raise NotFoundError(
                f"message {message_id} is no longer in {self.path} (its conversation was deleted)"
            )

    def finish_assistant(
        self,
        message_id: int,
        *,
        content: str,
        reasoning: str,
        status: str,
        usage: dict[str, Any] | Usage | None = None,
        error: str | None = None,
        finish_reason: str | None = None,
        timings: dict[str, Any] | None = None,
    ) -> None:
        _check(status, STATUSES, "status")
        if usage is not None and not isinstance(usage, dict):
            usage = usage.as_dict()  # a backend Usage is welcome too
        stamp = now_iso()
        with self._write() as conn:
            row = conn.execute(
                "SELECT conversation_id FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(
                    f"message {message_id} is no longer in {self.path} "
                    "(its conversation was deleted)"
                )
            conn.execute(
                "UPDATE messages SET content = ?, reasoning = ?, status = ?, usage = ?, "
                "error = ?, finish_reason = ?, timings = ?, finished = ? WHERE id = ?",
                (
                    content,
                    reasoning,
                    status,
                    _dumps(usage),
                    error,
                    finish_reason,
                    _dumps(timings),
                    stamp,
                    message_id,
                ),
            )
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
            changes["thinking"] = int(thinking)
        if system_prompt is not None:
            changes["system_prompt"] = system_prompt or None
        with self._write() as conn:
            self._require(conn, conversation_id)
            if changes:
                assignments = ", ".join(f"{name} = ?" for name in changes)
                conn.execute(
                    f"UPDATE conversations SET {assignments} WHERE id = ?",
                    (*changes.values(), conversation_id),
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
        with self._write() as conn:
            conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def insert_conversations(self, conversations: Sequence[Conversation]) -> list[tuple[str, str]]:
        """Insert whole conversations (an import) in one transaction: all or nothing.

        An id already taken is never overwritten: that conversation gets a new id. Returns
        (id in the document, id stored) pairs."""
        results: list[tuple[str, str]] = []
        with self._write("import into") as conn:
            for conv in conversations:
                stored_id = conv.id
                taken = conn.execute(
                    "SELECT 1 FROM conversations WHERE id = ?", (stored_id,)
                ).fetchone()
                while taken:
                    stored_id = new_id()
                    taken = conn.execute(
                        "SELECT 1 FROM conversations WHERE id = ?", (stored_id,)
                    ).fetchone()
                conn.execute(
                    "INSERT INTO conversations (id, title, created, updated, model, provider, "
                    "thinking, system_prompt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        stored_id,
                        conv.title,
                        conv.created,
                        conv.updated,
                        conv.model,
                        conv.provider,
                        _bool_to_int(conv.thinking),
                        conv.system_prompt,
                    ),
                )
                conn.executemany(
                    "INSERT INTO messages (conversation_id, position, role, content, reasoning, "
                    "model, provider, thinking, usage, started, finished, status, error, "
                    "finish_reason, timings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            stored_id,
                            position,
                            m.role,
                            m.content,
                            m.reasoning,
                            m.model,
                            m.provider,
                            _bool_to_int(m.thinking),
                            _dumps(m.usage),
                            m.started,
                            m.finished,
                            m.status,
                            m.error,
                            m.finish_reason,
                            _dumps(m.timings),
                        )
                        for position, m in enumerate(conv.messages)
                    ],
                )
                results.append((conv.id, stored_id))
        return results

    # -- reads --------------------------------------------------------------------------

    def get_conversation(self, id_or_prefix: str) -> Conversation:
        with self._read() as conn:
            conversation_id = self._resolve(conn, id_or_prefix)
            row = conn.execute(
                "SELECT id, title, created, updated, model, provider, thinking, system_prompt "
                "FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            messages = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
                "ORDER BY position",
                (conversation_id,),
            ).fetchall()
        return Conversation(
            id=row[0],
            title=row[1],
            created=row[2],
            updated=row[3],
            model=row[4],
            provider=row[5],
            thinking=_int_to_bool(row[6]),
            system_prompt=row[7],
            messages=tuple(_message(m) for m in messages),
        )

    def get_message(self, message_id: int) -> StoredMessage:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no message {message_id} in {self.path}")
        return _message(row)

    def most_recent(self) -> Conversation | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated DESC, seq DESC LIMIT 1"
            ).fetchone()
        return self.get_conversation(row[0]) if row else None

    def history(self, conversation_id: str) -> list[Message]:
        """The turns to send back to the model: user and assistant text, never reasoning.

        Rows with no text (an error before any answer, a cancelled empty one) are skipped;
        a partial or interrupted answer that has text is kept, as the user saw it."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT role, content FROM messages WHERE conversation_id = ? "
                "AND role IN ('user', 'assistant') AND trim(content) != '' ORDER BY position",
                (conversation_id,),
            ).fetchall()
        return [Message(role=role, content=content) for role, content in rows]

    def count_conversations(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT count(*) FROM conversations").fetchone()[0])

    def list_conversations(
        self, *, limit: int = 50, search: str | None = None, include_reasoning: bool = False
    ) -> list[ConversationSummary]:
        """Most recent first; with `search`, the best matches first, each with a snippet."""
        limit = max(1, int(limit))
        if search is not None and search.strip():
            if self.fts_enabled:
                return self._search_fts(search, limit, include_reasoning)
            return self._search_like(search, limit, include_reasoning)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM conversations c "
                "ORDER BY c.updated DESC, c.seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_summary(row) for row in rows]

    def _search_fts(
        self, search: str, limit: int, include_reasoning: bool
    ) -> list[ConversationSummary]:
        query = fts_query(search)
        if not query:
            return []
        message_query = query if include_reasoning else f"{{content}} : ({query})"
        snippet_column = -1 if include_reasoning else 0
        with self._read() as conn:
            # Rank first, snippets after: a snippet costs far more than bm25, so only the
            # hits that are shown get one. Title hits count double (bm25 is negative). Only
            # the newest RANKED_HITS matches of each kind are scored, which bounds the cost of
            # a word found in half the history (rowid order is insertion order).
            best = conn.execute(
                """
                WITH title_hits AS (
                    SELECT rowid AS seq, bm25(conversations_fts) * 2.0 AS score
                    FROM conversations_fts WHERE conversations_fts MATCH :q
                    ORDER BY rowid DESC LIMIT :cap
                ),
                message_hits AS (
                    SELECT rowid AS id, bm25(messages_fts, 1.0, 0.5) AS score
                    FROM messages_fts WHERE messages_fts MATCH :mq
                    ORDER BY rowid DESC LIMIT :cap
                ),
                hits AS (
                    SELECT c.id AS cid, t.score AS score, 'title' AS kind, t.seq AS hit
                    FROM title_hits t JOIN conversations c ON c.seq = t.seq
                    UNION ALL
                    SELECT m.conversation_id, h.score, 'message', h.id
                    FROM message_hits h JOIN messages m ON m.id = h.id
                )
                SELECT cid, min(score) AS best, kind, hit FROM hits
                GROUP BY cid ORDER BY best LIMIT :limit
                """,
                {"q": query, "mq": message_query, "limit": limit, "cap": RANKED_HITS},
            ).fetchall()
            results = []
            for cid, _score, kind, hit in best:
                if kind == "title":
                    snippet_row = conn.execute(
                        "SELECT snippet(conversations_fts, 0, ?, ?, '…', ?) FROM "
                        "conversations_fts WHERE conversations_fts MATCH ? AND rowid = ?",
                        (SNIPPET_START, SNIPPET_END, _SNIPPET_TOKENS, query, hit),
                    ).fetchone()
                else:
                    snippet_row = conn.execute(
                        "SELECT snippet(messages_fts, ?, ?, ?, '…', ?) FROM messages_fts "
                        "WHERE messages_fts MATCH ? AND rowid = ?",
                        (
                            snippet_column,
                            SNIPPET_START,
                            SNIPPET_END,
                            _SNIPPET_TOKENS,
                            message_query,
                            hit,
                        ),
                    ).fetchone()
                row = conn.execute(
                    f"SELECT {_SUMMARY_COLUMNS} FROM conversations c WHERE c.id = ?", (cid,)
                ).fetchone()
                snippet = _one_line(snippet_row[0]) if snippet_row else ""
                results.append(_summary(row, snippet))
        return results

    def _search_like(
        self, search: str, limit: int, include_reasoning: bool
    ) -> list[ConversationSummary]:
        # Without FTS5: every word must appear somewhere in the conversation (title or a
        # message); most recent first, since there is no relevance score.
        words = [w for w in search.split() if w]
        clauses = []
        params: list[Any] = []
        for word in words:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            text_match = "m.content LIKE ? ESCAPE '\\'"
            if include_reasoning:
                text_match = f"({text_match} OR m.reasoning LIKE ? ESCAPE '\\')"
            clauses.append(
                "(c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m "
                f"WHERE m.conversation_id = c.id AND {text_match}))"
            )
            params += [pattern, pattern] + ([pattern] if include_reasoning else [])
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM conversations c WHERE {' AND '.join(clauses)} "
                "ORDER BY c.updated DESC, c.seq DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
            results = []
            first = words[0]
            for row in rows:
                snippet = _like_snippet(row[1] or "", first)
                if snippet is None:
                    texts = conn.execute(
                        "SELECT content, reasoning FROM messages WHERE conversation_id = ? "
                        "ORDER BY position",
                        (row[0],),
                    ).fetchall()
                    for content, reasoning in texts:
                        for text in (content, reasoning) if include_reasoning else (content,):
                            snippet = _like_snippet(text, first)
                            if snippet is not None:
                                break
                        if snippet is not None:
                            break
                results.append(_summary(row, snippet or ""))
        return results

    def rebuild_search_index(self) -> None:
        """Re-derive the full-text index from the tables (after a bulk load, say)."""
        if not self.fts_enabled:
            return
        with self._write() as conn:
            conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
            conn.execute("INSERT INTO conversations_fts (conversations_fts) VALUES ('rebuild')")


def fts_query(text: str) -> str:
    """A user's words as an FTS5 query: each word a quoted phrase (so no operator syntax
    leaks through), all required, the last one also matching as a prefix."""
    words = [w for w in text.split() if re.search(r"\w", w)]
    if not words:
        return ""
    phrases = ['"' + w.replace('"', '""') + '"' for w in words]
    phrases[-1] += "*"
    return " ".join(phrases)


def _like_snippet(text: str, word: str) -> str | None:
    at = text.lower().find(word.lower())
    if at < 0:
        return None
    start = max(0, at - _LIKE_CONTEXT)
    end = min(len(text), at + len(word) + _LIKE_CONTEXT)
    snippet = (
        ("…" if start else "")
        + text[start:at]
        + SNIPPET_START
        + text[at : at + len(word)]
        + SNIPPET_END
        + text[at + len(word) : end]
        + ("…" if end < len(text) else "")
    )
    return _one_line(snippet)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _loads(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _bool_to_int(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _int_to_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _message(row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(
        id=row[0],
        conversation_id=row[1],
        position=row[2],
        role=row[3],
        content=row[4],
        reasoning=row[5],
        model=row[6],
        provider=row[7],
        thinking=_int_to_bool(row[8]),
        usage=_loads(row[9]),
        started=row[10],
        finished=row[11],
        status=row[12],
        error=row[13],
        finish_reason=row[14],
        timings=_loads(row[15]),
    )


def _summary(row: Sequence[Any], snippet: str | None = None) -> ConversationSummary:
    return ConversationSummary(
        id=row[0],
        title=row[1],
        created=row[2],
        updated=row[3],
        model=row[4],
        provider=row[5],
        thinking=_int_to_bool(row[6]),
        message_count=row[7],
        snippet=snippet,
    )
