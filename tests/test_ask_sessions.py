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
from tests.wire_server import Reply, WireServer, fixture_reply, sidecar, sse_data


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
            yield sse_data({"choices": [{"index": 0, "delta": {"content": f"w{i} "}}]})

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


def test_continue_after_a_failed_exchange_does_not_send_the_failed_prompt(
    wire: WireServer,
) -> None:
    """The engine's one history policy: a prompt whose answer failed before any text is left
    out (the TUI gives it back to the prompt box; `ask -c` must not send it twice either)."""
    wire.reply(
        fixture_reply("zai_nothinking_stream"),
        fixture_reply("zai_error_400_1261"),
        fixture_reply("zai_nothinking_stream"),
    )
    assert ask("--base-url", wire.url, "first").returncode == 0
    assert ask("-c", "--base-url", wire.url, "this one fails").returncode == 1
    assert ask("-c", "--base-url", wire.url, "this one fails").returncode == 0
    sent = [m["content"] for m in wire.requests[2].json["messages"]]
    assert sent.count("this one fails") == 1 and sent[0] == "first" and len(sent) == 3


def test_session_of_an_imported_conversation_without_a_model_uses_the_default(
    wire: WireServer, tmp_path
) -> None:
    doc = {
        "format": "glmchat-conversation",
        "version": 1,
        "id": "imported1",
        "title": "from elsewhere",
        "created": "2026-01-01T00:00:00Z",
        "updated": "2026-01-01T00:00:00Z",
        "messages": [
            {"role": "user", "content": "old question"},
            {"role": "assistant", "content": "old answer"},
        ],
    }
    path = tmp_path / "import.json"
    path.write_text(json.dumps(doc))
    imported = subprocess.run(
        [GLMCHAT, "sessions", "import", str(path)], capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask("--json", "--session", "imported1", "--base-url", wire.url, "new question")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"] == "zai/glm-4.5"
    body = wire.requests[0].json
    assert body["model"] == "glm-4.5"
    assert body["thinking"] == {"type": "enabled"}  # the default, not "off" for a missing flag
    assert [m["content"] for m in body["messages"]] == [
        "old question",
        "old answer",
        "new question",
    ]
