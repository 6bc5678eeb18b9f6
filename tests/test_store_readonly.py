"""A database glmchat may not write is opened read-only: reading and exporting work, saving is off.

The store decides from the file's and its directory's permissions (`access_mode`). Tests may run
as root, for whom permission bits prevent nothing; so most tests here make `os.access` report the
data directory (or the file) as read-only, and everything after that is real: SQLite opens the
file with `mode=ro` or `immutable=1` and itself refuses every write. One test uses real
permissions and runs when not root.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from glmchat import paths
from glmchat.cli import main
from glmchat.store import SessionStore, StoreError
from glmchat.store.database import access_mode, migrate
from tests.wire_server import WireServer, fixture_reply


def seed() -> str:
    with SessionStore(paths.database_path()) as store:
        cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
        store.add_message(cid, "user", "first question")
        mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=False)
        store.finish_assistant(mid, content="first answer", reasoning="", status="complete")
    return cid


def deny_writes(monkeypatch: pytest.MonkeyPatch, *targets: Path) -> None:
    """`os.access(target, W_OK)` is False for the given paths, as for a user without rights."""
    real: Callable[..., bool] = os.access
    denied = {str(t) for t in targets}

    def access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        if mode & os.W_OK and str(path) in denied:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the store ------------------------------------------------------------------------------


def test_access_mode_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    seed()
    db = paths.database_path()
    assert access_mode(db) == "rw"
    assert access_mode(db.with_name("missing.db")) == "rw"  # to be created
    deny_writes(monkeypatch, db)
    assert access_mode(db) == "ro"  # the file alone: SQLite may still make -shm beside it
    deny_writes(monkeypatch, db, db.parent)
    assert access_mode(db) == "immutable"  # no -wal/-shm to read, none can be made


@pytest.mark.parametrize("mode", ["ro", "immutable"])
def test_a_read_only_open_reads_and_refuses_writes(mode: str) -> None:
    cid = seed()
    directory = paths.database_path().parent
    before = snapshot(directory)
    store = SessionStore(paths.database_path(), mode=mode)  # type: ignore[arg-type]
    try:
        assert store.read_only
        assert store.get_conversation(cid).messages[1].content == "first answer"
        assert [s.id for s in store.list_conversations(search="question")] == [cid]
        with pytest.raises(StoreError, match="read-only"):
            store.rename(cid, "new title")
        with pytest.raises(StoreError, match="read-only"):
            store.create_conversation(model="m", provider="p", thinking=False)
    finally:
        store.close()
    if mode == "immutable":
        assert snapshot(directory) == before  # not a byte written, no -wal or -shm made
    else:
        assert snapshot(directory)["glmchat.db"] == before["glmchat.db"]


def test_an_old_schema_that_cannot_be_upgraded_is_one_clear_error() -> None:
    db = paths.database_path()
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, target=1)
    conn.close()
    with pytest.raises(StoreError, match="read-only, so it cannot be upgraded"):
        SessionStore(db, mode="immutable")


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def read_only_data(monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, bytes]]:
    cid = seed()
    db = paths.database_path()
    deny_writes(monkeypatch, db, db.parent)
    return cid, snapshot(db.parent)


def test_sessions_list_show_and_export_work_and_say_saving_is_off(
    capsys: pytest.CaptureFixture[str],
    read_only_data: tuple[str, dict[str, bytes]],
    tmp_path: Path,
) -> None:
    cid, before = read_only_data
    note = f"glmchat: note: {paths.database_path()} is read-only; reading works, saving is off\n"
    code, out, err = run(capsys, "sessions", "list")
    assert code == 0 and cid in out and err == note
    code, out, err = run(capsys, "sessions", "list", "--json")
    assert code == 0 and json.loads(out)[0]["id"] == cid and err == note
    code, out, err = run(capsys, "sessions", "show", cid)
    assert code == 0 and "first answer" in out and err == note
    target = tmp_path / "export.json"
    code, out, err = run(capsys, "sessions", "export", cid, "--format", "json", "-o", str(target))
    assert code == 0 and json.loads(target.read_text())["id"] == cid
    assert err.startswith(note) and err.count("\n") == 2  # the note, then "exported ..."
    assert snapshot(paths.database_path().parent) == before


@pytest.mark.parametrize(
    "argv",
    [["rename", "{id}", "new title"], ["rm", "{id}"], ["import", "{file}"]],
    ids=["rename", "rm", "import"],
)
def test_writing_commands_fail_with_one_line(
    capsys: pytest.CaptureFixture[str],
    read_only_data: tuple[str, dict[str, bytes]],
    tmp_path: Path,
    argv: list[str],
) -> None:
    cid, before = read_only_data
    file = tmp_path / "in.json"
    file.write_text(
        json.dumps({"format": "glmchat-conversation", "version": 1, "id": "other1", "messages": []})
    )
    args = [a.replace("{id}", cid).replace("{file}", str(file)) for a in argv]
    code, out, err = run(capsys, "sessions", *args)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "read-only" in err and str(paths.database_path()) in err
    assert snapshot(paths.database_path().parent) == before


def test_ask_answers_and_warns_that_it_was_not_saved(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    read_only_data: tuple[str, dict[str, bytes]],
    wire: WireServer,
) -> None:
    cid, before = read_only_data
    monkeypatch.setenv("ZAI_API_KEY", "sk-test-1234")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    wire.reply(fixture_reply("zai_nothinking_stream"), fixture_reply("zai_nothinking_stream"))
    code, out, err = run(capsys, "ask", "--base-url", wire.url, "hi")
    assert code == 0 and out.startswith("Hi!")
    assert err == (
        f"glmchat: warning: {paths.database_path()} is read-only; this exchange will not be saved\n"
    )
    # -c still reads the history it continues; --json reports no session (nothing saved).
    code, out, err = run(capsys, "ask", "--json", "-c", "--base-url", wire.url, "more")
    assert code == 0 and json.loads(out)["session_id"] is None
    assert [m["content"] for m in wire.requests[1].json["messages"]] == [
        "first question",
        "first answer",
        "more",
    ]
    assert "will not be saved" in err
    assert snapshot(paths.database_path().parent) == before


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root writes through permission bits, so they cannot make a read-only database",
)
@pytest.mark.parametrize("what", ["file", "directory"])
def test_real_permissions_in_a_real_process(what: str) -> None:
    cid = seed()
    db = paths.database_path()
    target = db if what == "file" else db.parent
    mode = target.stat().st_mode
    target.chmod(0o444 if what == "file" else 0o555)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "glmchat", "sessions", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc.stderr
        assert cid in proc.stdout and "saving is off" in proc.stderr
        proc = subprocess.run(
            [sys.executable, "-m", "glmchat", "sessions", "rm", cid],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 2 and "read-only" in proc.stderr
    finally:
        target.chmod(mode)
