"""Answers in flight (streaming, or left so by a crash) stay out of the search indexes: saving a
growing answer once a second must not re-index all of it each time. Search still finds them,
by a scan of those few rows; once finished they are indexed like any message. The indexes
stay exactly what a rebuild from the settled messages gives, whatever the order of writes,
and a database indexed the old way (every message) is brought to that on open."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from glmchat.store import SessionStore
from glmchat.store.search_index import (
    IN_FLIGHT,
    LEGACY_READY,
    READY,
    fts5_available,
    search_state,
    trigram_available,
)

pytestmark = pytest.mark.skipif(
    not (fts5_available() and trigram_available()), reason="this SQLite has no FTS5 trigram"
)
MODEL = {"model": "glm-4.5", "provider": "zai", "thinking": True}
INDEXES = ("messages_fts", "messages_trigram")


def _streaming(store: SessionStore, prompt: str, text: str) -> tuple[str, int]:
    cid = store.create_conversation(**MODEL)
    store.add_message(cid, "user", prompt)
    mid = store.begin_assistant(cid, **MODEL)
    store.checkpoint(mid, text, "thinking about " + text)
    return cid, mid


def _found(store: SessionStore, query: str, **kw: bool) -> list[tuple[str, int | None]]:
    return [(s.id, s.hit_message_id) for s in store.list_conversations(search=query, **kw)]


def _indexed(conn: sqlite3.Connection, index: str, word: str) -> list[int]:
    """The messages `index` holds `word` in (the content column)."""
    if index == "messages_fts":
        rows = conn.execute("SELECT rowid FROM messages_fts(?)", (f'content : "{word}"',))
    else:  # detail=none: no phrases, but LIKE
        rows = conn.execute(
            "SELECT rowid FROM messages_trigram WHERE content LIKE ?", (f"%{word}%",)
        )
    return [r[0] for r in rows]


def _traced(store: SessionStore, write: Callable[[], None]) -> list[str]:
    """The statements SQLite ran for `write`, those of the FTS5 tables' own included."""
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    try:
        write()
    finally:
        store._conn.set_trace_callback(None)
    return statements


def test_a_saved_streaming_answer_touches_no_index(store: SessionStore) -> None:
    _cid, mid = _streaming(store, "hello", "")
    for n in range(1, 6):
        saved = _traced(store, lambda n=n: store.checkpoint(mid, "zebra crossing " * n * 50, ""))
        assert any(s.startswith("UPDATE messages") for s in saved)
        assert not [s for s in saved if "_fts" in s or "trigram" in s], saved
    for index in INDEXES:
        assert _indexed(store._conn, index, "zebra") == []
    # The trace shows an index's writes when there are some: the finished answer's.
    finished = _traced(
        store, lambda: store.finish_assistant(mid, content="zebra", reasoning="", status="complete")
    )
    assert [s for s in finished if "messages_fts_" in s]
    assert [s for s in finished if "messages_trigram_" in s]


@pytest.mark.parametrize("query", ["zebra", "zeb", "crossing zebra", "斑马线"])
def test_an_answer_in_flight_is_found_then_indexed_once_finished(
    store: SessionStore, query: str
) -> None:
    other = store.create_conversation(**MODEL, title="unrelated")
    store.add_message(other, "user", "nothing here")
    cid, mid = _streaming(store, "hello", "a zebra crossing, 斑马线, in the rain")
    assert _found(store, query) == [(cid, mid)]
    assert store.list_conversations(search=query)[0].snippet  # a snippet around the hit

    store.finish_assistant(
        mid, content="a zebra crossing, 斑马线, done", reasoning="", status="complete"
    )
    assert _found(store, query) == [(cid, mid)]  # once: from the index, not the scan too
    index = "messages_trigram" if query == "斑马线" else "messages_fts"
    assert _indexed(store._conn, index, "斑马线" if query == "斑马线" else "zebra") == [mid]


def test_a_crashed_answer_and_its_reasoning_are_still_found(db_path: Path) -> None:
    with SessionStore(db_path) as first:
        cid = first.create_conversation(**MODEL)
        first.add_message(cid, "user", "hi")
        mid = first.begin_assistant(cid, **MODEL)
        first.checkpoint(mid, "half an answer about pelicans", "weighing flamingos")
    # The process died mid-answer: the row stays partial, never finished.
    with SessionStore(db_path) as again:
        assert _found(again, "pelicans") == [(cid, mid)]
        assert _found(again, "flamingos") == []
        assert _found(again, "flamingos", include_reasoning=True) == [(cid, mid)]
        # A final 'partial' (the stream was cut) is settled: indexed like any other.
        again.finish_assistant(
            mid, content="half an answer about pelicans", reasoning="", status="partial"
        )
        assert _indexed(again._conn, "messages_fts", "pelicans") == [mid]


