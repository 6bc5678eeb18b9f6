"""The streaming client against a real loopback HTTP server: requests, retries, cuts, cancels."""

from __future__ import annotations

import asyncio
import json
import random
import time
import tracemalloc

import pytest

from glmchat import __version__
from glmchat.backend import errors as E
from glmchat.backend.events import (
    ChatRequest,
    ContentDelta,
    Finish,
    Message,
    ReasoningDelta,
    RetryScheduled,
    Usage,
)
from glmchat.backend.openai_compat import OpenAICompatClient, list_models
from glmchat.backend.providers import BUILTIN_PROVIDERS
from tests.wire_server import (
    FIXTURES,
    Reply,
    WireServer,
    fixture_reply,
    sidecar,
    sse_body,
    sse_event,
)


async def no_sleep(_: float) -> None:
    return None


def request(thinking: bool = True, **kw) -> ChatRequest:
    return ChatRequest(
        model="glm-4.5", messages=(Message("user", "hello"),), thinking=thinking, **kw
    )


async def collect(client: OpenAICompatClient, req: ChatRequest) -> dict:
    out: dict = {"content": "", "reasoning": "", "events": [], "error": None}
    content, reasoning = [], []
    try:
        async for event in client.stream(req):
            out["events"].append(event)
            if isinstance(event, ContentDelta):
                content.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
    except E.ProviderError as exc:
        out["error"] = exc
    out["content"] = "".join(content)
    out["reasoning"] = "".join(reasoning)
    return out


def client_for(wire: WireServer, provider: str = "zai", **kw) -> OpenAICompatClient:
    kw.setdefault("sleep", no_sleep)
    return OpenAICompatClient(
        BUILTIN_PROVIDERS[provider], "sk-test-key-1234", base_url=wire.url, **kw
    )


STREAMS = [
    "zai_thinking_stream",
    "openrouter_reasoning_stream",
    "utf8_multibyte_stream",
    "crlf_stream",
    "llamacpp_think_tags_stream",
    "ollama_reasoning_stream",
    "keepalive_empty_delta",
]


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("splits", [None, 1, 7, [3, 1, 50, 2, 900]])
async def test_fixture_over_http(wire: WireServer, name: str, splits) -> None:
    provider = {"openrouter_reasoning_stream": "openrouter"}.get(name, "zai")
    if "llamacpp" in name or "ollama" in name or "keepalive" in name:
        provider = "openai"
    delay = 0.0005 if splits == [3, 1, 50, 2, 900] else 0.0
    wire.reply(fixture_reply(name, splits=splits, delay=delay))
    async with client_for(wire, provider) as client:
        result = await collect(client, request())
    expected = sidecar(name)["expected"]
    assert result["error"] is None
    assert result["content"] == expected["content"]
    assert result["reasoning"] == expected["reasoning"]
    assert isinstance(result["events"][-1], Finish)


async def test_request_shape_zai_thinking_on_and_off(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_thinking_stream"), fixture_reply("zai_nothinking_stream"))
    history = (
        Message("user", "first"),
        Message("assistant", "answer one"),
        Message("user", "second"),
    )
    async with client_for(wire) as client:
        await collect(
            client,
            ChatRequest(
                "glm-4.5",
                history,
                thinking=True,
                system="be brief",
                temperature=0.6,
                max_tokens=1024,
            ),
        )
        await collect(client, ChatRequest("glm-4.5-air", history, thinking=False))
    on, off = wire.requests
    assert on.method == "POST" and on.path == "/chat/completions"
    assert on.headers["authorization"] == "Bearer sk-test-key-1234"
    assert on.headers["user-agent"] == f"glmchat/{__version__}"
    assert on.json["thinking"] == {"type": "enabled"}
    assert on.json["stream"] is True
    assert on.json["temperature"] == 0.6 and on.json["max_tokens"] == 1024
    assert on.json["messages"][0] == {"role": "system", "content": "be brief"}
    # History goes back as role/content only: never reasoning.
    assert on.json["messages"][1:] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer one"},
        {"role": "user", "content": "second"},
    ]
    assert off.json["thinking"] == {"type": "disabled"}
    assert "reasoning" not in off.json


