"""The session store: schema and migrations, bad files, writes, search, recorder, export/import."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmchat.backend.events import Message, Usage
from glmchat.store import (
    SCHEMA_VERSION,
    SNIPPET_END,
    SNIPPET_START,
    AmbiguousIdError,
    Conversation,
    ImportFormatError,
    NotFoundError,
    SessionStore,
    StoredMessage,
    StoreError,
    StreamRecorder,
    import_file,
    parse_documents,
    to_document,
    to_json,
    to_markdown,
)
from glmchat.store.database import MIGRATIONS


@pytest.fixture(params=[True, False], ids=["fts5", "like"])
def any_store(request: pytest.FixtureRequest, db_path: Path) -> Iterator[SessionStore]:
    s = SessionStore(db_path, use_fts=request.param)
    yield s
    s.close()


def _conversation(
    store: SessionStore, prompt: str, answer: str, reasoning: str = "", **kw: object
) -> str:
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True, **kw)
    store.add_message(cid, "user", prompt)
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
    store.finish_assistant(mid, content=answer, reasoning=reasoning, status="complete")
    return cid


def _doc(cid: str, **overrides: object) -> dict:
    doc = {
        "format": "glmchat-conversation",
        "version": 1,
        "id": cid,
        "title": f"title {cid}",
        "created": "2026-01-01T00:00:00.000Z",
        "updated": "2026-01-01T00:00:00.000Z",
        "model": "glm-4.5",
        "provider": "zai",
        "thinking": True,
        "system_prompt": None,
        "messages": [{"role": "user", "content": "hello"}],
    }
    doc.update(overrides)
    return doc


# -- opening, schema, migrations ----------------------------------------------------------


def test_open_creates_dirs_wal_pragmas_and_current_version(store: SessionStore, db_path: Path):
    assert db_path.is_file()
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db_path.stat().st_mode & 0o077 == 0  # private


def test_v1_database_is_migrated_forward_keeping_its_data(db_path: Path):
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO conversations (id, title, created, updated, model, provider, thinking) "
        "VALUES ('0123456789ab', 'old one', '2025-01-01T00:00:00.000Z', "
        "'2025-01-01T00:00:00.000Z', 'glm-4.5', 'zai', 1)"
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, position, role, content, reasoning, status) "
        "VALUES ('0123456789ab', 0, 'user', 'tell me about zebras', '', 'complete')"
    )
    conn.commit()
    conn.close()

    with SessionStore(db_path) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        conv = store.get_conversation("0123")
        assert conv.title == "old one"
        assert conv.messages[0].content == "tell me about zebras"
        assert conv.messages[0].finish_reason is None  # a column added by migration 2
        # The search index is built over rows that predate it.
        assert [s.id for s in store.list_conversations(search="zebras")] == ["0123456789ab"]


def test_v2_database_with_its_search_index_gains_tool_rows_keeping_everything(db_path: Path):
    """A database as the release before tools made it (schema 2, FTS5 index and triggers in
    place): the messages table is rebuilt for the `tool` role; rows, ids and search survive,
    and the search triggers work again for new rows."""
    from glmchat.store.database import ensure_search_index, fts5_available, migrate

    if not fts5_available():
        pytest.skip("this SQLite has no FTS5")
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, target=2)
    ensure_search_index(conn, True)
    conn.execute(
        "INSERT INTO conversations (id, title, created, updated, model, provider, thinking) "
        "VALUES ('0123456789ab', 'old one', '2025-01-01T00:00:00.000Z', "
        "'2025-01-01T00:00:00.000Z', 'glm-4.5', 'zai', 1)"
    )
    conn.execute(
        "INSERT INTO messages (id, conversation_id, position, role, content, reasoning, status, "
        "finish_reason, timings) VALUES (41, '0123456789ab', 0, 'user', 'tell me about zebras', "
        "'', 'complete', NULL, NULL)"
    )
    conn.execute(
        "INSERT INTO messages (id, conversation_id, position, role, content, reasoning, status, "
        "finish_reason, usage) VALUES (42, '0123456789ab', 1, 'assistant', 'stripes', "
        "'hmm okapis', 'complete', 'stop', '{\"prompt_tokens\": 5}')"
    )
    conn.close()

    with SessionStore(db_path) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        conv = store.get_conversation("0123")
        assert [(m.id, m.role, m.content) for m in conv.messages] == [
            (41, "user", "tell me about zebras"),
            (42, "assistant", "stripes"),
        ]
        assert conv.messages[1].usage == {"prompt_tokens": 5}
        assert conv.messages[1].finish_reason == "stop" and conv.messages[1].tool_calls is None
        assert [s.id for s in store.list_conversations(search="stripes")] == ["0123456789ab"]
        store.add_tool_result(
            "0123456789ab",
            tool_call_id="call_1",
            content="a zebra result",
            record={"id": "call_1", "name": "lookup", "arguments": "{}", "status": "ok"},
        )
        assert [s.id for s in store.list_conversations(search="result")] == ["0123456789ab"]
        tool = store.get_conversation("0123").messages[-1]
        assert (tool.role, tool.tool_call_id, tool.tool_calls[0]["name"]) == (
            "tool",
            "call_1",
            "lookup",
        )


def test_newer_schema_is_refused_and_left_untouched(db_path: Path):
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()

    with pytest.raises(StoreError) as info:
        SessionStore(db_path)
    message = str(info.value)
    assert str(db_path) in message and "upgrade" in message.lower()
    assert "\n" not in message
    assert db_path.read_bytes() == before


@pytest.mark.parametrize(
    "content",
    [b"these are my notes, not a database\n" * 20, os.urandom(8192), b"SQLite format 2\x00junk"],
    ids=["text", "random", "almost"],
)
def test_a_file_that_is_not_a_database_is_named_and_untouched(db_path: Path, content: bytes):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        SessionStore(db_path)
    assert str(db_path) in str(info.value)
    assert "not a glmchat database" in str(info.value)
    assert db_path.read_bytes() == content
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["glmchat.db"]


def test_a_directory_in_place_of_the_database(db_path: Path):
    db_path.mkdir(parents=True)
    with pytest.raises(StoreError, match="is a directory"):
        SessionStore(db_path)


_READ_ONLY_CHILD = """
import sys
from pathlib import Path
from glmchat.store import SessionStore, StoreError
try:
    store = SessionStore(Path(sys.argv[1]))
    cid = store.create_conversation(model="m", provider="p", thinking=False)