def _vocabulary(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every term of both indexes with where it is: the word index's every occurrence, the
    trigram index's (detail=none) documents per term."""
    for name, index, kind in (
        ("words", "messages_fts", "instance"),
        ("trigrams", "messages_trigram", "row"),
    ):
        vocabulary = f"fts5vocab(main, {index}, {kind})"
        conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.v_{name} USING {vocabulary}")
    return {
        "words": conn.execute("SELECT * FROM temp.v_words ORDER BY 1, 2, 3, 4").fetchall(),
        "trigrams": conn.execute("SELECT * FROM temp.v_trigrams ORDER BY 1").fetchall(),
    }


def _rebuilt(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """The vocabulary a rebuild from the settled messages gives (in a transaction rolled
    back: the database is left as it was)."""
    conn.execute("BEGIN")
    try:
        for index in INDEXES:
            conn.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
            conn.execute(
                f"INSERT INTO {index} ({index}, rowid, content, reasoning) SELECT 'delete', "
                f"m.id, m.content, m.reasoning FROM messages m WHERE {IN_FLIGHT.format(row='m')}"
            )
        return _vocabulary(conn)
    finally:
        conn.execute("ROLLBACK")


def test_the_indexes_stay_what_a_rebuild_gives_whatever_the_writes(store: SessionStore) -> None:
    words = ["alpha", "beta", "gamma", "delta", "汉字测试", "emoji🙂text", "omega"]
    rng = random.Random(7)
    flying: list[int] = []
    conversations: list[str] = []
    for _ in range(120):
        action = rng.choice(
            ["new", "begin", "begin", "checkpoint", "checkpoint", "finish", "delete", "fork", "cut"]
        )
        text = " ".join(rng.choices(words, k=rng.randint(0, 12)))
        if action == "new" or not conversations:
            cid = store.create_conversation(**MODEL, title=text or None)
            store.add_message(cid, "user", text)
            conversations.append(cid)
        elif action == "begin":
            flying.append(store.begin_assistant(rng.choice(conversations), **MODEL))
        elif action == "checkpoint" and flying:
            store.checkpoint(rng.choice(flying), text, text[::-1])
        elif action == "finish" and flying:
            mid = flying.pop(rng.randrange(len(flying)))
            status = rng.choice(["complete", "partial", "cancelled", "error"])
            store.finish_assistant(mid, content=text, reasoning="", status=status)  # type: ignore[arg-type]
        elif action == "delete" and len(conversations) > 1:
            gone = conversations.pop(rng.randrange(len(conversations)))
            store.delete(gone)
            alive = {r[0] for r in store._conn.execute("SELECT id FROM messages")}
            flying = [mid for mid in flying if mid in alive]
        elif action == "fork":
            conversations.append(store.fork(rng.choice(conversations)))
        elif action == "cut" and flying:
            store.delete_message(flying.pop())
    assert flying, "the sequence should leave answers in flight"
    assert _vocabulary(store._conn) == _rebuilt(store._conn)


_LEGACY_TRIGGERS = """
    CREATE TRIGGER {index}_insert AFTER INSERT ON messages BEGIN
        INSERT INTO {index} (rowid, content, reasoning) VALUES (new.id, new.content, new.reasoning);
    END;
    CREATE TRIGGER {index}_delete AFTER DELETE ON messages BEGIN
        INSERT INTO {index} ({index}, rowid, content, reasoning)
        VALUES ('delete', old.id, old.content, old.reasoning);
    END;
    CREATE TRIGGER {index}_update AFTER UPDATE OF content, reasoning ON messages BEGIN
        INSERT INTO {index} ({index}, rowid, content, reasoning)
        VALUES ('delete', old.id, old.content, old.reasoning);
        INSERT INTO {index} (rowid, content, reasoning) VALUES (new.id, new.content, new.reasoning);
    END;
"""


def test_a_database_indexed_the_old_way_is_brought_up_to_date_on_open(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        conn = store._conn
        script = "".join(  # the triggers of before: every message indexed
            f"DROP TRIGGER {index}_{event};"
            for index in INDEXES
            for event in ("insert", "delete", "update")
        )
        script += "".join(_LEGACY_TRIGGERS.format(index=index) for index in INDEXES)
        conn.executescript(f"BEGIN; {script} COMMIT;")
        conn.execute("UPDATE store_meta SET value = ? WHERE key LIKE 'fts%'", (LEGACY_READY,))
        done = store.create_conversation(**MODEL)
        store.add_message(done, "user", "old question")
        mid = store.begin_assistant(done, **MODEL)
        store.finish_assistant(mid, content="an otter answer", reasoning="", status="complete")
        cid, flying = _streaming(store, "hi", "a streaming walrus")
        assert _indexed(conn, "messages_fts", "walrus") == [flying]  # the old way

    with SessionStore(db_path, mode="ro") as reader:  # read-only: searched as it is
        assert _found(reader, "walrus") == [(cid, flying)]
        assert _found(reader, "otter") == [(done, mid)]

    with SessionStore(db_path) as store:
        conn = store._conn
        assert search_state(conn) == READY and search_state(conn, "fts_substring") == READY
        assert _indexed(conn, "messages_fts", "walrus") == []
        assert _indexed(conn, "messages_fts", "otter") == [mid]
        assert _vocabulary(conn) == _rebuilt(conn)
        assert _found(store, "walrus") == [(cid, flying)]
        store.finish_assistant(flying, content="a finished walrus", reasoning="", status="complete")
        assert _indexed(conn, "messages_fts", "walrus") == [flying]
        assert _vocabulary(conn) == _rebuilt(conn)


def test_an_index_rebuilt_on_open_leaves_answers_in_flight_out(db_path: Path) -> None:
    with SessionStore(db_path, use_fts=False) as plain:  # no index kept: it goes stale
        cid, flying = _streaming(plain, "hi", "a streaming narwhal")
        done = plain.create_conversation(**MODEL)
        plain.add_message(done, "user", "a settled narwhal question")
    with SessionStore(db_path) as store:  # FTS5 again: rebuilt
        assert _indexed(store._conn, "messages_fts", "narwhal") == [
            r[0]
            for r in store._conn.execute(
                "SELECT id FROM messages WHERE role = 'user' AND content LIKE '%narwhal%'"
            )
        ]
        assert _vocabulary(store._conn) == _rebuilt(store._conn)
        assert {c for c, _ in _found(store, "narwhal")} == {cid, done}
