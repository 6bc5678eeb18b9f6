"""Wire defects found by real recordings, each as a class: compressed bodies, every finish
reason, content sent as typed parts, tool-call-only answers, non-streamed JSON after padding.

Through the client against the loopback server (in process) and through `glmchat ask` (a
subprocess), at awkward split points."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmchat.backend import errors as E
from glmchat.backend.chunks import StreamState, parse_whole
from glmchat.backend.events import (
    ChatRequest,
    ContentDelta,
    Finish,
    Message,
    ReasoningDelta,
    RetryScheduled,
    Usage,
)
from glmchat.backend.finish import (
    FINISH_RULES,
    TOOL_NOTE,
    FinishRule,
    finish_note,
    finish_rule,
)
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.backend.providers import BUILTIN_PROVIDERS
from glmchat.backend.tool_calls import ToolCallAccumulator
from glmchat.cli.errors import EXIT_STATUS_BY_KIND
from tests.wire_server import (
    FIXTURES,
    SSE_DONE,
    Reply,
    WireServer,
    fixture_reply,
    sidecar,
    sse_body,
    sse_event,
)

GLMCHAT = shutil.which("glmchat") or str(Path(sys.executable).parent / "glmchat")
AWKWARD = [1, 2, 3, 5, 8, 13, 1, 21, 34, 2, 55]  # then the rest in one piece
# Anything that could drive a terminal: C0 (but tab/newline), DEL, C1, and the gzip magic.
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]|\ufffd")


def run_ask(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, ZAI_API_KEY="sk-zai-secret-9876", OPENROUTER_API_KEY="sk-or-5555")
    full_env.update(env or {})
    return subprocess.run(
        [GLMCHAT, "ask", *args], capture_output=True, text=True, env=full_env, timeout=60
    )


async def no_sleep(_: float) -> None:
    return None


def client_for(wire: WireServer, provider: str = "zai") -> OpenAICompatClient:
    return OpenAICompatClient(
        BUILTIN_PROVIDERS[provider], "sk-test-key-1234", base_url=wire.url, sleep=no_sleep
    )


async def collect(client: OpenAICompatClient) -> dict:
    out: dict = {"content": [], "reasoning": [], "events": [], "error": None, "finish": None}
    request = ChatRequest("glm-4.7", (Message("user", "hi"),))
    try:
        async for event in client.stream(request):
            out["events"].append(event)
            if isinstance(event, ContentDelta):
                out["content"].append(event.text)
            elif isinstance(event, ReasoningDelta):
                out["reasoning"].append(event.text)
            elif isinstance(event, Finish):
                out["finish"] = event
    except E.ProviderError as exc:
        out["error"] = exc
    out["content"] = "".join(out["content"])
    out["reasoning"] = "".join(out["reasoning"])
    return out


def usage_of(result: dict) -> Usage | None:
    return next((e for e in result["events"] if isinstance(e, Usage)), None)


# --------------------------------------------------------------------------- compressed bodies


async def test_only_decodable_encodings_are_advertised(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_nothinking_stream"))
    async with client_for(wire) as client:
        await collect(client)
    assert wire.requests[0].headers["accept-encoding"] == "gzip, deflate"


def test_gzip_1113_is_quota_with_clean_text_and_no_retry(wire: WireServer) -> None:
    for _ in range(3):  # room for retries, which must not happen
        wire.reply(fixture_reply("zai_error_429_1113_gzip"))
    proc = run_ask("--json", "--no-save", "--base-url", wire.url, "hi")
    assert proc.returncode == 4, proc.stderr
    error = json.loads(proc.stdout)["error"]
    assert error["kind"] == "quota" and error["code"] == "1113" and error["retryable"] is False
    assert "Insufficient balance or no resource package" in error["message"]
    assert len(wire.requests) == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Insufficient balance" in lines[0]
    assert not TERMINAL_CONTROL.search(proc.stderr + error["message"])


@pytest.mark.parametrize("name", ["gzip_thinking_stream", "deflate_nothinking_stream"])
@pytest.mark.parametrize("splits", [None, 1, AWKWARD])
async def test_compressed_event_streams_are_decoded(wire: WireServer, name: str, splits) -> None:
    wire.reply(fixture_reply(name, splits=splits))
    async with client_for(wire) as client:
        result = await collect(client)
    expected = sidecar(name)["expected"]
    assert result["error"] is None, result["error"]
    assert result["content"] == expected["content"]
    assert result["reasoning"] == expected["reasoning"]
    assert result["finish"].reason == expected["finish_reason"]
    assert usage_of(result).total_tokens == expected["usage"]["total_tokens"]


async def test_raw_deflate_without_zlib_header_is_decoded(wire: WireServer) -> None:
    # Some servers send bare RFC 1951 data under "deflate"; httpx reads both forms.
    body = (FIXTURES / "zai_nothinking_stream.sse").read_bytes()
    packer = zlib.compressobj(wbits=-15)
    raw = packer.compress(body) + packer.flush()
    headers = {"Content-Type": "text/event-stream", "Content-Encoding": "deflate"}
    wire.reply(Reply(body=raw, headers=headers, splits=7))
    async with client_for(wire) as client:
        result = await collect(client)
    assert result["content"] == sidecar("zai_nothinking_stream")["expected"]["content"]


@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate"])
async def test_each_event_arrives_before_the_body_ends(wire: WireServer, encoding: str) -> None:
    """A server (or a gateway's gzip stream) flushes per event: each event must reach the
    consumer as it arrives, not when the body ends, whatever the encoding."""
    wbits = {"gzip": 31, "deflate": 15}.get(encoding)
    packer = zlib.compressobj(wbits=wbits) if wbits else None
    gate = threading.Event()
    opened_in_time: list[bool] = []

    def pack(data: bytes, *, last: bool = False) -> bytes:
        if packer is None:
            return data
        return packer.compress(data) + packer.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    def chunks() -> Iterator[bytes]:
        yield pack(sse_event({"content": "first"}))
        # The server thread waits for the client to have seen "first" (5 s is a safety net).
        opened_in_time.append(gate.wait(5))
        rest = sse_event({"content": " second"}, finish_reason="stop") + SSE_DONE
        yield pack(rest, last=True)

    headers = {"Content-Type": "text/event-stream"}
    if packer is not None:
        headers["Content-Encoding"] = encoding
    wire.reply(Reply(headers=headers, chunks=chunks))
    seen: list[str] = []
    async with client_for(wire) as client:
        async for event in client.stream(ChatRequest("glm-4.5", (Message("user", "hi"),))):
            if isinstance(event, ContentDelta):
                seen.append(event.text)
                gate.set()
    assert seen == ["first", " second"]
    assert opened_in_time == [True]


@pytest.mark.parametrize("status", [200, 429])
async def test_an_encoding_not_asked_for_is_named_not_parsed(wire: WireServer, status: int) -> None:
    # Bytes that look like a brotli body; glmchat did not ask for br and cannot decode it.
    body = bytes(range(256)) * 4
    headers = {"Content-Type": "application/json", "Content-Encoding": "br"}
    wire.reply(*[Reply(body=body, status=status, headers=headers) for _ in range(3)])
    async with client_for(wire) as client:
        result = await collect(client)
    error = result["error"]
    assert error is not None and "'br'" in error.message
    assert error.kind == ("protocol" if status == 200 else "rate_limit")
    assert not TERMINAL_CONTROL.search(error.message) and "\n" not in error.message


async def test_a_corrupt_gzip_body_is_a_protocol_error(wire: WireServer) -> None:
    good = gzip.compress((FIXTURES / "zai_nothinking_stream.sse").read_bytes(), mtime=0)
    corrupt = good[:40] + bytes(b ^ 0x5A for b in good[40:80]) + good[80:]
    headers = {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}
    wire.reply(Reply(body=corrupt, headers=headers))
    async with client_for(wire) as client:
        result = await collect(client)
    assert result["error"].kind == "protocol"
    assert "does not decompress" in result["error"].message
    assert len(wire.requests) == 1  # a broken proxy does not heal in seconds: not retried


@pytest.mark.parametrize(
    "body",
    [
        b'{"error":{"code":"1302","message":"busy \\u001b[31mred\\u001b[0m\\nnext line"}}',
        b"upstream said \x1b]0;pwned\x07 and \x9b2J then\r\nmore",
        bytes(range(256)),
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(200)),
        b"<html><head><title>502 \x1b[5mBad\x1b[0m Gateway</title></head></html>",
    ],
    ids=["json-escapes", "text-escapes", "binary", "gzip-unlabelled", "html-escapes"],
)
async def test_error_bodies_never_put_control_bytes_in_the_message(
    wire: WireServer, body: bytes
) -> None:
    wire.reply(Reply(body=body, status=400, headers={"Content-Type": "text/plain"}))
    async with client_for(wire) as client:
        result = await collect(client)
    message = result["error"].message
    assert not TERMINAL_CONTROL.search(message), message
    assert "\n" not in message and "\r" not in message


# --------------------------------------------------------------------------- finish reasons

UNKNOWN = "eos_token"


def finish_stream(reason: str, *, text: str = "Partial answer") -> bytes:
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    events = [sse_event({"content": text})] if text else []
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}], "usage": usage})
    return sse_body(*events)


def test_the_table_covers_every_documented_reason() -> None:
    documented = {
        "stop",
        "length",
        "tool_calls",
        "function_call",
        "sensitive",
        "network_error",
        "model_context_window_exceeded",
        "error",
        "content_filter",
    }
    assert set(FINISH_RULES) == documented
    for rule in FINISH_RULES.values():
        assert rule.kind is None or rule.kind in EXIT_STATUS_BY_KIND
        assert (rule.status, _exit_status(rule) == 0) == (
            ("complete", True) if rule.ok else ("partial", False)
        )
    assert finish_rule(UNKNOWN).ok and UNKNOWN in finish_rule(UNKNOWN).note
    assert finish_note("stop") is None and finish_note("stop", tool_calls=True) == TOOL_NOTE


def _exit_status(rule: FinishRule) -> int:
    """What `ask` exits with for an answer that ended by this rule (DESIGN.md's table)."""
    return 0 if rule.kind is None else EXIT_STATUS_BY_KIND[rule.kind]


@pytest.mark.parametrize("reason", [*FINISH_RULES, UNKNOWN])
async def test_each_finish_reason_through_the_client(wire: WireServer, reason: str) -> None:
    wire.reply(Reply(body=finish_stream(reason), splits=AWKWARD))
    async with client_for(wire) as client:
        result = await collect(client)
    rule = finish_rule(reason)
    assert result["content"] == "Partial answer"  # kept in every case
    assert usage_of(result).total_tokens == 8  # usage is delivered before an error, too
    if rule.ok:
        assert result["error"] is None and result["finish"].reason == reason
    else:
        error = result["error"]
        assert error.kind == rule.kind and error.finish_reason == reason
        assert result["finish"] is None
        assert f'"{reason}"' in error.message and "partial answer is kept" in error.message


@pytest.mark.parametrize("reason", [*FINISH_RULES, UNKNOWN])
def test_each_finish_reason_through_ask(wire: WireServer, reason: str) -> None:
    wire.reply(Reply(body=finish_stream(reason), splits=7))
    proc = run_ask("--json", "--no-save", "--base-url", wire.url, "hi")
    rule = finish_rule(reason)
    doc = json.loads(proc.stdout)
    assert proc.returncode == _exit_status(rule), proc.stderr
    assert doc["content"] == "Partial answer" and doc["finish_reason"] == reason
    assert doc["usage"]["total_tokens"] == 8
    if rule.ok:
        assert doc["error"] is None
        note = finish_note(reason)
        assert proc.stderr == (f"glmchat: note: {note}\n" if note else "")
    else:
        assert doc["error"]["kind"] == rule.kind
        assert proc.stderr.count("\n") == 1 and reason in proc.stderr


def test_network_error_is_a_failure_with_the_partial_answer(wire: WireServer) -> None:
    """Z.ai's documented model-inference failure: exit 5, never success."""
    wire.reply(Reply(body=finish_stream("network_error")))
    proc = run_ask("--no-save", "--base-url", wire.url, "hi")
    assert proc.returncode == 5
    assert proc.stdout == "Partial answer\n"
    assert "network_error" in proc.stderr and "partial answer is kept" in proc.stderr


async def test_a_failing_finish_before_any_text_is_retried_only_when_retryable(
    wire: WireServer,
) -> None:
    wire.reply(
        Reply(body=finish_stream("network_error", text="")),
        fixture_reply("zai_nothinking_stream"),
        Reply(body=finish_stream("sensitive", text="")),
        fixture_reply("zai_nothinking_stream"),
    )
    async with client_for(wire) as client:
        retried = await collect(client)
        filtered = await collect(client)
    assert any(isinstance(e, RetryScheduled) for e in retried["events"])
    assert retried["error"] is None and retried["finish"].reason == "stop"
    assert filtered["error"].kind == "bad_request"
    assert len(wire.requests) == 3  # the filtered answer was not asked for again


# --------------------------------------------------------------------------- content parts


def test_content_parts_through_ask(wire: WireServer) -> None:
    wire.reply(fixture_reply("content_parts_stream", splits=AWKWARD))
    proc = run_ask("--json", "--no-save", "-m", "openai/glm-4.7", "--base-url", wire.url, "q")
    doc = json.loads(proc.stdout)
    expected = sidecar("content_parts_stream")["expected"]
    assert proc.returncode == 0, proc.stderr
    assert (doc["content"], doc["reasoning"]) == (expected["content"], expected["reasoning"])


def test_an_unknown_content_part_is_a_protocol_error(wire: WireServer) -> None:
    wire.reply(fixture_reply("content_parts_unknown", splits=AWKWARD))
    proc = run_ask("--json", "--no-save", "-m", "openai/glm-4.7", "--base-url", wire.url, "q")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert doc["error"]["kind"] == "protocol" and '"image_url"' in doc["error"]["message"]
    assert doc["content"] == "Here is the chart:"  # what came before is kept


@pytest.mark.parametrize(
    "content",
    [
        {"type": "text", "text": "a dict, not a list"},
        42,
        [{"type": "text"}],
        [{"type": "text", "text": 7}],
        [{"text": "no type"}],
        [["nested"]],
    ],
)
async def test_content_that_is_neither_text_nor_known_parts(wire: WireServer, content) -> None:
    wire.reply(Reply(body=sse_body(sse_event({"content": content}, finish_reason="stop"))))
    async with client_for(wire) as client:
        result = await collect(client)
    assert result["error"].kind == "protocol" and result["finish"] is None


# --------------------------------------------------------------------------- tool calls


@pytest.mark.parametrize("name", ["tool_only_whole_calls", "tool_only_fragments"])
def test_tool_only_answer_through_ask_json(wire: WireServer, name: str) -> None:
    wire.reply(fixture_reply(name, splits=AWKWARD))
    provider = "openrouter/z-ai/glm-4.6" if "fragments" in name else "zai/glm-4.7"
    proc = run_ask("--json", "--no-save", "-m", provider, "--base-url", wire.url, "q")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    meta = sidecar(name)
    assert doc["content"] == "" and doc["finish_reason"] == "tool_calls"
    assert doc["reasoning"] == meta["expected"]["reasoning"]
    assert doc["tool_calls"] == [
        {**call, "status": "denied", "result": None, "seconds": None}
        for call in meta["expected_extra"]["tool_calls"]
    ]
    assert TOOL_NOTE in proc.stderr


def test_tool_only_answer_without_json_says_the_tool_was_not_run(wire: WireServer) -> None:
    wire.reply(fixture_reply("tool_only_whole_calls", splits=5))
    proc = run_ask("--no-save", "--base-url", wire.url, "q")
    assert proc.returncode == 0 and proc.stdout == ""
    assert proc.stderr == f"glmchat: note: {TOOL_NOTE}\n"


def test_an_answer_without_tool_calls_has_no_tool_calls_key(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_nothinking_stream"))
    doc = json.loads(run_ask("--json", "--no-save", "--base-url", wire.url, "q").stdout)
    assert "tool_calls" not in doc


def test_accumulator_shapes() -> None:
    acc = ToolCallAccumulator()
    # Arguments sent as an object (Z.ai's API description types them so) become JSON text.
    acc.feed([{"id": "a", "function": {"name": "f", "arguments": {"x": "ü"}}}])
    # A bare piece with neither index nor id continues the call under way.
    acc.feed([{"id": "b", "index": 3, "function": {"name": "g", "arguments": '{"y":'}}])
    acc.feed([{"function": {"arguments": " 1}"}}])
    # A numeric id (Z.ai's non-streamed ids look like numbers) is still an id.
    acc.feed([{"id": 17, "function": {"name": "h", "arguments": "{}"}}])
    calls = acc.calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("a", "f", '{"x": "ü"}'),
        ("b", "g", '{"y": 1}'),
        ("17", "h", "{}"),
    ]
    nameless = ToolCallAccumulator()
    nameless.feed([{"index": 0, "function": {"arguments": "{}"}}])
    with pytest.raises(ValueError, match="no function name"):
        nameless.calls()
    for bad in ({"index": 0}, ["not a call"], [{"function": "add"}], [{"id": ["x"]}]):
        with pytest.raises(ValueError):
            ToolCallAccumulator().feed(bad)


async def test_a_malformed_tool_call_is_a_protocol_error_with_the_text_kept(
    wire: WireServer,
) -> None:
    body = sse_body(
        sse_event({"content": "Calling."}),
        sse_event({"tool_calls": [{"index": 0, "function": "add(2, 3)"}]}),
        sse_event({}, finish_reason="tool_calls"),
    )
    wire.reply(Reply(body=body))
    async with client_for(wire) as client:
        result = await collect(client)
    assert result["content"] == "Calling." and result["error"].kind == "protocol"


async def test_tool_calls_survive_a_failing_finish(wire: WireServer) -> None:
    call = {"id": "c1", "index": 0, "type": "function"}
    body = sse_body(
        sse_event({"tool_calls": [{**call, "function": {"name": "add", "arguments": "{}"}}]}),
        sse_event({}, finish_reason="network_error"),
    )
    wire.reply(*[Reply(body=body) for _ in range(3)])
    async with client_for(wire) as client:
        result = await collect(client)
    assert [c.name for c in result["error"].tool_calls] == ["add"]


# --------------------------------------------------------------------------- whole JSON answers


def padded_reply(content_type: str | None, *, encode: bool = False, **kw) -> Reply:
    body = (FIXTURES / "nonstream_padded.body").read_bytes()
    headers = {} if content_type is None else {"Content-Type": content_type}
    if encode:
        body = gzip.compress(body, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Reply(body=body, headers=headers, **kw)


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        ("application/json", False),
        ("application/json; charset=utf-8", True),
        ("text/event-stream", False),  # a server that ignores `stream: true` but not the label
        (None, False),
        ("text/plain", False),
    ],
)
@pytest.mark.parametrize("splits", [None, 1])
async def test_padded_non_streamed_json_is_one_answer(
    wire: WireServer, content_type: str | None, encode: bool, splits
) -> None:
    wire.reply(padded_reply(content_type, encode=encode, splits=splits))
    async with client_for(wire, "openrouter") as client:
        result = await collect(client)
    meta = sidecar("nonstream_padded")
    assert result["error"] is None, result["error"]
    assert result["content"] == meta["expected"]["content"]
    assert result["reasoning"] == meta["expected"]["reasoning"]
    finish = result["finish"]
    assert finish.reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in finish.tool_calls] == [
        (c["id"], c["name"], c["arguments"]) for c in meta["expected_extra"]["tool_calls"]
    ]
    usage = usage_of(result)
    assert (usage.total_tokens, usage.cached_tokens, usage.reasoning_tokens) == (150, 0, 12)


