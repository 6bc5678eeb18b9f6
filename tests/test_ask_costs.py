"""`glmchat ask` and money: the cost of an answer in `--json` (OpenRouter's own figure, else the
catalogue's prices with cached input at its own price, else null), stored with the answer;
`[budget]` warnings on stderr; the coding plan's notice, said once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmchat.config import save_value
from glmchat.store import SessionStore
from tests.test_ask_cli import ask
from tests.wire_server import Reply, WireServer, fixture_reply, sse_body, sse_event

# RECORDED in tests/test_backend_recorded.py: read in place, skipped when absent.
RECORDED = Path(__file__).resolve().parents[2] / "shared" / "wire" / "recorded"

# GLM-4.5 on Z.ai, USD per million tokens (wire/TOOLS.md section 6): input, cached, output.
GLM45 = (0.60, 0.11, 2.20)


def _reply(usage: dict, text: str = "ok") -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"content": text}), sse_event({}, finish_reason="stop", usage=usage)
        )
    )


def _zai_usage(prompt: int, cached: int, completion: int, reasoning: int) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _db(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "data" / "glmchat.db")


def test_zai_cost_from_the_catalogue_with_cached_input_at_its_own_price(
    wire: WireServer, tmp_path: Path
) -> None:
    """Reasoning tokens are part of completion_tokens and billed as output: they add
    nothing on top."""
    wire.reply(_reply(_zai_usage(prompt=2000, cached=1500, completion=500, reasoning=300)))
    proc = ask("--json", "-m", "zai/glm-4.5", "--base-url", wire.url, "hi")
    assert proc.returncode == 0, proc.stderr
    usage = json.loads(proc.stdout)["usage"]
    price_in, price_cached, price_out = GLM45
    expected = (500 * price_in + 1500 * price_cached + 500 * price_out) / 1_000_000
    assert usage["cost"] == pytest.approx(expected)  # $0.001565
    assert usage["cost_source"] == "catalogue"
    with _db(tmp_path) as store:
        (summary,) = store.list_conversations()
        answer = store.get_conversation(summary.id).messages[-1]
    assert (answer.cost, answer.cost_source) == (pytest.approx(expected), "catalogue")
    assert summary.cost == pytest.approx(expected)


def test_no_cached_count_means_every_input_token_at_the_input_price(wire: WireServer) -> None:
    wire.reply(_reply({"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}))
    proc = ask("--json", "--no-save", "-m", "zai/glm-5.3", "--base-url", wire.url, "hi")
    usage = json.loads(proc.stdout)["usage"]
    assert usage["cost"] == pytest.approx((1000 * 1.40 + 100 * 4.40) / 1_000_000)


def test_openrouter_cost_is_the_provider_s_own_and_usage_is_asked_for(wire: WireServer) -> None:
    wire.reply(fixture_reply("openrouter_reasoning_stream", splits=7))
    proc = ask(
        "--json",
        "--no-save",
        "-m",
        "openrouter/z-ai/glm-4.5-air:free",
        "--base-url",
        wire.url,
        "hi",
    )
    usage = json.loads(proc.stdout)["usage"]
    # The recording's cost is 0 (a free model): a reported 0 is a cost, not an unknown.
    assert (usage["cost"], usage["cost_source"]) == (0, "provider")
    assert wire.requests[0].json["usage"] == {"include": True}


def test_openrouter_recorded_cost_beats_the_catalogue(wire: WireServer) -> None:
    """A real OpenRouter stream (DeepInfra serving z-ai/glm-4.5) reports usage.cost; that
    figure is the answer's, not one computed from prices."""
    name = "openrouter_deepinfra_glm45_stream"
    if not (RECORDED / f"{name}.sse").is_file():
        pytest.skip(f"{RECORDED} is absent (the shared wire folder is not beside the checkout)")
    wire.reply(Reply(body=(RECORDED / f"{name}.sse").read_bytes(), splits=11))
    proc = ask("--json", "--no-save", "-m", "openrouter/z-ai/glm-4.5", "--base-url", wire.url, "q")
    usage = json.loads(proc.stdout)["usage"]
    assert (usage["cost"], usage["cost_source"]) == (0.000248, "provider")
    assert usage["prompt_tokens"] == 16 and usage["completion_tokens"] == 151


