"""Real provider recordings (Z.ai, OpenRouter, a gzip gateway) through `glmchat ask --json` and
through the client, served by the loopback server at awkward split points.

The recordings are third-party files kept in the shared wire folder beside the checkout: they
are read in place, never copied into the project, and these tests skip when it is absent."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from glmchat.backend.chunks import parse_stream
from glmchat.backend.events import ContentDelta, Finish, ReasoningDelta, Usage
from glmchat.backend.finish import TOOL_NOTE
from glmchat.backend.providers import BUILTIN_PROVIDERS
from tests.test_backend_wire import AWKWARD, client_for, collect, run_ask, usage_of
from tests.wire_server import Reply, WireServer

# tests/ -> the project root -> the folder that holds it, where `shared/` sits in CI.
RECORDED = Path(__file__).resolve().parents[2] / "shared" / "wire" / "recorded"


def _recordings(*, plain_streams: bool = False) -> list[Any]:
    """The recordings' names (with `plain_streams`: only uncompressed event streams), or one
    skipped case that says why there are none."""
    sidecars = sorted(RECORDED.glob("*.json")) if RECORDED.is_dir() else []
    if not sidecars:
        reason = f"{RECORDED} is absent (the shared wire folder is not beside the checkout)"
        return [pytest.param(None, id="absent", marks=pytest.mark.skip(reason=reason))]
    names = [p.stem for p in sidecars]
    if plain_streams:
        names = [
            n for n in names if _is_plain_stream(json.loads((RECORDED / f"{n}.json").read_text()))
        ]
    return [pytest.param(name, id=name) for name in names]


def _is_plain_stream(meta: dict[str, Any]) -> bool:
    return meta["body_file"].endswith(".sse") and "Content-Encoding" not in meta["response_headers"]


RECORDINGS = _recordings()


def meta_of(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())


def body_of(meta: dict[str, Any]) -> bytes:
    return (RECORDED / meta["body_file"]).read_bytes()


def provider_of(meta: dict[str, Any]) -> tuple[str, str]:
    """(provider name, `-m` value) for the provider that produced the recording."""
    who = meta["provider"]
    if who.startswith("zai"):
        return "zai", "zai/glm-4.7"
    if who == "openrouter":
        return "openrouter", "openrouter/z-ai/glm-4.6"
    return "openai", "openai/glm-4.7"  # a generic OpenAI-compatible gateway


def reply_of(meta: dict[str, Any], **kw: Any) -> Reply:
    headers = meta["response_headers"]
    return Reply(body=body_of(meta), status=meta["http_status"], headers=headers, **kw)


def wanted_calls(meta: dict[str, Any]) -> list[tuple[str, str, str]]:
    calls = (meta.get("expected_extra") or {}).get("tool_calls", [])
    return [(c["id"], c["name"], c["arguments"]) for c in calls]


def check_usage(usage: dict[str, Any], meta: dict[str, Any]) -> None:
    expected = meta["expected"]["usage"]
    extra = (meta.get("expected_extra") or {}).get("usage", {})
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert usage[key] == expected[key], key
    for key, value in extra.items():
        assert usage[key] == value, key


@pytest.mark.parametrize("name", RECORDINGS)
def test_recording_through_ask_json(wire: WireServer, name: str) -> None:
    meta = meta_of(name)
    expected = meta["expected"]
    assert expected["outcome"] == "ok"  # every recording so far is a good answer
    _, model = provider_of(meta)
    wire.reply(reply_of(meta, splits=AWKWARD))
    proc = run_ask("--json", "--no-save", "-m", model, "--base-url", wire.url, "q")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["error"] is None
    assert doc["content"] == expected["content"]
    assert doc["reasoning"] == expected["reasoning"]
    assert doc["finish_reason"] == expected["finish_reason"]
    check_usage(doc["usage"], meta)
    calls = wanted_calls(meta)
    assert [(c["id"], c["name"], c["arguments"]) for c in doc.get("tool_calls", [])] == calls
    assert all(c["status"] == "denied" for c in doc.get("tool_calls", []))
    # The only thing on stderr is the note that a tool call was not run.
    assert proc.stderr == (f"glmchat: note: {TOOL_NOTE}\n" if calls else "")


@pytest.mark.parametrize("name", RECORDINGS)
@pytest.mark.parametrize("seed", [1, 2])
async def test_recording_through_the_client_at_random_splits(
    wire: WireServer, name: str, seed: int
) -> None:
    meta = meta_of(name)
    body = body_of(meta)
    rng = random.Random(seed)
    sizes = [rng.randint(1, 48) for _ in range(len(body))]
    provider, _ = provider_of(meta)
    wire.reply(reply_of(meta, splits=sizes))
    async with client_for(wire, provider) as client:
        result = await collect(client)
    expected = meta["expected"]
    assert result["error"] is None, result["error"]
    assert (result["content"], result["reasoning"]) == (expected["content"], expected["reasoning"])
    finish = result["finish"]
    assert finish.reason == expected["finish_reason"]
    assert [(c.id, c.name, c.arguments) for c in finish.tool_calls] == wanted_calls(meta)
    check_usage(usage_of(result).as_dict(), meta)


async def _bytes(pieces: list[bytes]):
    for piece in pieces:
        yield piece


@pytest.mark.parametrize("name", _recordings(plain_streams=True))
async def test_recorded_event_stream_parsed_at_every_byte(name: str) -> None:
    """The pure parser alone (compressed recordings are decoded by the HTTP layer above)."""
    meta = meta_of(name)
    body = body_of(meta)
    provider = BUILTIN_PROVIDERS[provider_of(meta)[0]]
    content, reasoning, finish, usage = [], [], None, None
    async for event in parse_stream(provider, _bytes([body[i : i + 1] for i in range(len(body))])):
        if isinstance(event, ContentDelta):
            content.append(event.text)
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, Usage):
            usage = event
        elif isinstance(event, Finish):
            finish = event
    expected = meta["expected"]
    assert "".join(content) == expected["content"]
    assert "".join(reasoning) == expected["reasoning"]
    assert finish is not None and finish.reason == expected["finish_reason"]
    assert [(c.id, c.name, c.arguments) for c in finish.tool_calls] == wanted_calls(meta)
    assert usage is not None
    check_usage(usage.as_dict(), meta)
