"""One open glmchat.db: its connection, its lock, and the transactions every query runs in."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Self

from glmchat.store.database import AccessMode, access_mode, connect, translate_error
from glmchat.store.search_index import (
    ensure_search_index,
    ensure_substring_index,
    fts5_available,
    search_state,
    trigram_available,
    usable_state,
)


class StoreConnection:
    """The database file behind a SessionStore. Every write is one short BEGIN IMMEDIATE
    transaction, so a TUI and an `ask` can share the database; every failure is a StoreError
    naming the file."""

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
                self.fts_enabled = wanted and usable_state(search_state(self._conn))
                self.substring_enabled = self.fts_enabled and usable_state(
                    search_state(self._conn, "fts_substring")
                )
            else:
                self.fts_enabled = ensure_search_index(self._conn, wanted)
                # Checked on every open, like FTS5: a file may move to an older SQLite.
                trigram = self.fts_enabled and trigram_available()
                self.substring_enabled = ensure_substring_index(self._conn, trigram)
        except sqlite3.Error as exc:
            self._conn.close()
            raise translate_error(self.path, exc, "open") from exc

    def close(self) -> None:
        with self._lock:
            with suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")  # keeps query plans good; cheap
            with suppress(sqlite3.Error):
                self._conn.close()

    def __enter__(self) -> Self:
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