def test_padded_non_streamed_json_through_ask(wire: WireServer) -> None:
    wire.reply(padded_reply("application/json", splits=3))
    model = "openrouter/z-ai/glm-4.6"
    proc = run_ask("--json", "--no-save", "-m", model, "--base-url", wire.url, "q")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert doc["content"] == "Let me look that up." and doc["finish_reason"] == "tool_calls"
    assert doc["tool_calls"][0]["id"] == "call_-7807255211226955507"


async def test_a_whole_answer_larger_than_an_error_body_is_read_in_full(wire: WireServer) -> None:
    text = "word " * 40_000  # 200 KB, three times the error-body cap
    doc = {"choices": [{"index": 0, "finish_reason": "stop", "message": {"content": text}}]}
    wire.reply(Reply(body=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}))
    async with client_for(wire) as client:
        result = await collect(client)
    assert result["error"] is None and result["content"] == text


def test_a_whole_answer_with_a_failing_finish_keeps_its_text() -> None:
    doc = {"choices": [{"index": 0, "finish_reason": "sensitive", "message": {"content": "Part"}}]}
    provider = BUILTIN_PROVIDERS["zai"]
    events, error = parse_whole(provider, json.dumps(doc).encode(), StreamState(provider))
    assert [e.text for e in events if isinstance(e, ContentDelta)] == ["Part"]
    assert error is not None and error.kind == "bad_request" and error.finish_reason == "sensitive"
