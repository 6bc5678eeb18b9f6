"""`ask --json` usage: counts the provider did not send are null, never a made-up 0; an
exchange of several model calls (a tool loop, a --schema repair round) reports their sum."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from glmchat.engine.structured import ANSWER_TOOL
from tests.test_ask_cli import GLMCHAT, ask
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


# --- several model calls in one exchange ------------------------------------------------------

# Two rounds with different counts: a figure that is one round's, or the first's, shows.
FIRST = {
    "prompt_tokens": 2000,
    "completion_tokens": 300,
    "total_tokens": 2300,
    "prompt_tokens_details": {"cached_tokens": 500},
    "completion_tokens_details": {"reasoning_tokens": 120},
}
SECOND = {
    "prompt_tokens": 2600,
    "completion_tokens": 40,
    "total_tokens": 2640,
    "prompt_tokens_details": {"cached_tokens": 2000},
    "completion_tokens_details": {"reasoning_tokens": 10},
}
SUM = {
    "prompt_tokens": 4600,
    "completion_tokens": 340,
    "total_tokens": 4940,
    "cached_tokens": 2500,
    "reasoning_tokens": 130,
}
GLM45 = (0.60, 0.11, 2.20)  # zai/glm-4.5, USD per million: input, cached, output


def _catalogue_cost(usage: dict[str, Any]) -> float:
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    price_in, price_cached, price_out = GLM45
    return (
        (usage["prompt_tokens"] - cached) * price_in
        + cached * price_cached
        + usage["completion_tokens"] * price_out
    ) / 1_000_000


def _call(name: str, arguments: str, usage: dict[str, Any]) -> Reply:
    call = {"id": "call_1", "index": 0, "type": "function"}
    call["function"] = {"name": name, "arguments": arguments}  # type: ignore[assignment]
    return Reply(
        body=sse_body(
            sse_event({"tool_calls": [call]}),
            sse_event({"content": ""}, finish_reason="tool_calls", usage=usage),
        )
    )


def _text(text: str, usage: dict[str, Any]) -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"content": text}), sse_event({}, finish_reason="stop", usage=usage)
        )
    )


def _usage_by_conversation() -> list[dict[str, Any]]:
    proc = subprocess.run(
        [GLMCHAT, "usage", "--by", "conversation", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, Any]] = json.loads(proc.stdout)["rows"]
    return rows


def _assert_summed(usage: dict[str, Any]) -> None:
    assert {key: usage[key] for key in SUM} == SUM
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["cost"] == pytest.approx(_catalogue_cost(FIRST) + _catalogue_cost(SECOND))
    assert usage["cost_source"] == "catalogue"
    [row] = _usage_by_conversation()  # what `glmchat usage` counts agrees
    assert row["cost"] == pytest.approx(usage["cost"])


def test_a_tool_loop_reports_the_sum_of_its_model_calls(wire: WireServer, tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    paths.config_path().parent.mkdir(parents=True, exist_ok=True)
    paths.config_path().write_text(
        f'[tools]\nbuiltin = ["list_dir"]\nallowed_dirs = [{json.dumps(str(root))}]\n'
    )
    wire.reply(_call("list_dir", json.dumps({"path": str(root)}), FIRST), _text("Empty.", SECOND))
    proc = ask("--json", "--yes", "-m", "zai/glm-4.5", "--base-url", wire.url, "look")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["content"] == "Empty." and [c["status"] for c in doc["tool_calls"]] == ["ok"]
    _assert_summed(doc["usage"])


def test_a_schema_repair_round_is_counted_with_the_first(wire: WireServer) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    wire.reply(_call(ANSWER_TOOL, '{"n": "two"}', FIRST), _call(ANSWER_TOOL, '{"n": 2}', SECOND))
    args = ("--json", "-m", "zai/glm-4.5", "--schema", json.dumps(schema), "--base-url", wire.url)
    proc = ask(*args, "How many?")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert json.loads(doc["content"]) == {"n": 2} and len(wire.requests) == 2
    _assert_summed(doc["usage"])


def test_provider_costs_of_a_repair_round_add_up(wire: WireServer) -> None:
    """OpenRouter sends each call's cost; the exchange's is their sum, still the provider's."""
    schema = {"type": "object", "required": ["n"]}
    wire.reply(
        _text("no JSON here", {**FIRST, "cost": 0.0125}),
        _text('{"n": 2}', {**SECOND, "cost": 0.0075}),
    )
    model = ("-m", "openrouter/z-ai/glm-4.6", "--schema", json.dumps(schema))
    proc = ask("--json", "--no-save", *model, "--base-url", wire.url, "How many?")
    assert proc.returncode == 0, proc.stderr
    usage = json.loads(proc.stdout)["usage"]
    assert (usage["cost"], usage["cost_source"]) == (pytest.approx(0.02), "provider")
    assert {key: usage[key] for key in SUM} == SUM
