"""`glmchat ask` with the catalogue: --think/--no-think on a model that always thinks, max_tokens
capped at the model's output, and a request that would not fit the window never sent."""

from __future__ import annotations

import json

from glmchat import paths
from glmchat.store import SessionStore
from tests.test_ask_cli import ask
from tests.wire_server import Reply, WireServer, sse_body, sse_event

ANSWER = sse_body(sse_event({"content": "ok"}), sse_event({}, finish_reason="stop"))


def add_config(text: str) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(old + text, encoding="utf-8")


def test_no_think_on_glm_5_3_asks_for_the_lowest_effort(wire: WireServer) -> None:
    wire.reply(Reply(body=ANSWER))
    proc = ask("--no-save", "--no-think", "-m", "zai/glm-5.3", "--base-url", wire.url, "hi")
    assert proc.returncode == 0, proc.stderr
    body = wire.requests[0].json
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "low"
    assert (
        proc.stderr
        == "glmchat: note: glm-5.3 always thinks; --no-think asks for its lowest effort (low)\n"
    )
    wire.reply(Reply(body=ANSWER))
    proc = ask("--no-save", "--think", "-m", "zai/glm-5.3", "--base-url", wire.url, "hi")
    assert proc.returncode == 0, proc.stderr
    assert wire.requests[1].json["reasoning_effort"] == "max" and "highest effort" in proc.stderr
    # A model with an on/off switch: as before, no note.
    wire.reply(Reply(body=ANSWER))
    proc = ask("--no-save", "--no-think", "-m", "zai/glm-4.5", "--base-url", wire.url, "hi")
    assert wire.requests[2].json["thinking"] == {"type": "disabled"} and proc.stderr == ""


def test_max_tokens_above_the_models_output_is_capped_with_a_note(wire: WireServer) -> None:
    wire.reply(Reply(body=ANSWER))
    proc = ask(
        "--no-save", "--max-tokens", "200000", "-m", "zai/glm-4.5", "--base-url", wire.url, "hi"
    )
    assert proc.returncode == 0, proc.stderr
    assert wire.requests[0].json["max_tokens"] == 98304
    assert "max_tokens 200000 is above glm-4.5's maximum output of 98304" in proc.stderr
    # --json keeps stderr for the outcome; the request is capped all the same.
    wire.reply(Reply(body=ANSWER))
    proc = ask(
        "--json", "--no-save", "--max-tokens", "200000", "-m", "zai/glm-5.3",
        "--base-url", wire.url, "hi",
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == ""
    assert wire.requests[1].json["max_tokens"] == 131072


def test_a_request_over_the_window_is_not_sent(wire: WireServer) -> None:
    add_config('[models."zai/glm-4.5"]\ncontext = 1000\n')
    long_prompt = "word " * 2000  # about 2,500 tokens by the estimate
    proc = ask("-m", "zai/glm-4.5", "--base-url", wire.url, long_prompt)
    assert proc.returncode == 1
    assert wire.requests == []
    assert proc.stderr.count("\n") == 1
    assert "Not sent" in proc.stderr and "context window of 1,000" in proc.stderr
    # The prompt alone is over: a new conversation would not help (tests/test_prompt_too_long.py).
    assert "an estimate" in proc.stderr and "Shorten it" in proc.stderr
    # Nothing was saved: no conversation half made.
    store = SessionStore(paths.database_path())
    assert store.list_conversations() == []
    store.close()
    proc = ask("--json", "--no-save", "-m", "zai/glm-4.5", "--base-url", wire.url, long_prompt)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["error"]["kind"] == "context_length"
    assert doc["content"] == "" and doc["model"] == "zai/glm-4.5"
    assert wire.requests == []


def test_a_long_conversation_continued_is_stopped_before_the_400(wire: WireServer) -> None:
    """-c on a conversation that has outgrown the window: the history is counted too."""
    for _ in range(3):
        wire.reply(Reply(body=ANSWER))
    proc = ask("-m", "zai/glm-4.5", "--base-url", wire.url, "first " * 300)
    assert proc.returncode == 0, proc.stderr
    proc = ask("-c", "--base-url", wire.url, "second " * 300)
    assert proc.returncode == 0, proc.stderr
    add_config('[models."zai/glm-4.5"]\ncontext = 500\n')
    proc = ask("-c", "--base-url", wire.url, "third")
    assert proc.returncode == 1 and "Not sent" in proc.stderr
    assert len(wire.requests) == 2


def test_room_is_kept_in_the_window_for_the_answer(wire: WireServer) -> None:
    # About 750 tokens fit a window of 1,000, but would leave the model less than its quarter
    # (no max_tokens set) to answer in: GLM would stop at once. With --max-tokens 100 it fits.
    add_config('[models."zai/glm-4.5"]\ncontext = 1000\n')
    prompt = "word " * 600
    proc = ask("--no-save", "-m", "zai/glm-4.5", "--base-url", wire.url, prompt)
    assert proc.returncode == 1 and wire.requests == []
    assert (
        "Not sent: the prompt alone is about 754 tokens (an estimate), which leaves less than "
        "the 250 kept for the answer in glm-4.5's context window of 1,000." in proc.stderr
    )
    wire.reply(Reply(body=ANSWER))
    proc = ask(
        "--no-save", "--max-tokens", "100", "-m", "zai/glm-4.5", "--base-url", wire.url, prompt
    )
    assert proc.returncode == 0, proc.stderr
    assert wire.requests[0].json["max_tokens"] == 100
