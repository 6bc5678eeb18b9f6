"""Opening glmchat.db: connection settings, schema migrations, and the store's errors."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Literal

from glmchat.errors import GlmchatError

# Seconds a writer waits for another process's write lock before giving up; our transactions
# last milliseconds, so hitting this means something else holds the database.
BUSY_TIMEOUT = 10.0


class StoreError(GlmchatError):
    """A store failure as one line: what happened, what to do, and the database path."""


class NotFoundError(StoreError):
    """No conversation (or message) matches the id given."""


class AmbiguousIdError(StoreError):
    """An id prefix matches more than one conversation."""


class ImportFormatError(StoreError):
    """An import document is malformed; nothing was imported."""


# The SQL pieces of migration 4's usage ledger (frozen with it: a change needs a new migration).
# An answer counts once its provider reported usage or it has a cost; its hour is when it
# finished (UTC, "2026-08-21T10"), or began if it never did; a count missing from the usage is 0.
_USAGE_ROW = "{row}.role = 'assistant' AND ({row}.usage IS NOT NULL OR {row}.cost IS NOT NULL)"
_USAGE_KEY = (
    "substr(coalesce({row}.finished, {row}.started, ''), 1, 13), {row}.conversation_id, "
    "coalesce({row}.provider, ''), coalesce({row}.model, '')"
)
_USAGE_COUNTS = ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens")
_USAGE_COUNT = (
    "coalesce(CAST(CASE WHEN json_valid({row}.usage) "
    "THEN json_extract({row}.usage, '$.{name}') END AS INTEGER), 0)"
)


def _usage_trigger(name: str, event: str, *, add: str, take: str | None = None) -> str:
    """A trigger that adds the answer `add` ("new") to usage_hours and, on an update, first
    takes back what the row `take` ("old") had added."""
    counts = ", ".join(_USAGE_COUNT.format(row=add, name=n) for n in _USAGE_COUNTS)
    sums = ", ".join(f"{n} = {n} + excluded.{n}" for n in _USAGE_COUNTS)
    insert = f"""
        INSERT INTO usage_hours
        SELECT {_USAGE_KEY.format(row=add)}, 1, {add}.cost IS NOT NULL, {counts},
            coalesce({add}.cost, 0)
        WHERE {_USAGE_ROW.format(row=add)}
        ON CONFLICT DO UPDATE SET answers = answers + 1, priced = priced + excluded.priced,
            {sums}, cost = cost + excluded.cost;
    """
    undo = ""
    if take is not None:
        key = f"(hour, conversation_id, provider, model) = ({_USAGE_KEY.format(row=take)})"
        minus = ", ".join(
            f"{n} = {n} - {_USAGE_COUNT.format(row=take, name=n)}" for n in _USAGE_COUNTS
        )
        undo = f"""
        UPDATE usage_hours SET answers = answers - 1, priced = priced - ({take}.cost IS NOT NULL),
            {minus}, cost = cost - coalesce({take}.cost, 0)
        WHERE {key} AND {_USAGE_ROW.format(row=take)};
        DELETE FROM usage_hours WHERE {key} AND answers <= 0;
        """
    return f"""
        CREATE TRIGGER usage_hours_{name} {event}
        WHEN {_USAGE_ROW.format(row=add)} {f"OR {_USAGE_ROW.format(row=take)}" if take else ""}
        BEGIN {undo} {insert} END
    """


# Forward migrations: MIGRATIONS[n] takes a database from user_version n to n + 1. Never edit a
# released entry; append a new one. The full-text index is not versioned here because it depends
# on whether this SQLite has FTS5 (see `ensure_search_index`).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: conversations and messages.
    (
        """
        CREATE TABLE conversations (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            title TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            model TEXT,
            provider TEXT,
            thinking INTEGER,
            system_prompt TEXT
        )
        """,
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            model TEXT,
            provider TEXT,
            thinking INTEGER,
            usage TEXT,
            started TEXT,
            finished TEXT,
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'partial', 'cancelled', 'error')),
            error TEXT,
            UNIQUE (conversation_id, position)
        )
        """,
    ),
    # 2: finish reason and timings per message; the index behind "most recent first"; a
    # key/value table for the store's own state (whether the search index is current).
    (
        "ALTER TABLE messages ADD COLUMN finish_reason TEXT",
        "ALTER TABLE messages ADD COLUMN timings TEXT",
        "CREATE INDEX conversations_updated ON conversations (updated, seq)",
        "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT)",
    ),
    # 3: tool calls. A `tool` role (a CHECK constraint cannot be altered, so the table is
    # rebuilt, ids kept); an assistant row's tool calls, a tool row's call id. The search
    # triggers went with the old table: marking the index stale has them made again.
    (
        """
        CREATE TABLE messages_v3 (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            model TEXT,
            provider TEXT,
            thinking INTEGER,
            usage TEXT,
            started TEXT,
            finished TEXT,
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'partial', 'cancelled', 'error')),
            error TEXT,
            finish_reason TEXT,
            timings TEXT,
            tool_calls TEXT,
            tool_call_id TEXT,
            UNIQUE (conversation_id, position)
        )
        """,
        """
        INSERT INTO messages_v3 (id, conversation_id, position, role, content, reasoning, model,
            provider, thinking, usage, started, finished, status, error, finish_reason, timings)
        SELECT id, conversation_id, position, role, content, reasoning, model, provider,
            thinking, usage, started, finished, status, error, finish_reason, timings
        FROM messages
        """,
        "DROP TABLE messages",
        "ALTER TABLE messages_v3 RENAME TO messages",
        "INSERT OR REPLACE INTO store_meta VALUES ('fts', 'stale')",
    ),
    # 4: money. Each answer's cost (USD) and where the figure came from (`provider`: the
    # provider said so; `catalogue`: computed from the model's prices); OpenRouter's own cost,
    # already kept in an answer's usage, is carried over. `usage_hours` sums every answer's
    # tokens and cost per UTC hour, conversation and model, kept by triggers, so that
    # `glmchat usage` and the budget read a few thousand narrow rows instead of every
    # message. It is a ledger: deleting a message (a retry, `sessions rm`) leaves what was
    # spent on it. The prompts index counts a coding plan's prompts in its window.
    (
        "ALTER TABLE messages ADD COLUMN cost REAL",
        "ALTER TABLE messages ADD COLUMN cost_source TEXT",
        """
        UPDATE messages SET cost = json_extract(usage, '$.cost'), cost_source = 'provider'
        WHERE role = 'assistant' AND json_valid(usage)
            AND json_type(usage, '$.cost') IN ('integer', 'real')
        """,
        """
        CREATE TABLE usage_hours (
            hour TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            answers INTEGER NOT NULL,
            priced INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            cached_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            cost REAL NOT NULL,
            PRIMARY KEY (hour, conversation_id, provider, model)
        ) WITHOUT ROWID
        """,
        f"""
        INSERT INTO usage_hours
        SELECT {_USAGE_KEY.format(row="m")}, count(*), count(m.cost),
            {", ".join(f"sum({_USAGE_COUNT.format(row='m', name=n)})" for n in _USAGE_COUNTS)},
            total(m.cost)
        FROM messages m WHERE {_USAGE_ROW.format(row="m")}
        GROUP BY 1, 2, 3, 4
        """,
        _usage_trigger("insert", "AFTER INSERT ON messages", add="new"),
        _usage_trigger(
            "update",
            "AFTER UPDATE OF usage, cost, finished ON messages",
            add="new",
            take="old",
        ),
        "CREATE INDEX messages_prompts ON messages (provider, started) WHERE role = 'user'",
    ),
    # 5: the conversation tree. Each message's parent (NULL: a root) and each conversation's
    # current leaf (the last message of the branch shown and sent). A linear conversation
    # becomes a one-branch tree: each message's parent is the one before it by position, the
    # leaf its last message. `position` stays the order of insertion (siblings sort by it).
    (
        "ALTER TABLE messages ADD COLUMN parent_id INTEGER",
        "ALTER TABLE conversations ADD COLUMN current_leaf INTEGER",
        """
        UPDATE messages SET parent_id = (
            SELECT p.id FROM messages p
            WHERE p.conversation_id = messages.conversation_id AND p.position < messages.position
            ORDER BY p.position DESC LIMIT 1
        )
        """,
        """
        UPDATE conversations SET current_leaf = (
            SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id
            ORDER BY m.position DESC LIMIT 1
        )
        """,
        "CREATE INDEX messages_parent ON messages (parent_id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

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


def translate_error(path: Path, exc: BaseException, action: str = "use") -> StoreError:
    """Turn a sqlite3/OS error into a StoreError that says what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    lowered = text.lower()
    if name.startswith("SQLITE_NOTADB") or "not a database" in lowered:
        return StoreError(not_a_database_message(path))
    if name.startswith("SQLITE_FULL") or "disk is full" in lowered:
        return StoreError(
            f"cannot {action} {path}: the disk is full. Free some space and try again"
        )
    if name.startswith("SQLITE_READONLY") or "readonly" in lowered or "read-only" in lowered:
        return StoreError(
            f"cannot {action} {path}: it is read-only. Check the permissions of the file and "
            f"its directory, or set GLMCHAT_DATA_DIR to a writable directory"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in lowered:
        return StoreError(
            f"cannot {action} {path}: another process has held it locked for over "
            f"{BUSY_TIMEOUT:g} s. Close other glmchat instances and try again"
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in lowered:
        return StoreError(
            f"cannot open {path}: check that its directory exists and is writable, "
            f"or set GLMCHAT_DATA_DIR to another directory"
        )
    if isinstance(exc, PermissionError):
        return StoreError(
            f"cannot {action} {path}: permission denied. Check the permissions of its "
            f"directory, or set GLMCHAT_DATA_DIR to a writable directory"
        )
    if name.startswith("SQLITE_CORRUPT") or "malformed" in lowered:
        return StoreError(
            f"{path} is damaged ({text}). Move it aside to start a new one; glmchat leaves it "
            f"untouched"
        )
    return StoreError(f"cannot {action} {path}: {text}")


def not_a_database_message(path: Path) -> str:
    return (
        f"{path} is not a glmchat database (not an SQLite file). Move it aside or set "
        f"GLMCHAT_DATA_DIR to another directory; glmchat leaves it untouched"
    )


# How glmchat.db is opened: read-write; read-only ("ro": SQLite's mode=ro, which still takes
# shared locks and reads a live WAL); or "immutable" (no locks, no -shm), the only way to read a
# database whose directory may not be written, since a WAL reader would have to create -shm.
AccessMode = Literal["rw", "ro", "immutable"]


def access_mode(path: Path) -> AccessMode:
    """How `path` can be opened by this process: "rw" unless the file or its directory is
    read-only for us (permissions or a read-only mount)."""
    directory = path.parent
    if not path.exists():
        return "rw"  # to be created; if that is impossible, opening says so
    if os.access(directory, os.W_OK):
        return "rw" if os.access(path, os.W_OK) else "ro"
    # A directory we may not write: a WAL reader needs -wal and -shm to exist already; without
    # them (a cleanly closed database has none) there is no WAL to miss, so immutable is exact.
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    return "ro" if wal.exists() and shm.exists() else "immutable"


def connect(path: Path, mode: AccessMode = "rw") -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at `path`; raises StoreError.

    The schema version is read before anything is written, so a foreign file or a newer
    schema is reported without changing a byte of it. A read-only `mode` writes nothing, not
    even a migration: an old schema is then reported instead."""
    if mode != "rw":
        return _connect_read_only(path, mode)
    existed = path.exists()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the directory for {path}: {exc.strerror or exc}. "
            f"Set GLMCHAT_DATA_DIR to a writable directory"
        ) from exc
    if existed and path.is_dir():
        raise StoreError(f"{path} is a directory, not a database. Move it aside")
    try:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so that writers queue on
        # the busy timeout instead of failing on a lock upgrade mid-transaction.
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise translate_error(path, exc, "open") from exc
    try:
        _check_header(path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} has schema version {version}, newer than this glmchat knows "
                f"({SCHEMA_VERSION}). Upgrade glmchat to open it; the file was not changed"
            )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable against a crashed or killed process in WAL mode, which is the
        # case that matters for a streaming answer; only a power cut may lose the last commit.
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
        if not existed:
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)  # conversations are private
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise translate_error(path, exc, "open") from exc
    return conn