@pytest.mark.parametrize(
    "model",
    ["zai/glm-9-unreleased", "zai-coding/glm-4.6"],  # no entry; a flat-fee plan has no prices
)
def test_a_model_without_prices_has_a_null_cost(wire: WireServer, model: str) -> None:
    wire.reply(_reply(_zai_usage(100, 0, 10, 0)))
    proc = ask(
        "--json",
        "--no-save",
        "-m",
        model,
        "--base-url",
        wire.url,
        "hi",
        env={"ZAI_CODING_API_KEY": "sk-coding-1111"},
    )
    assert proc.returncode == 0, proc.stderr
    usage = json.loads(proc.stdout)["usage"]
    assert usage["cost"] is None and usage["cost_source"] is None
    assert usage["prompt_tokens"] == 100  # the counts are still there


def test_config_prices_price_a_model_the_catalogue_lacks(wire: WireServer, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "config.toml").write_text(
        '[models."zai/glm-9-unreleased"]\nprice_input = 2\nprice_output = 8\n'
    )
    wire.reply(_reply(_zai_usage(1000, 400, 100, 0)))
    proc = ask("--json", "--no-save", "-m", "zai/glm-9-unreleased", "--base-url", wire.url, "hi")
    usage = json.loads(proc.stdout)["usage"]
    # No cached price given: cached tokens cost the input price (never less than they may).
    assert usage["cost"] == pytest.approx((1000 * 2 + 100 * 8) / 1_000_000)
    assert usage["cost_source"] == "catalogue"


# -- [budget] --------------------------------------------------------------------------


def test_budget_crossed_warns_on_stderr_and_never_blocks(wire: WireServer) -> None:
    save_value("budget.daily_usd", "0.002")
    save_value("budget.monthly_usd", "100")
    usage = _zai_usage(prompt=2000, cached=1500, completion=500, reasoning=0)  # $0.001565
    wire.reply(_reply(usage), _reply(usage), _reply(usage))
    first = ask("-m", "zai/glm-4.5", "--base-url", wire.url, "one")
    assert first.returncode == 0 and "budget" not in first.stderr
    second = ask("--json", "-m", "zai/glm-4.5", "--base-url", wire.url, "two")
    assert second.returncode == 0
    assert json.loads(second.stdout)["content"] == "ok"  # answered: a warning, not a block
    (line,) = [ln for ln in second.stderr.splitlines() if "budget" in ln]
    assert line == (
        "glmchat: budget: Today's answers have cost $0.0031, over your daily budget of "
        "$0.0020 ([budget] daily_usd)."
    )
    third = ask("-m", "zai/glm-4.5", "--base-url", wire.url, "three")
    assert third.returncode == 0 and "over your daily budget" in third.stderr
    assert "monthly" not in third.stderr


def test_no_budget_no_warning_and_no_saving_no_figures(wire: WireServer) -> None:
    wire.reply(_reply(_zai_usage(10**6, 0, 10**6, 0)))  # $2.80
    proc = ask("-m", "zai/glm-4.5", "--base-url", wire.url, "hi")
    assert proc.returncode == 0 and proc.stderr == ""


# -- the coding plan ---------------------------------------------------------------------


def test_coding_plan_notice_is_said_once_ever(wire: WireServer, tmp_path: Path) -> None:
    env = {"ZAI_CODING_API_KEY": "sk-coding-1111"}
    wire.reply(
        _reply(_zai_usage(5, 0, 1, 0)),
        _reply(_zai_usage(5, 0, 1, 0)),
        _reply(_zai_usage(5, 0, 1, 0)),
    )
    plain = ask("-m", "zai/glm-4.5", "--base-url", wire.url, "hi")
    assert "Coding Plan" not in plain.stderr  # another provider: nothing to say
    first = ask("-m", "zai-coding/glm-4.6", "--base-url", wire.url, "hi", env=env)
    assert first.returncode == 0
    notes = [ln for ln in first.stderr.splitlines() if "Coding Plan" in ln]
    assert len(notes) == 1 and "coding tools" in notes[0]
    assert (tmp_path / "data" / "coding-plan-notice-shown").is_file()
    second = ask("--json", "-m", "zai-coding/glm-4.6", "--base-url", wire.url, "hi", env=env)
    assert second.returncode == 0 and "Coding Plan" not in second.stderr