async def test_request_shape_openrouter(wire: WireServer) -> None:
    wire.reply(fixture_reply("openrouter_reasoning_stream"), fixture_reply("zai_nothinking_stream"))
    async with client_for(wire, "openrouter") as client:
        await collect(client, request(thinking=True))
        await collect(client, request(thinking=False))
    on, off = wire.requests
    assert on.json["reasoning"] == {"enabled": True}
    assert off.json["reasoning"] == {"enabled": False}
    assert "thinking" not in on.json
    assert on.headers["x-title"] == "glmchat" and "http-referer" in on.headers


async def test_request_shape_generic_openai(wire: WireServer) -> None:
    wire.reply(fixture_reply("ollama_reasoning_stream"))
    async with client_for(wire, "ollama") as client:
        await collect(client, request(thinking=False))
    body = wire.requests[0].json
    assert body["reasoning_effort"] == "none"
    assert body["stream_options"] == {"include_usage": True}


async def test_retry_after_then_success(wire: WireServer) -> None:
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    wire.reply(
        fixture_reply(
            "zai_error_429_1302", headers={"Content-Type": "application/json", "Retry-After": "2"}
        ),
        fixture_reply("zai_thinking_stream"),
    )
    async with client_for(wire, sleep=sleep) as client:
        result = await collect(client, request())
    assert result["error"] is None
    retries = [e for e in result["events"] if isinstance(e, RetryScheduled)]
    assert len(retries) == 1 and retries[0].delay == 2.0 and slept == [2.0]
    assert "1302" in retries[0].error
    assert len(wire.requests) == 2


async def test_backoff_grows_and_is_bounded(wire: WireServer) -> None:
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    for _ in range(3):
        wire.reply(Reply(body=b"upstream down", status=502, headers={"Content-Type": "text/plain"}))
    async with client_for(wire, sleep=sleep, max_attempts=3) as client:
        result = await collect(client, request())
    assert result["error"].kind == "server" and len(wire.requests) == 3
    assert len(slept) == 2 and 0.5 <= slept[0] <= 1.0 and 1.0 <= slept[1] <= 2.0


async def test_the_retry_budget_is_kept_on_the_injected_clock(wire: WireServer) -> None:
    """Time is the test's: each wait moves a fake clock 30 s, so the 60 s budget is spent after
    two waits although no real time passes."""
    now = [1000.0]
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)
        now[0] += 30.0

    for _ in range(5):
        wire.reply(Reply(body=b"upstream down", status=502, headers={"Content-Type": "text/plain"}))
    async with client_for(
        wire, sleep=sleep, clock=lambda: now[0], max_attempts=5, retry_budget=60
    ) as client:
        result = await collect(client, request())
    assert result["error"].kind == "server"
    assert len(wire.requests) == 3 and len(slept) == 2


async def test_an_unreadable_retry_after_falls_back_to_the_backoff(wire: WireServer) -> None:
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    for _ in range(3):
        wire.reply(
            Reply(
                body=b'{"error":{"code":"1302","message":"busy"}}',
                status=429,
                headers={"Content-Type": "application/json", "Retry-After": "soon"},
            )
        )
    async with client_for(wire, sleep=sleep) as client:
        result = await collect(client, request())
    assert result["error"].kind == "rate_limit" and len(wire.requests) == 3
    assert len(slept) == 2 and 0.5 <= slept[0] <= 1.0 and 1.0 <= slept[1] <= 2.0


def test_backoff_doubles_up_to_its_cap_with_at_most_half_of_jitter() -> None:
    from glmchat.backend.retry import MAX_BACKOFF, RetryPolicy

    most = RetryPolicy(uniform=lambda low, high: high)
    least = RetryPolicy(uniform=lambda low, high: low)
    assert [most.backoff(n, None) for n in range(1, 8)] == [1, 2, 4, 8, 16, 16, 16]
    assert [least.backoff(n, None) for n in range(1, 6)] == [0.5, 1, 2, 4, 8]
    assert MAX_BACKOFF == 16 and most.backoff(3, 7.5) == 7.5 and most.backoff(3, -1) == 0


