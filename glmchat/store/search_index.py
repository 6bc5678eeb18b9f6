"""The full-text search indexes: their FTS5 tables and triggers, made or dropped to suit SQLite.

Two indexes over messages: words (ranked search in spaced languages) and trigrams (any run of
three or more characters, for text a word index cannot split: Chinese, Japanese, Thai, emoji).
Each has its own state in store_meta ('fts', 'fts_substring'): READY, or 'stale' when its
triggers were dropped and it must be rebuilt ('ready': an index from before answers in flight
were left out, brought up to date on open). Titles need no trigram index: they are few and
short enough to scan (see search_substring.py).

Neither index holds an answer in flight (IN_FLIGHT: still streaming, or left so by a crash).
Its text is saved about once a second as it grows, and re-indexing all of it at each save
cost 1.6 ms against 0.03 ms for the save itself (a 2,000-token answer, both indexes): in ten
panes streaming at once, a tenth of the app's CPU. An answer enters the indexes when it
finishes; until then search scans those rows (`in_flight_hits` in search.py), through the
partial index of migration 8."""

from __future__ import annotations

import contextlib
import sqlite3
from functools import lru_cache

# A message the indexes leave out: an answer still streaming, or left so by a crash. The same
# terms as migration 8's partial index (messages_in_flight), so that a query with them uses it.
IN_FLIGHT = "{row}.role = 'assistant' AND {row}.status = 'partial' AND {row}.finished IS NULL"

# The state of an index whose triggers leave answers in flight out; 'ready' was the state of
# one that indexed every message.
READY = "settled"
LEGACY_READY = "ready"


def _message_triggers(index: str) -> tuple[str, str, str]:
    """The triggers that keep `index`, an FTS5 table over messages' content and reasoning
    (external content), in step with the messages table's settled rows: insert, delete,
    update. A row is in the index exactly while it is not IN_FLIGHT, with the text it has:
    FTS5 must be told a row's indexed text to take it out again."""
    columns = "content, reasoning"
    old_settled = f"NOT ({IN_FLIGHT.format(row='old')})"
    new_settled = f"NOT ({IN_FLIGHT.format(row='new')})"
    return (
        f"""
    CREATE TRIGGER IF NOT EXISTS {index}_insert AFTER INSERT ON messages
    WHEN {new_settled} BEGIN
        INSERT INTO {index} (rowid, {columns}) VALUES (new.id, new.content, new.reasoning);
    END
    """,
        f"""
    CREATE TRIGGER IF NOT EXISTS {index}_delete AFTER DELETE ON messages
    WHEN {old_settled} BEGIN
        INSERT INTO {index} ({index}, rowid, {columns})
        VALUES ('delete', old.id, old.content, old.reasoning);
    END
    """,
        f"""
    CREATE TRIGGER IF NOT EXISTS {index}_update
    AFTER UPDATE OF {columns}, role, status, finished ON messages
    WHEN {old_settled} OR {new_settled} BEGIN
        INSERT INTO {index} ({index}, rowid, {columns})
        SELECT 'delete', old.id, old.content, old.reasoning WHERE {old_settled};
        INSERT INTO {index} (rowid, {columns})
        SELECT new.id, new.content, new.reasoning WHERE {new_settled};
    END
    """,
    )


def _leave_out_in_flight(conn: sqlite3.Connection, index: str) -> None:
    """Take the answers in flight out of `index`, which holds them as they are now (just
    rebuilt from the messages table, or kept by the triggers from before they were left
    out)."""
    conn.execute(
        f"INSERT INTO {index} ({index}, rowid, content, reasoning) "
        f"SELECT 'delete', m.id, m.content, m.reasoning FROM messages m "
        f"WHERE {IN_FLIGHT.format(row='m')}"
    )


def _drop_message_triggers(conn: sqlite3.Connection, index: str) -> None:
    for event in ("insert", "delete", "update"):
        conn.execute(f"DROP TRIGGER IF EXISTS {index}_{event}")


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
    return _creates("CREATE VIRTUAL TABLE probe USING fts5(x)")


@lru_cache(maxsize=1)
def trigram_available() -> bool:
    """Whether this SQLite has FTS5's trigram tokenizer (3.34 and later; once per process)."""
    return _creates("CREATE VIRTUAL TABLE probe USING fts5(x, tokenize='trigram')")


def _creates(statement: str) -> bool:
    """Whether this SQLite runs `statement` (in a database of its own, in memory)."""
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as conn:
            conn.execute(statement)
    except sqlite3.Error:
        return False
    return True


def ensure_search_index(conn: sqlite3.Connection, use_fts: bool) -> bool:
    """Create or drop the FTS5 index and its triggers; returns whether FTS5 is in use.

    Without FTS5 the triggers must go, or every write would fail with "no such module"; the
    index is then marked stale and rebuilt the next time FTS5 is there."""
    tables = ("messages_fts", "conversations_fts")
    return _ensure_index(conn, "fts", use_fts, _SEARCH_SCHEMA, _SEARCH_TRIGGERS, tables)


def ensure_substring_index(conn: sqlite3.Connection, use_trigram: bool) -> bool:
    """Create or drop the trigram index and its triggers, as ensure_search_index does the
    word index; returns whether it is in use. Without the tokenizer its triggers must go."""
    return _ensure_index(
        conn,
        "fts_substring",
        use_trigram,
        _SUBSTRING_SCHEMA,
        _SUBSTRING_TRIGGERS,
        ("messages_trigram",),
    )


def _ensure_index(
    conn: sqlite3.Connection,
    key: str,
    use: bool,
    schema: tuple[str, ...],
    triggers: tuple[str, ...],
    tables: tuple[str, ...],
) -> bool:
    """Bring the index of state `key` (its `tables`, the first over messages) to READY or
    'stale'; returns `use`."""
    wanted = READY if use else "stale"
    if search_state(conn, key) == wanted:
        return use  # the common case takes no write lock
    messages_index = tables[0]
    conn.execute("BEGIN IMMEDIATE")
    try:
        state = search_state(conn, key)
        if use:
            if state == LEGACY_READY:
                # In step with every message: new triggers, and the answers in flight out.
                _drop_message_triggers(conn, messages_index)
                for statement in schema:
                    conn.execute(statement)
                _leave_out_in_flight(conn, messages_index)
            elif state != READY:
                for statement in schema:
                    conn.execute(statement)
                for table in tables:
                    conn.execute(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")
                _leave_out_in_flight(conn, messages_index)
            conn.execute("INSERT OR REPLACE INTO store_meta VALUES (?, ?)", (key, READY))
        elif state != "stale":
            for trigger in triggers:
                conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            conn.execute("INSERT OR REPLACE INTO store_meta VALUES (?, 'stale')", (key,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return use


def usable_state(state: str | None) -> bool:
    """Whether an index in `state` can be searched as it is (a read-only open cannot bring it
    up to date: one from before answers in flight were left out still holds them, which
    search tolerates)."""
    return state in (READY, LEGACY_READY)


def search_state(conn: sqlite3.Connection, key: str = "fts") -> str | None:
    row = conn.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None
