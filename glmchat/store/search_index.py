"""The full-text search indexes: their FTS5 tables and triggers, made or dropped to suit SQLite.

Two indexes over messages: words (ranked search in spaced languages) and trigrams (any run of
three or more characters, for text a word index cannot split: Chinese, Japanese, Thai, emoji).
Each has its own state in store_meta ('fts', 'fts_substring'): 'ready', or 'stale' when its
triggers were dropped and it must be rebuilt. Titles need no trigram index: they are few and
short enough to scan (see search_substring.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from functools import lru_cache


def _message_triggers(index: str) -> tuple[str, str, str]:
    """The triggers that keep `index`, an FTS5 table over messages' content and reasoning
    (external content), in step with the messages table: insert, delete, update."""
    columns = "content, reasoning"
    return (
        f"""
    CREATE TRIGGER IF NOT EXISTS {index}_insert AFTER INSERT ON messages BEGIN
        INSERT INTO {index} (rowid, {columns}) VALUES (new.id, new.content, new.reasoning);
    END
    """,
        f"""
    CREATE TRIGGER IF NOT EXISTS {index}_delete AFTER DELETE ON messages BEGIN
        INSERT INTO {index} ({index}, rowid, {columns})
        VALUES ('delete', old.id, old.content, old.reasoning);
    END
    """,
        f"""
    CREATE TRIGGER IF NOT EXISTS {index}_update AFTER UPDATE OF {columns} ON messages BEGIN
        INSERT INTO {index} ({index}, rowid, {columns})
        VALUES ('delete', old.id, old.content, old.reasoning);
        INSERT INTO {index} (rowid, {columns}) VALUES (new.id, new.content, new.reasoning);
    END
    """,
    )


_SEARCH_SCHEMA = (
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
        content, reasoning, content='messages', content_rowid='id'
    )
    """,
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS conversations_fts USING fts5(
        title, content='conversations', content_rowid='seq'
    )
    """,
    *_message_triggers("messages_fts"),
    """
    CREATE TRIGGER IF NOT EXISTS conversations_fts_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts (rowid, title) VALUES (new.seq, coalesce(new.title, ''));
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS conversations_fts_delete AFTER DELETE ON conversations BEGIN
        INSERT INTO conversations_fts (conversations_fts, rowid, title)
        VALUES ('delete', old.seq, coalesce(old.title, ''));
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS conversations_fts_update AFTER UPDATE OF title
    ON conversations BEGIN
        INSERT INTO conversations_fts (conversations_fts, rowid, title)
        VALUES ('delete', old.seq, coalesce(old.title, ''));
        INSERT INTO conversations_fts (rowid, title) VALUES (new.seq, coalesce(new.title, ''));
    END
    """,
)
_SEARCH_TRIGGERS = (
    "messages_fts_insert",
    "messages_fts_delete",
    "messages_fts_update",
    "conversations_fts_insert",
    "conversations_fts_delete",
    "conversations_fts_update",
)


# detail=none: the index only says which trigrams a row holds, a third of the size of a full
# index; FTS5 then checks each candidate row against the LIKE pattern itself.
_SUBSTRING_SCHEMA = (
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS messages_trigram USING fts5(
        content, reasoning, content='messages', content_rowid='id',
        tokenize='trigram', detail='none'
    )
    """,
    *_message_triggers("messages_trigram"),
)
_SUBSTRING_TRIGGERS = (
    "messages_trigram_insert",
    "messages_trigram_delete",
    "messages_trigram_update",
)


@lru_cache(maxsize=1)
def fts5_available() -> bool:
    """Whether this Python's SQLite was built with FTS5 (once per process: a library's, not a
    file's, so every store opened after the first costs no probe)."""
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as conn:
            conn.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
    except sqlite3.Error:
        return False
    return True


@lru_cache(maxsize=1)
def trigram_available() -> bool:
    """Whether this SQLite has FTS5's trigram tokenizer (3.34 and later; once per process)."""
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as conn:
            conn.execute("CREATE VIRTUAL TABLE probe USING fts5(x, tokenize='trigram')")
    except sqlite3.Error:
        return False
    return True


def ensure_search_index(conn: sqlite3.Connection, use_fts: bool) -> bool:
    """Create or drop the FTS5 index and its triggers; returns whether FTS5 is in use.

    Without FTS5 the triggers must go, or every write would fail with "no such module"; the
    index is then marked stale and rebuilt the next time FTS5 is there."""
    wanted = "ready" if use_fts else "stale"
    if search_state(conn) == wanted:
        return use_fts  # the common case takes no write lock
    conn.execute("BEGIN IMMEDIATE")
    try:
        state = search_state(conn)
        if use_fts:
            if state != "ready":
                for statement in _SEARCH_SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
                conn.execute("INSERT INTO conversations_fts (conversations_fts) VALUES ('rebuild')")
                conn.execute("INSERT OR REPLACE INTO store_meta VALUES ('fts', 'ready')")
        elif state != "stale":
            for trigger in _SEARCH_TRIGGERS:
                conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            conn.execute("INSERT OR REPLACE INTO store_meta VALUES ('fts', 'stale')")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return use_fts


def ensure_substring_index(conn: sqlite3.Connection, use_trigram: bool) -> bool:
    """Create or drop the trigram index and its triggers, as ensure_search_index does the
    word index; returns whether it is in use. Without the tokenizer its triggers must go."""
    wanted = "ready" if use_trigram else "stale"
    if search_state(conn, "fts_substring") == wanted:
        return use_trigram
    conn.execute("BEGIN IMMEDIATE")
    try:
        state = search_state(conn, "fts_substring")
        if use_trigram:
            if state != "ready":
                for statement in _SUBSTRING_SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO messages_trigram (messages_trigram) VALUES ('rebuild')")
                conn.execute("INSERT OR REPLACE INTO store_meta VALUES ('fts_substring', 'ready')")
        elif state != "stale":
            for trigger in _SUBSTRING_TRIGGERS:
                conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            conn.execute("INSERT OR REPLACE INTO store_meta VALUES ('fts_substring', 'stale')")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return use_trigram


def search_state(conn: sqlite3.Connection, key: str = "fts") -> str | None:
    row = conn.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None
