"""Opening glmchat.db: connection settings, access modes, and the store's errors."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Literal

from glmchat.errors import GlmchatError

# The `X as X` imports are re-exports: they lived here before migrations.py and search_index.py.
from glmchat.store.migrations import MIGRATIONS as MIGRATIONS
from glmchat.store.migrations import SCHEMA_VERSION as SCHEMA_VERSION
from glmchat.store.migrations import migrate as migrate
from glmchat.store.search_index import ensure_search_index as ensure_search_index
from glmchat.store.search_index import fts5_available as fts5_available
from glmchat.store.search_index import search_state as search_state

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
    if not existed:
        # Private from the start: SQLite gives the -wal and -shm files, which hold
        # conversation text too, the mode of the database file (else 0644 under umask 022).
        with contextlib.suppress(OSError):  # SQLite then says what is wrong, its own way
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
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
        _use_wal(conn)
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


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode, waiting up to BUSY_TIMEOUT for other processes.

    WAL is a property of the file: once set, there is nothing to do and no lock to take. The
    switch itself needs the whole database, and SQLite answers "database is locked" at once,
    without its busy handler, when another process holds a write lock then (several glmchat
    processes creating a new database together: two browser tabs of `glmchat serve`, two
    terminals opened at login): so it is retried here until the busy timeout."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT
    pause = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
            left = deadline - time.monotonic()
            if not busy or left <= 0:
                raise
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.1)


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
