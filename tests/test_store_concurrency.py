"""Two processes on one database, several creating it at once, and a process killed
mid-stream."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from glmchat.store import SessionStore, StoreError, database

_WRITER = """
import sys, time
from pathlib import Path
from glmchat.store import SessionStore

path, shared, name, start_at, count = sys.argv[1:6]
store = SessionStore(Path(path))
own = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
while time.time() < float(start_at):  # both writers start together
    time.sleep(0.001)
for i in range(int(count)):
    store.add_message(shared, "user", f"{name} {i}")
    mid = store.begin_assistant(own, model="glm-4.5", provider="zai", thinking=False)
    store.checkpoint(mid, f"partial {name} {i}", "")
    store.finish_assistant(mid, content=f"answer {name} {i}", reasoning="", status="complete")
    if i % 50 == 0:
        store.list_conversations(search=name)  # reads interleave with the other's writes
store.close()
print(own)
"""


def test_two_processes_write_at_once_without_errors(tmp_path: Path):
    path = tmp_path / "glmchat.db"
    count = 300
    with SessionStore(path) as store:
        shared = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
    start_at = time.time() + 1.0
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), shared, name, str(start_at), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "beta")
    ]
    with SessionStore(path) as store:
        # A third connection reading the whole time, like a TUI's session picker.
        while any(w.poll() is None for w in writers):
            store.list_conversations(limit=10)
            store.get_conversation(shared)
            time.sleep(0.01)
        outputs = [w.communicate(timeout=60) for w in writers]
        for writer, (_out, err) in zip(writers, outputs, strict=True):
            assert writer.returncode == 0 and err == "", err

        shared_conv = store.get_conversation(shared)
        assert [m.position for m in shared_conv.messages] == list(range(2 * count))
        for name in ("alpha", "beta"):
            texts = [m.content for m in shared_conv.messages if m.content.startswith(name)]
            assert texts == [f"{name} {i}" for i in range(count)]  # each writer's own order
        for (out, _), name in zip(outputs, ("alpha", "beta"), strict=True):
            own = store.get_conversation(out.strip())
            assert [m.content for m in own.messages] == [f"answer {name} {i}" for i in range(count)]
            assert {m.status for m in own.messages} == {"complete"}
        check = store._conn.execute("PRAGMA integrity_check").fetchone()[0]
        assert check == "ok"


def _holding_a_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's connection to a database not yet in WAL mode, in the middle of a
    write (as a glmchat creating the same new database is, while it migrates)."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE held (x)")
    return other


def test_opening_a_new_database_waits_while_another_process_writes_it(tmp_path: Path):
    # SQLite refuses the switch to WAL at once, without its busy handler, while another
    # connection holds a write lock: two browser tabs of `glmchat serve` starting together
    # had one app fail with "locked for over 10 s" in no time at all.
    path = tmp_path / "glmchat.db"
    other = _holding_a_write_lock(path)
    release = threading.Timer(0.3, other.execute, ("COMMIT",))
    release.start()
    try:
        with SessionStore(path) as store:
            assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert store.list_conversations() == []
    finally:
        release.join()
        other.close()


def test_a_lock_held_past_the_busy_timeout_is_reported_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(database, "BUSY_TIMEOUT", 0.2)
    path = tmp_path / "glmchat.db"
    other = _holding_a_write_lock(path)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            SessionStore(path)
        assert time.monotonic() - started >= 0.2  # it waited, as the message says
    finally:
        other.close()
    message = str(caught.value)
    assert message == (
        f"cannot open {path}: another process has held it locked for over 0.2 s. "
        "Close other glmchat instances and try again"
    )


_OPENER = """
import sys, time
from pathlib import Path
from glmchat.store import SessionStore

path, start_at = sys.argv[1:3]
while time.time() < float(start_at):
    time.sleep(0.001)
with SessionStore(Path(path)) as store:
    store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
"""


def test_several_processes_create_one_database_together(tmp_path: Path):
    path = tmp_path / "data" / "glmchat.db"
    start_at = time.time() + 1.0
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(path), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for opener in openers:
        _out, err = opener.communicate(timeout=60)
        assert opener.returncode == 0 and err == "", err
    with SessionStore(path) as store:
        assert len(store.list_conversations()) == 4


_STREAMER = """
import sys, time
from pathlib import Path
from glmchat.store import SessionStore, StreamRecorder

store = SessionStore(Path(sys.argv[1]))
cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
store.add_message(cid, "user", "count for me")
mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
recorder = StreamRecorder(store, mid)  # the real clock and the default 1 s interval
recorder.add_reasoning("let me count")
stop = time.monotonic() + float(sys.argv[2])
i = 0
while time.monotonic() < stop:
    recorder.add_content(f"{i:05d} ")  # 6 characters every 10 ms
    i += 1
    time.sleep(0.01)
print(f"MARK {mid} {len(recorder.content)} {recorder.checkpoints}", flush=True)
time.sleep(60)  # killed here, never finishing the answer
"""


def test_killed_mid_stream_leaves_partial_row_missing_at_most_a_second(tmp_path: Path):
    path = tmp_path / "glmchat.db"
    SessionStore(path).close()
    child = subprocess.Popen(
        [sys.executable, "-c", _STREAMER, str(path), "2.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
        stderr = child.stderr.read()
        child.stderr.close()
    assert line.startswith("MARK "), stderr
    _, mid, fed, checkpoints = line.split()
    fed = int(fed)
    assert child.returncode == -signal.SIGKILL and int(checkpoints) >= 2

    with SessionStore(path) as store:
        row = store.get_message(int(mid))
    assert row.status == "partial" and row.finished is None
    assert row.reasoning == "let me count"
    expected = "".join(f"{i:05d} " for i in range(fed // 6))
    assert expected.startswith(row.content) and row.content
    # At most one second of text (100 deltas of 6 characters), plus a little for scheduling.
    assert fed - len(row.content) <= 110 * 6
