"""Every recorded stream and error body, parsed at awkward byte splits, matches its sidecar."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glmchat.backend import errors as E
from glmchat.backend.chunks import parse_stream
from glmchat.backend.dialects import classify_error, parse_error_body
from glmchat.backend.events import ContentDelta, Finish, ReasoningDelta, Usage
from glmchat.backend.providers import BUILTIN_PROVIDERS
from tests.wire_server import FIXTURES, sidecar, sse_data

STREAMS = sorted(p.stem for p in FIXTURES.glob("*.sse"))
ERRORS = sorted(p.stem for p in FIXTURES.glob("*.body") if "error" in p.stem)

# The sidecars' error vocabulary mapped to DESIGN.md's `kind`s.
KIND = {
    "auth": "auth",
    "rate_limit": "rate_limit",
    "quota_exhausted": "quota",
    "context_too_long": "context_length",
    "overloaded": "overloaded",
    "server_error": "server",
    "mid_stream_error": "server",
    "incomplete_stream": "interrupted",
    "malformed_chunk": "protocol",
}


def provider_for(name: str):
    who = sidecar(name)["provider"]
    if who.startswith("zai"):
        return BUILTIN_PROVIDERS["zai"]
    if who == "openrouter":
        return BUILTIN_PROVIDERS["openrouter"]
    return BUILTIN_PROVIDERS["openai"]


async def _agen(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def run_parse(name: str, chunks: Iterable[bytes]) -> dict:
    result: dict = {
        "content": [],
        "reasoning": [],
        "usage": None,
        "finish": None,
        "error": None,
        "tool_calls": None,
    }
    try:
        async for event in parse_stream(provider_for(name), _agen(chunks)):
            if isinstance(event, ContentDelta):
                result["content"].append(event.text)
            elif isinstance(event, ReasoningDelta):
                result["reasoning"].append(event.text)
            elif isinstance(event, Usage):
                result["usage"] = event
            elif isinstance(event, Finish):
                result["finish"] = event.reason
                result["tool_calls"] = event.tool_calls
    except E.ProviderError as exc:
        result["error"] = exc
        result["tool_calls"] = exc.tool_calls
    result["content"] = "".join(result["content"])
    result["reasoning"] = "".join(result["reasoning"])
    return result


def check(name: str, result: dict) -> None:
    meta = sidecar(name)
    expected = meta["expected"]
    assert result["content"] == expected["content"]
    assert result["reasoning"] == expected["reasoning"]
    assert "\ufffd" not in result["content"] + result["reasoning"]
    if expected["outcome"] == "ok":
        assert result["error"] is None, result["error"]
        assert result["finish"] == expected["finish_reason"]
        if expected["usage"] is None:
            assert result["usage"] is None
        else:
            usage = result["usage"]
            assert usage.prompt_tokens == expected["usage"]["prompt_tokens"]
            assert usage.completion_tokens == expected["usage"]["completion_tokens"]
            assert usage.total_tokens == expected["usage"]["total_tokens"]
            cached = (expected["usage"].get("prompt_tokens_details") or {}).get("cached_tokens")
            assert usage.cached_tokens == cached
        # Every tool call the sidecar names, in order, whole: none dropped, none doubled.
        calls = [(c.id, c.name, c.arguments) for c in result["tool_calls"]]
        wanted = (meta.get("expected_extra") or {}).get("tool_calls", [])
        assert calls == [(c["id"], c["name"], c["arguments"]) for c in wanted]
    else:
        error = result["error"]
        assert error is not None, "expected an error"
        assert error.kind == KIND[expected["error"]["kind"]]
        assert result["finish"] is None
        if "code" in expected["error"]:
            assert error.code == str(expected["error"]["code"])
        assert error.message.endswith(".") or error.message.endswith("retry.")


def splits_every_byte(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


def splits_random(body: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out, pos = [], 0
    while pos < len(body):
        size = rng.randint(1, 64)
        out.append(body[pos : pos + size])
        pos += size
    return out


def body_of(name: str) -> bytes:
    return (FIXTURES / sidecar(name)["body_file"]).read_bytes()


@pytest.mark.parametrize("name", STREAMS)
async def test_stream_in_one_piece(name: str) -> None:
    check(name, await run_parse(name, [body_of(name)]))


@pytest.mark.parametrize("name", STREAMS)
async def test_stream_split_at_every_byte(name: str) -> None:
    check(name, await run_parse(name, splits_every_byte(body_of(name))))


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_stream_random_slices(name: str, seed: int) -> None:
    check(name, await run_parse(name, splits_random(body_of(name), seed)))


async def test_crlf_cut_between_cr_and_lf() -> None:
    body = body_of("crlf_stream")
    cuts = [i + 1 for i in range(len(body) - 1) if body[i : i + 2] == b"\r\n"]
    assert cuts, "fixture has CRLF pairs"
    pieces, last = [], 0
    for cut in cuts:
        pieces.append(body[last:cut])
        last = cut
    pieces.append(body[last:])
    check("crlf_stream", await run_parse("crlf_stream", pieces))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(STREAMS))
async def test_stream_hypothesis_splits(data: st.DataObject, name: str) -> None:
    body = body_of(name)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=40))))
    pieces, last = [], 0
    for cut in cuts:
        pieces.append(body[last:cut])
        last = cut
    pieces.append(body[last:])
    check(name, await run_parse(name, pieces))


@pytest.mark.parametrize("name", ERRORS)
def test_error_bodies(name: str) -> None:
    meta = sidecar(name)
    expected = meta["expected"]["error"]
    body = (FIXTURES / meta["body_file"]).read_bytes()
    code, message, metadata = parse_error_body(body)
    error = classify_error(
        provider_for(name), meta["http_status"], code, message, metadata=metadata
    )
    assert error.kind == KIND[expected["kind"]]
    assert error.retryable == expected["retryable"]
    assert error.http_status == expected["http_status"]
    assert error.code == str(expected["code"])
    assert expected["message"] in error.message  # the provider's own words are shown


def test_zai_1113_1302_1305_are_three_kinds() -> None:
    zai = BUILTIN_PROVIDERS["zai"]
    kinds = {code: classify_error(zai, 429, code, "x").kind for code in ("1113", "1302", "1305")}
    assert kinds == {"1113": "quota", "1302": "rate_limit", "1305": "overloaded"}
    assert not classify_error(zai, 429, "1113", "x").retryable


def test_html_gateway_page_becomes_short_message() -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
        + b"<h1>nginx</h1>" * 500
        + b"</body></html>"
    )
    code, message, _ = parse_error_body(page)
    error = classify_error(BUILTIN_PROVIDERS["zai"], 502, code, message)
    assert error.kind == "server"
    assert "<" not in error.message and "502 Bad Gateway" in error.message
    assert len(error.message) < 200


def test_free_daily_limit_names_reset_time() -> None:
    meta = sidecar("openrouter_error_429_free_daily")
    code, message, metadata = parse_error_body((FIXTURES / meta["body_file"]).read_bytes())
    error = classify_error(BUILTIN_PROVIDERS["openrouter"], 429, code, message, metadata=metadata)
    assert error.kind == "quota"
    assert "2025-08-07 00:00 UTC" in error.message


def test_fixture_files_are_the_shared_ones() -> None:
    """tests/fixtures holds a copy of every shared wire fixture (data, not read at run time)."""
    assert len(STREAMS) >= 10 and len(ERRORS) >= 9
    assert Path(FIXTURES / "zai_thinking_stream.sse").stat().st_size > 0


async def test_finish_reason_error_without_error_object_is_a_server_error() -> None:
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"partial"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    result = await run_parse("zai_thinking_stream", [body])
    assert result["content"] == "partial"
    assert result["error"].kind == "server" and result["finish"] is None


async def test_event_lines_ids_and_multiline_data_follow_the_spec() -> None:
    body = (
        b"\xef\xbb\xbfid: 1\r\nevent: message\r\nretry: 100\r\n"
        b'data: {"choices":[{"index":0,\r\ndata: "delta":{"content":"a\xe2\x80\xa8b"}}]}\r\n\r\n'
        b"data:[DONE]\n\n"
    )
    result = await run_parse("zai_thinking_stream", [body[i : i + 1] for i in range(len(body))])
    assert result["content"] == "a\u2028b" and result["finish"] == "stop"


async def test_usage_on_a_repeated_finish_chunk_is_kept() -> None:
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n'
    )
    result = await run_parse("openrouter_reasoning_stream", [body])
    assert result["finish"] == "stop" and result["usage"].total_tokens == 4


async def test_deepseek_legacy_reasoning_is_not_doubled_whichever_comes_first() -> None:
    def chunk(delta: dict) -> bytes:
        return sse_data({"choices": [{"index": 0, "delta": delta}]})

    tags_first = (
        chunk({"content": "<think>Hmm"})
        + chunk({"reasoning_content": "Hmm"})
        + chunk({"content": " ok</think>Answer", "reasoning_content": " ok"})
        + b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    )
    field_first = (
        chunk({"reasoning_content": "Hmm"})
        + chunk({"content": "<think>Hmm"})
        + chunk({"content": " ok</think>Answer", "reasoning_content": " ok"})
        + b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    )
    for body in (tags_first, field_first):
        result = await run_parse("llamacpp_think_tags_stream", [body])
        assert result["reasoning"] == "Hmm ok" and result["content"] == "Answer"