def _connect_read_only(path: Path, mode: AccessMode) -> sqlite3.Connection:
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a database. Move it aside")
    _check_header(path)
    query = "mode=ro" if mode == "ro" else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(
            f"{path.absolute().as_uri()}?{query}",
            uri=True,
            timeout=BUSY_TIMEOUT,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise translate_error(path, exc, "open") from exc
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            newer = version > SCHEMA_VERSION
            raise StoreError(
                f"{path} has schema version {version}, "
                + (
                    f"newer than this glmchat knows ({SCHEMA_VERSION}). Upgrade glmchat to open it"
                    if newer
                    else f"older than this glmchat's ({SCHEMA_VERSION}), and it is read-only, so "
                    f"it cannot be upgraded. Make it writable and run glmchat once"
                )
            )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise translate_error(path, exc, "open") from exc
    return conn


def _check_header(path: Path) -> None:
    # SQLite treats some non-database files as empty databases until something is written;
    # checking the magic first guarantees such a file is reported, never overwritten.
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise translate_error(path, exc, "read") from exc
    if head and head != b"SQLite format 3\x00":
        raise StoreError(not_a_database_message(path))


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the pending migrations up to `target` in one transaction; returns the version."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= target:
        return target  # the common case takes no write lock
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for number in range(version, target):
            for statement in MIGRATIONS[number]:
                conn.execute(statement)
        if target > version:
            conn.execute(f"PRAGMA user_version = {int(target)}")
            version = target
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version


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