async def test_quota_1113_is_not_retried(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_error_429_1113"), fixture_reply("zai_thinking_stream"))
    async with client_for(wire) as client:
        result = await collect(client, request())
    assert result["error"].kind == "quota" and result["error"].code == "1113"
    assert "Insufficient balance" in result["error"].message
    assert len(wire.requests) == 1


async def test_never_retry_after_text(wire: WireServer) -> None:
    body = (FIXTURES / "truncated_no_done.sse").read_bytes()
    wire.reply(Reply(body=body), fixture_reply("zai_thinking_stream"))
    async with client_for(wire) as client:
        result = await collect(client, request())
    assert result["error"].kind == "interrupted"
    assert result["content"] == sidecar("truncated_no_done")["expected"]["content"]
    assert len(wire.requests) == 1


async def test_connection_cut_mid_stream_keeps_partial(wire: WireServer) -> None:
    body = (FIXTURES / "zai_thinking_stream.sse").read_bytes()
    cut = body.index(b'"content":"Hi') if b'"content":"Hi' in body else len(body) * 3 // 4
    wire.reply(Reply(body=body, splits=64, drop_after=cut))
    async with client_for(wire) as client:
        result = await collect(client, request())
    assert result["error"].kind == "interrupted"
    assert result["reasoning"]  # what arrived is delivered
    assert len(wire.requests) == 1
    # In the user's words, not the HTTP parser's.
    message = result["error"].message
    assert "(the server closed it)" in message and "peer" not in message


async def test_retry_budget_honours_rate_limit_reset(wire: WireServer) -> None:
    reset_ms = int((time.time() + 3600) * 1000)
    wire.reply(
        Reply(
            body=b'{"error":{"message":"slow down","code":429}}',
            status=429,
            headers={"Content-Type": "application/json", "X-RateLimit-Reset": str(reset_ms)},
        )
    )
    async with client_for(wire, "openrouter", retry_budget=60) as client:
        result = await collect(client, request())
    # An hour away is beyond the budget: report at once instead of hanging.
    assert result["error"].kind == "rate_limit" and len(wire.requests) == 1


async def test_read_timeout_between_chunks(wire: WireServer) -> None:
    body = (FIXTURES / "zai_thinking_stream.sse").read_bytes()
    wire.reply(Reply(body=body, splits=[400, 100000], delay=2.0))
    async with client_for(wire, read_timeout=0.3, max_attempts=1) as client:
        result = await collect(client, request())
    assert result["error"].kind == "interrupted"
    assert "0.3 s" in result["error"].message


async def test_read_timeout_before_any_byte_is_network(wire: WireServer) -> None:
    wire.reply(Reply(body=b"", head_delay=2.0))
    async with client_for(wire, read_timeout=0.2, max_attempts=1) as client:
        result = await collect(client, request())
    assert result["error"].kind == "network"


async def test_connection_refused_is_network() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    client = OpenAICompatClient(
        BUILTIN_PROVIDERS["zai"],
        "k",
        base_url=f"http://127.0.0.1:{port}",
        sleep=no_sleep,
        max_attempts=1,
    )
    async with client:
        result = await collect(client, request())
    assert result["error"].kind == "network"
    assert f"127.0.0.1:{port}" in result["error"].message


async def test_cancel_closes_connection(wire: WireServer) -> None:
    def slow():
        yield b'data: {"choices":[{"index":0,"delta":{"content":"tick"}}]}\n\n'
        for _ in range(200):
            yield b": keep-alive\n\n"

    wire.reply(Reply(chunks=slow, delay=0.05))
    async with client_for(wire) as client:
        got = asyncio.Event()

        async def consume() -> None:
            async for event in client.stream(request()):
                if isinstance(event, ContentDelta):
                    got.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        seen = await asyncio.to_thread(wire.disconnected.wait, 2.0)
    assert seen and wire.disconnects == 1


async def test_html_page_with_200_is_protocol_error(wire: WireServer) -> None:
    wire.reply(
        Reply(body=b"<html><title>Login</title></html>", headers={"Content-Type": "text/html"})
    )
    async with client_for(wire) as client:
        result = await collect(client, request())
    assert result["error"].kind == "protocol" and "<" not in result["error"].message


async def test_non_streaming_json_answer_is_accepted(wire: WireServer) -> None:
    doc = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": "whole",
                    "reasoning_content": "thought",
                },
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    wire.reply(Reply(body=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}))
    async with client_for(wire) as client:
        result = await collect(client, request())
    assert result["content"] == "whole" and result["reasoning"] == "thought"
    assert isinstance(result["events"][-2], Usage)


