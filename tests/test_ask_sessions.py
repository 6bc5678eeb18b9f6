"""`ask` saves through the session store: continue, resume by id, no-save, and a killed stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from glmchat import paths
from glmchat.store import SessionStore
from tests.test_ask_cli import GLMCHAT, ask
from tests.wire_server import Reply, WireServer, fixture_reply, sidecar


def store() -> SessionStore:
    return SessionStore(paths.database_path())


def test_ask_saves_and_continue_sends_history_without_reasoning(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_thinking_stream"), fixture_reply("zai_nothinking_stream"))
    first = ask("--json", "--base-url", wire.url, "What is 17 x 23?\nsecond line")
    assert first.returncode == 0, first.stderr
    session = json.loads(first.stdout)["session_id"]
    assert session
    second = ask("--json", "-c", "--base-url", wire.url, "And doubled?")
    assert json.loads(second.stdout)["session_id"] == session
    expected = sidecar("zai_thinking_stream")["expected"]
    assert wire.requests[1].json["messages"] == [
        {"role": "user", "content": "What is 17 x 23?\nsecond line"},
        {"role": "assistant", "content": expected["content"]},
        {"role": "user", "content": "And doubled?"},
    ]
    with store() as s:
        conv = s.get_conversation(session)
        assert conv.title == "What is 17 x 23?"
        assert [(m.role, m.status) for m in conv.messages] == [
            ("user", "complete"),
            ("assistant", "complete"),
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert conv.messages[1].reasoning == expected["reasoning"]
        assert conv.messages[1].usage["completion_tokens"] == 61


def test_session_id_prefix_continues_that_conversation(wire: WireServer) -> None:
    wire.reply(*(fixture_reply("zai_nothinking_stream") for _ in range(3)))
    a = json.loads(ask("--json", "--base-url", wire.url, "first A").stdout)["session_id"]
    ask("--json", "--base-url", wire.url, "first B")
    proc = ask("--json", "--session", a[:6], "--base-url", wire.url, "more A")
    assert json.loads(proc.stdout)["session_id"] == a
    assert wire.requests[2].json["messages"][0]["content"] == "first A"


def test_no_save_saves_nothing(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_nothinking_stream"))
    assert ask("--no-save", "--base-url", wire.url, "hi").returncode == 0
    assert not paths.database_path().exists() or store().list_conversations() == []


def test_continue_without_history_is_usage_error() -> None:
    proc = ask("-c", "hi")
    assert proc.returncode == 2 and "no saved conversation" in proc.stderr


def test_error_answer_is_saved_with_its_reason(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_error_429_1113"))
    proc = ask("--json", "--base-url", wire.url, "hi")
    assert proc.returncode == 4
    with store() as s:
        msg = s.get_conversation(json.loads(proc.stdout)["session_id"]).messages[-1]
    assert msg.status == "error" and "1113" in msg.error


def start_slow_ask(wire: WireServer) -> subprocess.Popen[bytes]:
    """`glmchat ask` reading a 400-token answer that arrives at 100 tokens a second."""

    def slow():  # type: ignore[no-untyped-def]
        for i in range(400):
            doc = {"choices": [{"index": 0, "delta": {"content": f"w{i} "}}]}
            yield b"data: " + json.dumps(doc).encode() + b"\n\n"

    wire.reply(Reply(chunks=slow, delay=0.01))
    return subprocess.Popen(
        [GLMCHAT, "ask", "--base-url", wire.url, "count"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, ZAI_API_KEY="sk-x"),
    )


def test_sigkill_mid_stream_leaves_partial_answer(wire: WireServer) -> None:
    proc = start_slow_ask(wire)
    seen = b""
    deadline = time.monotonic() + 20
    while b"w150 " not in seen and time.monotonic() < deadline:
        seen += os.read(proc.stdout.fileno(), 4096)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    with store() as s:
        conv = s.most_recent()
        msg = conv.messages[-1]
    assert msg.role == "assistant" and msg.status == "partial"
    # At most about a second (100 tokens at 10 ms) of text is lost.
    shown = seen.decode().split()
    saved = msg.content.split()
    assert saved == shown[: len(saved)] and len(saved) >= len(shown) - 110


def test_sigterm_saves_partial_as_cancelled(wire: WireServer) -> None:
    proc = start_slow_ask(wire)
    os.read(proc.stdout.fileno(), 10)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 6 and b"partial answer is kept" in err
    with store() as s:
        msg = s.most_recent().messages[-1]
    assert msg.status == "cancelled" and msg.content.startswith("w0 ")


def test_corrupt_database_is_named_and_left_untouched(wire: WireServer, tmp_path) -> None:
    wire.reply(fixture_reply("zai_nothinking_stream"))
    bad = tmp_path / "not-a-db"
    bad.mkdir()
    (bad / "glmchat.db").write_bytes(b"this is not sqlite" * 100)
    proc = ask("--base-url", wire.url, "hi", env={"GLMCHAT_DATA_DIR": str(bad)})
    # The answer is still given; the warning names the file; the file is not touched.
    assert proc.returncode == 0 and proc.stdout.startswith("Hi!")
    assert "will not be saved" in proc.stderr and "glmchat.db" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert (bad / "glmchat.db").read_bytes() == b"this is not sqlite" * 100
    continued = ask("-c", "--base-url", wire.url, "hi", env={"GLMCHAT_DATA_DIR": str(bad)})
    assert continued.returncode == 2 and "glmchat.db" in continued.stderr
