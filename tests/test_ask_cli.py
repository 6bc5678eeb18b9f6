"""`glmchat ask` end to end through the console script against the loopback server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.wire_server import (
    FIXTURES,
    Reply,
    WireServer,
    fixture_reply,
    sidecar,
    sse_body,
    sse_event,
)

GLMCHAT = shutil.which("glmchat") or str(Path(sys.executable).parent / "glmchat")


def ask(*args: str, env: dict | None = None, stdin: str | None = None, timeout: float = 30):
    full_env = dict(os.environ)
    full_env.update(
        {"ZAI_API_KEY": "sk-zai-secret-9876", "OPENROUTER_API_KEY": "sk-or-secret-5555"}
    )
    full_env.update(env or {})
    return subprocess.run(
        [GLMCHAT, "ask", *args],
        input=stdin,
        # Without input, an empty stdin: piped text is part of the prompt, and an inherited
        # pipe that never closes would keep `ask` waiting for it.
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def test_streams_answer_to_stdout(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_thinking_stream", splits=5))
    proc = ask("--no-save", "-m", "zai/glm-4.5", "--base-url", wire.url, "What is 17 x 23?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == sidecar("zai_thinking_stream")["expected"]["content"] + "\n"
    assert proc.stderr == ""
    body = wire.requests[0].json
    assert body["model"] == "glm-4.5" and body["thinking"] == {"type": "enabled"}
    assert body["messages"] == [{"role": "user", "content": "What is 17 x 23?"}]
    assert wire.requests[0].headers["authorization"] == "Bearer sk-zai-secret-9876"


def test_show_thinking_goes_to_stderr(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_thinking_stream"))
    proc = ask("--no-save", "--show-thinking", "--base-url", wire.url, "q")
    expected = sidecar("zai_thinking_stream")["expected"]
    assert proc.returncode == 0
    assert expected["reasoning"].strip() in proc.stderr
    assert expected["reasoning"].strip() not in proc.stdout


def test_json_result_openrouter(wire: WireServer) -> None:
    wire.reply(fixture_reply("openrouter_reasoning_stream", splits=13))
    proc = ask(
        "--json",
        "--no-save",
        "--no-think",
        "-m",
        "openrouter/z-ai/glm-4.5-air:free",
        "--base-url",
        wire.url,
        "What does HTTP 429 mean?",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # one object and nothing else on stdout
    expected = sidecar("openrouter_reasoning_stream")["expected"]
    assert set(doc) == {
        "session_id",
        "model",
        "content",
        "reasoning",
        "finish_reason",
        "usage",
        "error",
    }
    assert doc["content"] == expected["content"]
    assert doc["reasoning"] == expected["reasoning"]
    assert doc["finish_reason"] == "stop" and doc["error"] is None
    assert doc["model"] == "openrouter/z-ai/glm-4.5-air:free" and doc["session_id"] is None
    assert doc["usage"]["prompt_tokens"] == 15 and doc["usage"]["completion_tokens"] == 58
    body = wire.requests[0].json
    assert body["model"] == "z-ai/glm-4.5-air:free"
    assert body["reasoning"] == {"enabled": False}


@pytest.mark.parametrize(
    ("fixture", "kind", "status"),
    [
        ("zai_error_401", "auth", 3),
        ("zai_error_429_1113", "quota", 4),
        ("zai_error_400_1261", "context_length", 1),
        ("openrouter_error_402", "quota", 4),
    ],
)
def test_errors_json_and_exit_codes(wire: WireServer, fixture: str, kind: str, status: int) -> None:
    wire.reply(fixture_reply(fixture))
    proc = ask("--json", "--no-save", "--base-url", wire.url, "hi")
    assert proc.returncode == status
    doc = json.loads(proc.stdout)
    assert doc["error"]["kind"] == kind
    assert doc["error"]["http_status"] == sidecar(fixture)["http_status"]
    assert set(doc["error"]) == {"kind", "message", "http_status", "code", "retryable"}
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "sk-zai-secret-9876" not in proc.stderr + proc.stdout


def test_interrupted_keeps_partial_and_exits_6(wire: WireServer) -> None:
    wire.reply(fixture_reply("truncated_no_done"))
    proc = ask("--json", "--no-save", "--base-url", wire.url, "haiku")
    assert proc.returncode == 6
    doc = json.loads(proc.stdout)
    assert doc["error"]["kind"] == "interrupted"
    assert doc["content"] == sidecar("truncated_no_done")["expected"]["content"]


def test_midstream_error_keeps_partial(wire: WireServer) -> None:
    wire.reply(fixture_reply("openrouter_midstream_error"))
    proc = ask("-m", "openrouter/z-ai/glm-4.5", "--no-save", "--base-url", wire.url, "why?")
    assert proc.returncode == 5
    assert proc.stdout.startswith("The three main causes are:")
    assert "Provider disconnected unexpectedly" in proc.stderr


def test_connection_refused_exit_5() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = ask("--no-save", "--base-url", f"http://127.0.0.1:{port}", "hi")
    assert proc.returncode == 5
    assert len(proc.stderr.strip().splitlines()) == 1 and "Could not connect" in proc.stderr


def test_prompt_from_stdin(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_nothinking_stream"), fixture_reply("zai_nothinking_stream"))
    proc = ask("--no-save", "--base-url", wire.url, stdin="piped prompt\n")
    assert proc.returncode == 0, proc.stderr
    proc = ask("--no-save", "--base-url", wire.url, "-", stdin="dash prompt")
    assert proc.returncode == 0
    assert [r.json["messages"][-1]["content"] for r in wire.requests] == [
        "piped prompt\n",
        "dash prompt",
    ]


def test_system_prompt_and_base_url_override(wire: WireServer) -> None:
    wire.reply(fixture_reply("ollama_reasoning_stream"))
    proc = ask(
        "--no-save",
        "-m",
        "ollama/qwen3:8b",
        "--system",
        "be terse",
        "--base-url",
        wire.url,
        "hello",
    )
    assert proc.returncode == 0, proc.stderr
    body = wire.requests[0].json
    assert body["messages"][0] == {"role": "system", "content": "be terse"}
    assert body["model"] == "qwen3:8b"
    assert "authorization" not in wire.requests[0].headers  # no key set for a local server


def test_missing_key_is_one_line_exit_2() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = subprocess.run(
        [GLMCHAT, "ask", "--no-save", "hi"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "glmchat: No API key for zai. Set ZAI_API_KEY or run: glmchat config set-key zai"
    ]


def test_unknown_provider_is_usage_error() -> None:
    proc = ask("--no-save", "-m", "nosuch/model", "hi")
    assert proc.returncode == 2 and "nosuch" in proc.stderr


def test_length_finish_exits_0_with_note(wire: WireServer) -> None:
    body = (
        (FIXTURES / "zai_nothinking_stream.sse")
        .read_bytes()
        .replace(b'"finish_reason":"stop"', b'"finish_reason":"length"')
    )
    wire.reply(Reply(body=body))
    proc = ask("--no-save", "--base-url", wire.url, "hi")
    assert proc.returncode == 0 and "max_tokens" in proc.stderr


def test_escape_sequences_are_kept_in_json_and_pipe(wire: WireServer) -> None:
    hostile = "\x1b[31mred\x1b[0m [bold]x[/]"
    doc = {"choices": [{"index": 0, "delta": {"content": hostile}, "finish_reason": "stop"}]}
    wire.reply(Reply(body=sse_body(doc)))
    proc = ask("--json", "--no-save", "--base-url", wire.url, "hi")
    assert json.loads(proc.stdout)["content"] == hostile


def test_custom_provider_from_config_is_used(wire: WireServer) -> None:
    from glmchat.config import save_value

    save_value("providers.myvllm.base_url", wire.url)
    save_value("providers.myvllm.dialect", "openai")
    wire.reply(fixture_reply("llamacpp_think_tags_stream", splits=9))
    proc = ask("--json", "--no-save", "--show-thinking", "-m", "myvllm/GLM-4.5-Air", "Capital?")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    expected = sidecar("llamacpp_think_tags_stream")["expected"]
    assert doc["content"] == expected["content"] and doc["reasoning"] == expected["reasoning"]
    body = wire.requests[0].json
    assert body["model"] == "GLM-4.5-Air"
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert "authorization" not in wire.requests[0].headers


def test_models_command_lists_provider_models(wire: WireServer) -> None:
    wire.reply(fixture_reply("openrouter_models_list"))
    proc = subprocess.run(
        [GLMCHAT, "models", "--provider", "openrouter", "--base-url", wire.url],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, OPENROUTER_API_KEY="sk-or-1"),
    )
    assert proc.returncode == 0, proc.stderr
    # One row per model, its id first (tests/test_models_command.py checks the figures).
    ids = [line.split()[0] for line in proc.stdout.splitlines()[1:4]]
    assert ids[:2] == ["openrouter/z-ai/glm-4.5", "openrouter/z-ai/glm-4.5-air:free"]
    assert wire.requests[0].headers["authorization"] == "Bearer sk-or-1"


def test_models_command_auth_failure(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_error_401"))
    proc = subprocess.run(
        [GLMCHAT, "models", "--base-url", wire.url],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, ZAI_API_KEY="sk-bad"),
    )
    assert proc.returncode == 3 and "rejected the API key" in proc.stderr
    # The key came from the environment, which wins over a saved one: the advice says to
    # change it there, not to run `config set-key` (found by QA).
    assert "comes from ZAI_API_KEY in the environment" in proc.stderr
    assert "config set-key" not in proc.stderr


# --- found by a review against the specification ------------------------------------------


def test_retries_are_not_narrated_with_json(wire: WireServer) -> None:
    # Retry-After: 0, so no test waits through a backoff (an unreadable Retry-After falls back
    # to the backoff: tests/test_backend_http.py, with the wait injected).
    for _ in range(3):
        wire.reply(
            Reply(
                body=b'{"error":{"code":"1302","message":"busy"}}',
                status=429,
                headers={"Content-Type": "application/json", "Retry-After": "0"},
            )
        )
    proc = ask("--json", "--no-save", "--base-url", wire.url, "hi")
    assert proc.returncode == 4 and len(wire.requests) == 3
    assert json.loads(proc.stdout)["error"]["kind"] == "rate_limit"
    assert proc.stderr.strip().count("\n") == 0  # --json: retries are not narrated


def test_finish_then_cut_connection_is_a_success(wire: WireServer) -> None:
    body = (
        sse_body(
            {"choices": [{"index": 0, "delta": {"content": "Done"}}]},
            {
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
            done=False,
        )
        + b'data: {"id": "cut her'
    )
    wire.reply(Reply(body=body, drop_after=len(body)))
    proc = ask("--json", "--no-save", "--base-url", wire.url, "hi")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["content"] == "Done" and doc["finish_reason"] == "stop"
    assert doc["usage"]["total_tokens"] == 2


def test_reasoning_details_alone_is_reasoning(wire: WireServer) -> None:
    wire.reply(
        Reply(
            body=sse_body(
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "content": "",
                                "reasoning_details": [
                                    {
                                        "type": "reasoning.text",
                                        "text": "Think A",
                                        "format": "unknown",
                                        "index": 0,
                                    }
                                ],
                            },
                        }
                    ]
                },
                {
                    "choices": [
                        {"index": 0, "delta": {"content": "Answer"}, "finish_reason": "stop"}
                    ]
                },
            )
        )
    )
    proc = ask("--json", "--no-save", "-m", "openrouter/z-ai/glm-4.5", "--base-url", wire.url, "q")
    doc = json.loads(proc.stdout)
    assert doc["reasoning"] == "Think A" and doc["content"] == "Answer"


def test_mid_stream_error_reports_finish_reason_error(wire: WireServer) -> None:
    wire.reply(fixture_reply("openrouter_midstream_error"))
    proc = ask("--json", "--no-save", "-m", "openrouter/z-ai/glm-4.5", "--base-url", wire.url, "q")
    doc = json.loads(proc.stdout)
    assert doc["finish_reason"] == "error" and doc["error"]["kind"] == "server"


def test_throttle_wording_is_not_context_length(wire: WireServer) -> None:
    wire.reply(
        Reply(
            body=b'{"message":"Too many tokens, please wait before trying again."}',
            status=429,
            headers={"Content-Type": "application/json", "Retry-After": "3600"},
        )
    )
    proc = ask("--json", "--no-save", "--base-url", wire.url, "hi")
    assert proc.returncode == 4 and json.loads(proc.stdout)["error"]["kind"] == "rate_limit"


def test_empty_data_events_and_deep_nesting(wire: WireServer) -> None:
    wire.reply(
        Reply(
            body=b"data:\n\ndata: \n\n"
            + sse_body(
                {"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}
            )
        )
    )
    proc = ask("--json", "--no-save", "--base-url", wire.url, "hi")
    assert proc.returncode == 0 and json.loads(proc.stdout)["content"] == "ok"
    # After some text, so the malformed chunk is not retried (no wait through a backoff).
    text = sse_event({"content": "so far"})
    wire.reply(Reply(body=text + b"data: " + b"[" * 200_000 + b"\n\n"))
    proc = ask("--json", "--no-save", "--base-url", wire.url, "hi")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["error"]["kind"] == "protocol"
    assert doc["content"] == "so far" and len(wire.requests) == 2  # one per ask: no retry


def test_invalid_base_url_is_a_usage_error() -> None:
    proc = ask("--json", "--no-save", "--base-url", "http://[::1", "hi")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    proc = ask("--no-save", "--base-url", "ftp://example.invalid", "hi")
    assert proc.returncode == 2


def test_coding_plan_falls_back_to_the_zai_key(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_nothinking_stream"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["ZAI_API_KEY"] = "sk-zai-plan-1"
    proc = subprocess.run(
        [GLMCHAT, "ask", "--no-save", "-m", "zai-coding/glm-4.5", "--base-url", wire.url, "hi"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert wire.requests[0].headers["authorization"] == "Bearer sk-zai-plan-1"