async def test_list_models(wire: WireServer) -> None:
    wire.reply(fixture_reply("openrouter_models_list"))
    ids = await list_models(BUILTIN_PROVIDERS["openrouter"], "sk-x", base_url=wire.url)
    assert ids == sorted(sidecar("openrouter_models_list")["expected"]["ids"])
    assert wire.requests[0].path == "/models"
    assert wire.requests[0].headers["authorization"] == "Bearer sk-x"


def _long_stream(n_reason: int, n_content: int, seed: int):
    def gen():
        rng = random.Random(seed)
        buf = bytearray(b": OPENROUTER PROCESSING\n\n")
        for i in range(n_reason):
            buf += sse_event({"reasoning_content": f" r{i}"})
        for i in range(n_content):
            buf += sse_event({"content": f" w{i}é"})
        n = n_reason + n_content
        usage = {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}
        buf += sse_body(sse_event({"content": ""}, finish_reason="stop", usage=usage))
        data = bytes(buf)
        pos = 0
        while pos < len(data):
            size = rng.randint(1024, 16384)
            yield data[pos : pos + size]
            pos += size

    return gen


async def test_long_stream_reconstructed_exactly_with_linear_memory(wire: WireServer) -> None:
    n = 20_000
    wire.reply(Reply(chunks=_long_stream(2_000, n, seed=7)))
    tracemalloc.start()
    try:
        async with client_for(wire) as client:
            content: list[str] = []
            reasoning: list[str] = []
            async for event in client.stream(request()):
                if isinstance(event, ContentDelta):
                    content.append(event.text)
                elif isinstance(event, ReasoningDelta):
                    reasoning.append(event.text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    text = "".join(content)
    assert text == "".join(f" w{i}é" for i in range(n))
    assert "".join(reasoning) == "".join(f" r{i}" for i in range(2_000))
    # Memory is proportional to the answer (~22k small strings), not to the 4 MB of wire bytes
    # held at once or to a quadratic buffer.
    assert peak < 12 * 1024 * 1024, peak


async def test_long_stream_cut_at_random_byte(wire: WireServer) -> None:
    gen = _long_stream(0, 5_000, seed=3)
    total = sum(len(c) for c in gen())
    cut = random.Random(11).randint(total // 4, total * 3 // 4)
    wire.reply(Reply(chunks=gen, drop_after=cut))
    async with client_for(wire) as client:
        result = await collect(client, request())
    assert result["error"].kind == "interrupted"
    words = result["content"].split()
    assert words == [f"w{i}é" for i in range(len(words))]  # an exact prefix, nothing garbled


def test_the_key_never_shows_in_reprs_or_locals() -> None:
    client = OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "sk-very-secret-777")
    shown = repr(client) + repr(vars(client)) + repr(client.headers())
    assert "sk-very-secret-777" not in shown
    assert client.headers()["authorization"] == "Bearer sk-very-secret-777"


def test_clients_share_one_tls_context_that_verifies_certificates() -> None:
    import ssl

    from glmchat.backend.openai_compat import shared_ssl_context

    context = shared_ssl_context()
    assert context is shared_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
