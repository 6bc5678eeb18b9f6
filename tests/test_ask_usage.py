"""`ask --json` usage: counts the provider did not send are null, never a made-up 0."""

from __future__ import annotations

import json

from tests.test_ask_cli import ask
from tests.wire_server import Reply, WireServer, sse_body, sse_event


def _answer_with_usage(usage: dict) -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"content": "ok"}), sse_event({}, finish_reason="stop", usage=usage)
        )
    )


def test_absent_detail_counts_are_null(wire: WireServer) -> None:
    wire.reply(_answer_with_usage({"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}))
    proc = ask("--json", "--no-save", "--base-url", wire.url, "hi")
    assert proc.returncode == 0, proc.stderr
    usage = json.loads(proc.stdout)["usage"]
    assert usage["prompt_tokens"] == 9 and usage["total_tokens"] == 11
    assert usage["cached_tokens"] is None and usage["reasoning_tokens"] is None


def test_absent_top_level_counts_are_null_and_sent_zeros_stay_zero(wire: WireServer) -> None:
    wire.reply(
        _answer_with_usage(
            {
                "completion_tokens": 2,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            }
        )
    )
    proc = ask("--json", "--no-save", "--base-url", wire.url, "hi")
    usage = json.loads(proc.stdout)["usage"]
    assert usage["prompt_tokens"] is None and usage["total_tokens"] is None
    assert usage["completion_tokens"] == 2
    assert usage["cached_tokens"] == 0 and usage["reasoning_tokens"] == 0


def test_details_that_are_not_objects_or_numbers_are_null(wire: WireServer) -> None:
    wire.reply(
        _answer_with_usage(
            {
                "prompt_tokens": 3,
                "prompt_tokens_details": None,
                "completion_tokens_details": {"reasoning_tokens": True},
            }
        )
    )
    usage = json.loads(ask("--json", "--no-save", "--base-url", wire.url, "hi").stdout)["usage"]
    assert usage["cached_tokens"] is None and usage["reasoning_tokens"] is None
