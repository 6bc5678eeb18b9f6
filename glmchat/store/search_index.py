"""The full-text search index: its FTS5 tables and triggers, made or dropped to suit SQLite."""

from __future__ import annotations

import contextlib
import sqlite3

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
    """
    CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content, reasoning)
        VALUES (new.id, new.content, new.reasoning);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content, reasoning)
        VALUES ('delete', old.id, old.content, old.reasoning);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF content, reasoning
    ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, content, reasoning)
        VALUES ('delete', old.id, old.content, old.reasoning);
        INSERT INTO messages_fts (rowid, content, reasoning)
        VALUES (new.id, new.content, new.reasoning);
    END
    """,
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


def fts5_available() -> bool:
    """Whether this Python's SQLite was built with FTS5."""
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as conn:
            conn.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
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


def search_state(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM store_meta WHERE key = 'fts'").fetchone()
    return row[0] if row else None
