"""The event-stream decoder against public conformance vectors, cut at every byte.

The vectors (web-platform-tests, openai-python, anthropic-sdk-python, eventsource-parser) are
third-party text kept in the shared wire folder beside the checkout; they are read in place,
never copied into the project, and the test skips when the folder is absent."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from glmchat.backend.sse import ServerSentEvent, SSEDecoder

# tests/ -> the project root -> the folder that holds it, where `shared/` sits in CI.
VECTORS_FILE = Path(__file__).resolve().parents[2] / "shared" / "wire" / "sse_vectors.json"


def _vectors() -> list[Any]:
    if not VECTORS_FILE.is_file():
        reason = f"{VECTORS_FILE} is absent (the shared wire folder is not beside the checkout)"
        return [pytest.param(None, id="absent", marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(v, id=v["name"]) for v in json.loads(VECTORS_FILE.read_text())]


def decode(pieces: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    decoder.close()
    return events


def same(events: list[ServerSentEvent], expected: list[dict[str, str]]) -> bool:
    """Type and data always; the last event id where the vector states one."""
    return len(events) == len(expected) and all(
        got.event == want["event"]
        and got.data == want["data"]
        and ("id" not in want or got.id == want["id"])
        for got, want in zip(events, expected, strict=True)
    )


def test_all_vectors_are_read() -> None:
    if not VECTORS_FILE.is_file():
        pytest.skip(f"{VECTORS_FILE} is absent")
    assert len(json.loads(VECTORS_FILE.read_text())) >= 69


@pytest.mark.parametrize("vector", _vectors())
def test_vector_at_every_byte_split(vector: dict[str, Any]) -> None:
    body = base64.b64decode(vector["input_b64"])
    expected = vector["expected_events"]  # the spec's answer, also where SDKs diverge
    assert same(decode([body]), expected), "whole body"
    assert same(decode([body[i : i + 1] for i in range(len(body))]), expected), "byte by byte"
    for cut in range(1, len(body)):
        assert same(decode([body[:cut], body[cut:]]), expected), f"cut at byte {cut}"
    if "chunks_b64" in vector:
        pieces = [base64.b64decode(c) for c in vector["chunks_b64"]]
        assert same(decode(pieces), expected), "the vector's own reads"