except StoreError as exc:
    print(exc)
    sys.exit(3)
print("opened")
"""


def _as_unprivileged(argv: list[str]) -> list[str]:
    # Root ignores directory permissions; dropping CAP_DAC_OVERRIDE makes them apply again.
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a directory read-only")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", *argv]


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_read_only_directory_gives_a_clear_store_error(tmp_path: Path, existing: bool):
    data = tmp_path / "ro"
    data.mkdir()
    path = data / "glmchat.db"
    if existing:
        SessionStore(path).close()
    before = path.read_bytes() if existing else None
    data.chmod(0o555)
    try:
        result = subprocess.run(
            _as_unprivileged([sys.executable, "-c", _READ_ONLY_CHILD, str(path)]),
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        data.chmod(0o755)
    assert result.returncode == 3, result.stdout + result.stderr
    line = result.stdout.strip()
    assert str(path) in line and "\n" not in line
    assert "writable" in line or "read-only" in line
    if existing:
        assert path.read_bytes() == before
    else:
        assert not path.exists()


def test_disk_full_and_read_only_writes_raise_store_error(store: SessionStore, db_path: Path):
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # no room to grow: SQLITE_FULL
    with pytest.raises(StoreError) as info:
        store.add_message(cid, "user", "x" * 200_000)
    assert "disk is full" in str(info.value) and str(db_path) in str(info.value)
    store._conn.execute("PRAGMA max_page_count = 1073741823")

    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=False)
    store._conn.execute("PRAGMA query_only = ON")  # behaves like a read-only file
    with pytest.raises(StoreError, match="read-only") as info:
        store.finish_assistant(mid, content="answer", reasoning="", status="complete")
    assert str(db_path) in str(info.value)
    with pytest.raises(StoreError, match="read-only"):
        store.checkpoint(mid, "answer", "")
    store._conn.execute("PRAGMA query_only = OFF")
    # The failed transaction left nothing half-done: the store keeps working.
    store.finish_assistant(mid, content="answer", reasoning="", status="complete")
    assert store.get_conversation(cid).messages[-1].content == "answer"


def test_store_does_not_import_textual():
    code = "import sys, glmchat.store; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- conversations and messages ----------------------------------------------------------


def test_title_is_first_line_of_first_prompt_trimmed(store: SessionStore):
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
    assert store.get_conversation(cid).title is None
    store.add_message(cid, "system", "You are terse.")
    store.add_message(cid, "user", "\n\n   How do I use WAL mode?   \nSecond line\n")
    store.add_message(cid, "user", "A later prompt")
    assert store.get_conversation(cid).title == "How do I use WAL mode?"

    titled = store.create_conversation(model="m", provider="p", thinking=False, title="Mine")
    store.add_message(titled, "user", "something else")
    assert store.get_conversation(titled).title == "Mine"

    long = store.create_conversation(model="m", provider="p", thinking=False)
    store.add_message(long, "user", "word " * 200)
    title = store.get_conversation(long).title
    assert title.startswith("word word") and len(title) <= 200


def test_messages_keep_every_field(store: SessionStore):
    cid = store.create_conversation(
        model="glm-4.5-air", provider="openrouter", thinking=True, system_prompt="Be brief."
    )
    uid = store.add_message(cid, "user", "hi")
    mid = store.begin_assistant(cid, model="glm-4.5-air", provider="openrouter", thinking=True)
    row = store.get_message(mid)
    assert (row.status, row.content, row.finished) == ("partial", "", None) and row.started
    usage = Usage(prompt_tokens=5, completion_tokens=7, total_tokens=12, cached_tokens=1)
    store.finish_assistant(
        mid,
        content="hello",
        reasoning="greet back",
        status="complete",
        usage=usage,
        finish_reason="stop",
        timings={"total_seconds": 1.5},
    )
    conv = store.get_conversation(cid)
    assert (conv.model, conv.provider, conv.thinking, conv.system_prompt) == (
        "glm-4.5-air",
        "openrouter",
        True,
        "Be brief.",
    )
    user, answer = conv.messages
    assert (user.id, user.role, user.position, user.status) == (uid, "user", 0, "complete")
    assert answer.position == 1 and answer.id == mid
    assert answer.usage == usage.as_dict()
    assert answer.finish_reason == "stop" and answer.timings == {"total_seconds": 1.5}
    assert answer.reasoning == "greet back" and answer.thinking is True
    assert answer.started.endswith("Z") and answer.finished >= answer.started
    assert conv.updated >= conv.created
    with pytest.raises(ValueError):
        store.finish_assistant(mid, content="", reasoning="", status="done")


def test_history_skips_reasoning_system_and_empty_rows(store: SessionStore):
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
    store.add_message(cid, "system", "system text")
    store.add_message(cid, "user", "first")
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
    store.finish_assistant(mid, content="answer one", reasoning="SECRET", status="complete")
    store.add_message(cid, "user", "second")
    failed = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
    store.finish_assistant(failed, content="", reasoning="SECRET2", status="error", error="429")
    store.add_message(cid, "user", "third")
    cut = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
    store.checkpoint(cut, "half an ans", "SECRET3")  # crashed mid-stream: still partial

    history = store.history(cid)
    assert history == [
        Message("user", "first"),
        Message("assistant", "answer one"),
        Message("user", "second"),
        Message("user", "third"),
        Message("assistant", "half an ans"),
    ]
    assert not any("SECRET" in m.content for m in history)


def test_id_prefixes(store: SessionStore):
    store.insert_conversations(
        [parse_documents(json.dumps(_doc(cid)))[0] for cid in ("abc111", "abc222", "abd333")]
    )
    assert store.get_conversation("abd").id == "abd333"
    assert store.resolve_id("abc1") == "abc111"
    assert store.resolve_id("abc222") == "abc222"
    with pytest.raises(AmbiguousIdError) as info:
        store.get_conversation("abc")
    assert "abc111" in str(info.value) and isinstance(info.value, StoreError)
    for missing in ("zzz", "", "abc1112"):
        with pytest.raises(NotFoundError):
            store.get_conversation(missing)
    with pytest.raises(AmbiguousIdError):
        store.delete("ab")
    assert store.count_conversations() == 3


def test_list_most_recent_first_with_counts_and_limit(store: SessionStore):
    ids = []
    for i in range(5):
        ids.append(_conversation(store, f"prompt {i}", f"answer {i}"))
        time.sleep(0.002)  # timestamps have millisecond resolution
    store.add_message(ids[1], "user", "bump")  # the most recently active now
    listed = store.list_conversations()
    assert [s.id for s in listed] == [ids[1], ids[4], ids[3], ids[2], ids[0]]
    assert listed[0].message_count == 3 and listed[1].message_count == 2
    assert [s.id for s in store.list_conversations(limit=2)] == [ids[1], ids[4]]
    assert store.most_recent().id == ids[1]
    assert listed[0].as_dict()["messages"] == 3


def test_most_recent_of_an_empty_store(store: SessionStore):
    assert store.most_recent() is None
    assert store.list_conversations() == []


def test_update_rename_delete(store: SessionStore):
    cid = _conversation(store, "about otters", "otters are great")
    store.update_conversation(cid, model="glm-4.5-air", thinking=False, system_prompt="terse")
    conv = store.get_conversation(cid)
    assert (conv.model, conv.provider, conv.thinking, conv.system_prompt) == (
        "glm-4.5-air",
        "zai",
        False,
        "terse",
    )
    store.update_conversation(cid, system_prompt="")
    assert store.get_conversation(cid).system_prompt is None
    store.rename(cid[:5], "  Otter facts ")
    assert store.get_conversation(cid).title == "Otter facts"

    last = store.get_conversation(cid).messages[-1]
    store.delete_message(last.id)
    assert [m.role for m in store.get_conversation(cid).messages] == ["user"]

    store.delete(cid[:6])
    with pytest.raises(NotFoundError):
        store.get_conversation(cid)
    assert store._conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert store.list_conversations(search="otters") == []
    with pytest.raises(NotFoundError):
        store.add_message(cid, "user", "ghost")


# -- search -------------------------------------------------------------------------------


def test_fts_search_is_ranked_with_snippets(store: SessionStore):
    assert store.fts_enabled
    weak = _conversation(store, "a question about cooking", "use a pan; also a little sqlite")
    strong = _conversation(
        store, "sqlite in WAL mode", "sqlite WAL lets sqlite readers and sqlite writers coexist"
    )
    _conversation(store, "unrelated", "nothing here")
    found = store.list_conversations(search="sqlite")
    assert [s.id for s in found] == [strong, weak]
    assert f"{SNIPPET_START}sqlite{SNIPPET_END}" in found[1].snippet
    assert all(s.snippet and "\n" not in s.snippet for s in found)
    # All words required; the last may be a prefix (search as you type).
    assert [s.id for s in store.list_conversations(search="sqlite writ")] == [strong]
    assert store.list_conversations(search="sqlite zebra") == []
    assert [s.id for s in store.list_conversations(search="sqlite", limit=1)] == [strong]


def test_search_reasoning_only_when_asked(any_store: SessionStore):
    cid = _conversation(any_store, "plain prompt", "plain answer", reasoning="pondering quokkas")
    assert any_store.list_conversations(search="quokkas") == []
    found = any_store.list_conversations(search="quokkas", include_reasoning=True)
    assert [s.id for s in found] == [cid]
    assert "quokkas" in found[0].snippet


@pytest.mark.parametrize(
    "query", ['"', "AND OR NOT", "(", "title:x", "NEAR(a b)", "*", "c++", "x' OR 1=1 --", "%_"]
)
def test_search_syntax_never_breaks(any_store: SessionStore, query: str):
    _conversation(any_store, "c++ templates", "NEAR and AND are words too")
    assert isinstance(any_store.list_conversations(search=query), list)


def test_like_fallback_without_fts5(db_path: Path):
    with SessionStore(db_path, use_fts=False) as store:
        assert not store.fts_enabled
        old = _conversation(store, "tuning postgres", "vacuum often")
        new = _conversation(store, "sqlite tips", "postgres is different; 100% sure")
        # Matching titles first, then the most recent: the rule with FTS5 too.
        assert [s.id for s in store.list_conversations(search="postgres")] == [old, new]
        assert [s.id for s in store.list_conversations(search="different")] == [new]
        assert [s.id for s in store.list_conversations(search="postgres vacuum")] == [old]
        hit = store.list_conversations(search="100%")[0]
        assert hit.id == new and f"{SNIPPET_START}100%{SNIPPET_END}" in hit.snippet
        assert store.list_conversations(search="1_0") == []  # _ is literal, not a wildcard
        assert store.list_conversations(search="TUNING")[0].snippet.startswith(SNIPPET_START)


def test_search_index_survives_a_spell_without_fts5(db_path: Path):
    with SessionStore(db_path) as store:
        first = _conversation(store, "about herons", "herons fish")
    with SessionStore(db_path, use_fts=False) as store:
        # The FTS triggers are gone, so writes work where FTS5 is missing.
        second = _conversation(store, "about egrets", "egrets too")
        assert [s.id for s in store.list_conversations(search="egrets")] == [second]
    with SessionStore(db_path) as store:
        assert store.fts_enabled
        assert [s.id for s in store.list_conversations(search="egrets")] == [second]
        assert [s.id for s in store.list_conversations(search="herons")] == [first]


# -- StreamRecorder -----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _count_updates(store: SessionStore) -> list[int]:
    """Counts rows UPDATEd in messages, by a temporary trigger calling back into Python."""
    seen: list[int] = []
    store._conn.create_function("count_update", 1, lambda mid: seen.append(mid))
    store._conn.execute(
        "CREATE TEMP TRIGGER count_updates AFTER UPDATE ON messages "
        "BEGIN SELECT count_update(new.id); END"
    )
    return seen


def test_recorder_checkpoints_at_most_once_per_interval(store: SessionStore):
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
    clock = FakeClock()
    recorder = StreamRecorder(store, mid, interval=1.0, clock=clock)
    updates = _count_updates(store)

    reasoning = [f"r{i} " for i in range(200)]
    content = [f"c{i} " for i in range(800)]
    for piece in reasoning:  # 200 deltas over 1 simulated second
        recorder.add_reasoning(piece)
        clock.now += 0.005
    for piece in content:  # 800 deltas over 4 simulated seconds
        recorder.add_content(piece)
        clock.now += 0.005
    assert 4 <= recorder.checkpoints <= 5
    assert len(updates) == recorder.checkpoints  # one UPDATE per checkpoint, none per token

    saved = store.get_message(mid)
    assert saved.status == "partial"
    assert saved.reasoning == "".join(reasoning)
    assert "".join(content).startswith(saved.content)
    # Never more than one interval (200 deltas here) behind.
    assert len("".join(content)) - len(saved.content) <= len("".join(content[-200:]))

    recorder.finish(status="complete", usage={"total_tokens": 9}, finish_reason="stop")
    final = store.get_message(mid)
    assert final.status == "complete" and final.finish_reason == "stop"
    assert final.content == "".join(content) == recorder.content
    assert final.reasoning == "".join(reasoning) == recorder.reasoning
    assert final.usage == {"total_tokens": 9}
    assert final.timings["thinking_seconds"] == pytest.approx(1.0)
    assert final.timings["total_seconds"] == pytest.approx(5.0)


def test_recorder_is_quiet_within_an_interval_and_tick_flushes(store: SessionStore):
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=False)
    clock = FakeClock()
    recorder = StreamRecorder(store, mid, interval=1.0, clock=clock)
    updates = _count_updates(store)
    for _ in range(500):
        recorder.add_content("x")
        recorder.add_content("")
    assert updates == [] and not recorder.tick()
    clock.now += 1.0
    assert recorder.tick() and store.get_message(mid).content == "x" * 500
    assert not recorder.tick()  # nothing new to save
    assert len(updates) == 1
    recorder.finish(status="cancelled")
    assert store.get_message(mid).status == "cancelled"


def test_recorder_error_keeps_partial_text(store: SessionStore):
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=False)
    recorder = StreamRecorder(store, mid, clock=FakeClock())
    recorder.add_content("half")
    recorder.finish(status="error", error="network: connection reset")
    row = store.get_message(mid)
    assert (row.status, row.content, row.error) == ("error", "half", "network: connection reset")


# -- export and import --------------------------------------------------------------------


def _rich_conversation(store: SessionStore) -> str:
    cid = store.create_conversation(
        model="glm-4.5", provider="zai", thinking=True, system_prompt="Answer in French."
    )
    store.add_message(cid, "user", "Bonjour? ünïcødé ✓")
    for status, error in (
        ("complete", None),
        ("partial", None),
        ("cancelled", None),
        ("error", "429: rate limited"),
    ):
        mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
        store.finish_assistant(
            mid,
            content=f"answer {status}",
            reasoning=f"thinking {status}\n\nwith a blank line",
            status=status,
            error=error,
            usage={"prompt_tokens": 3} if status == "complete" else None,
            finish_reason="stop" if status == "complete" else None,
        )
    return cid


def test_json_export_import_round_trips(tmp_path: Path, store: SessionStore):
    cid = _rich_conversation(store)
    original = store.get_conversation(cid)
    exported = to_json(original)
    doc = json.loads(exported)
    assert doc["format"] == "glmchat-conversation" and doc["version"] == 2
    file = tmp_path / "export.json"
    file.write_text(exported, encoding="utf-8")

    with SessionStore(tmp_path / "other.db") as other:
        assert import_file(other, file) == [(cid, cid)]
        copy = other.get_conversation(cid)
        assert to_document(copy) == doc
        assert [m.status for m in copy.messages] == [
            "complete",
            "complete",
            "partial",
            "cancelled",
            "error",
        ]
        assert copy.messages[1].reasoning == "thinking complete\n\nwith a blank line"

    store.delete(cid)
    assert import_file(store, file) == [(cid, cid)]
    assert to_document(store.get_conversation(cid)) == doc


def test_import_of_an_existing_id_gets_a_new_id(tmp_path: Path, store: SessionStore):
    cid = _conversation(store, "keep me", "kept")
    file = tmp_path / "export.json"
    file.write_text(to_json(store.get_conversation(cid)))
    before = to_document(store.get_conversation(cid))

    [(original, stored)] = import_file(store, file)
    assert original == cid and stored != cid
    assert to_document(store.get_conversation(cid)) == before  # not overwritten
    copy = to_document(store.get_conversation(stored))
    assert {**copy, "id": cid} == before
    assert store.count_conversations() == 2


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        "42",
        json.dumps({"hello": "world"}),
        json.dumps(_doc("a1", version=99)),
        json.dumps(_doc("a1", id=None)),
        json.dumps(_doc("a1", messages="nope")),
        json.dumps([_doc("a1"), _doc("a2", messages=[{"role": "robot", "content": "x"}])]),
        json.dumps([_doc("a1"), _doc("a2", messages=[{"role": "user", "content": 5}])]),
        json.dumps(
            [_doc("a1"), _doc("a2", messages=[{"role": "user", "content": "x", "status": "?"}])]
        ),
        json.dumps([_doc("a1"), _doc("a2", thinking="yes")]),
        json.dumps(
            [_doc("a1"), _doc("a2", messages=[{"role": "user", "content": "x", "usage": 3}])]
        ),
    ],
)
def test_malformed_import_imports_nothing(tmp_path: Path, store: SessionStore, text: str):
    file = tmp_path / "bad.json"
    file.write_text(text)
    with pytest.raises(ImportFormatError) as info:
        import_file(store, file)
    message = str(info.value)
    assert str(file) in message and "nothing imported" in message and "\n" not in message
    assert store.count_conversations() == 0


def test_import_is_one_transaction_even_when_the_database_fails(
    tmp_path: Path, store: SessionStore
):
    docs = [parse_documents(json.dumps(_doc(f"c{i}")))[0] for i in range(3)]
    bad = Conversation(
        **{**docs[2].__dict__, "messages": (StoredMessage(0, "c2", 0, "alien", "x"),)}
    )
    with pytest.raises(StoreError):
        store.insert_conversations([docs[0], docs[1], bad])  # the CHECK constraint fails
    assert store.count_conversations() == 0


def test_import_of_an_unreadable_file(tmp_path: Path, store: SessionStore):
    with pytest.raises(StoreError, match="cannot read"):
        import_file(store, tmp_path / "missing.json")


def test_markdown_export(store: SessionStore):
    cid = _rich_conversation(store)
    text = to_markdown(store.get_conversation(cid))
    assert text.startswith("# Bonjour? ünïcødé ✓\n")
    assert "zai/glm-4.5 (thinking on)" in text and f"ID: {cid}" in text
    assert "Created: 20" in text and "UTC" in text
    assert "## System prompt\n\nAnswer in French." in text
    assert text.count("<details><summary>Thinking</summary>") == 4
    assert "thinking complete\n\nwith a blank line\n\n</details>\n\nanswer complete" in text
    assert "*cancelled" in text and "429: rate limited" in text and "*partial" in text
    assert "*cancelled: stopped before its end (escape, Ctrl-C, or glmchat closed)*" in text
    assert "by the user" not in text  # a closed terminal stops an answer too


def test_search_scores_only_the_newest_matches(store: SessionStore, monkeypatch):
    # Bounded work for a word found everywhere: only the newest RANKED_HITS hits are scored.
    import glmchat.store.search as search

    ids = [_conversation(store, f"ibis number {i}", "nothing") for i in range(3)]
    monkeypatch.setattr(search, "RANKED_HITS", 2)
    assert {s.id for s in store.list_conversations(search="ibis")} == set(ids[1:])


# -- the row shape, declared once ------------------------------------------------------


def _every_field_set(conversation_id: str, position: int) -> StoredMessage:
    """A message whose every field differs from its default, so a field that some path forgets
    (insert, select, export, import) shows up as a difference."""
    return StoredMessage(
        id=0,
        conversation_id=conversation_id,
        position=position,
        role="assistant",
        content="answer ✓",
        reasoning="thought",
        status="partial",
        error="cut off",
        model="glm-4.5-air",
        provider="openrouter",
        thinking=False,
        usage={"prompt_tokens": 3, "cost": 0.5},
        finish_reason="length",
        timings={"total_seconds": 1.25},
        started="2026-01-15T09:30:00.000Z",
        finished="2026-01-15T09:30:01.000Z",
    )


def test_every_message_field_round_trips_through_the_store_and_the_export(store: SessionStore):
    from dataclasses import fields, replace

    original = Conversation(
        id="c0ffee",
        title="all fields",
        created="2026-01-15T09:30:00.000Z",
        updated="2026-01-15T09:30:01.000Z",
        model="glm-4.5",
        provider="zai",
        thinking=True,
        system_prompt="be brief",
        messages=(_every_field_set("c0ffee", 0),),
    )
    [(_, stored_id)] = store.insert_conversations([original])
    loaded = store.get_conversation(stored_id)
    [message] = loaded.messages
    # No leaf given: the conversation opens on its newest message, not empty.
    assert loaded.current_leaf == message.id
    assert replace(loaded, messages=(), current_leaf=None) == replace(original, messages=())
    assert replace(message, id=0) == original.messages[0]
    assert store.get_message(message.id) == message
    # The export writes every field but the message's place (its `id` and `parent` are the
    # document's own numbers), and the import reads them back.
    exported = to_document(loaded)["messages"][0]
    assert set(exported) == {f.name for f in fields(StoredMessage)} - {
        "conversation_id",
        "position",
        "parent_id",
    } | {"parent"}
    [again] = parse_documents(to_json(loaded))
    assert replace(again.messages[0], id=message.id) == message
    # Changing a message or a conversation goes through the same column conversions.
    store.finish_assistant(
        message.id, content="x", reasoning="", status="complete", usage={"a": 1}, timings=None
    )
    finished = store.get_message(message.id)
    assert finished.usage == {"a": 1} and finished.timings is None and finished.status == "complete"
    store.update_conversation(stored_id, thinking=False)
    assert store.get_conversation(stored_id).thinking is False
    assert store.list_conversations()[0].thinking is False


def test_the_import_knows_every_kind_of_message_field():
    # A new StoredMessage field of a new kind must be taught to the import, not dropped by it.
    from glmchat.store import export, importing

    for f in export.EXPORTED_FIELDS:
        assert (
            f.name in importing._TIMESTAMPS
            or str(f.type) in importing._CHOICES
            or str(f.type) in importing._JSON_TYPES
        ), f.name


def test_roles_and_statuses_are_the_schema_s(store: SessionStore):
    from glmchat.store import ROLES, STATUSES

    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
    for role in ROLES:
        store.add_message(cid, role, "x")
    for status in STATUSES:
        store.add_message(cid, "user", "x", status=status)
    with pytest.raises(ValueError, match="role must be one of system, user, assistant, tool"):
        store.add_message(cid, "robot", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status must be one of"):
        store.add_message(cid, "user", "x", status="done")  # type: ignore[arg-type]
