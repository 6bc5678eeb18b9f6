"""`glmchat usage` over a real store, `sessions list --json` costs, and the cost arithmetic."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from glmchat import paths
from glmchat.backend.events import Usage
from glmchat.catalogue import ModelInfo
from glmchat.costs import UNKNOWN, Cost, add_costs, answer_cost, format_usd, priced_cost
from glmchat.store import SessionStore
from tests.test_ask_cli import GLMCHAT


def glmchat(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GLMCHAT, *args], capture_output=True, text=True, timeout=30, env=dict(os.environ)
    )


def _seed(days_ago: int, model: str, cost: float | None, provider: str = "zai") -> str:
    """A conversation of one prompt and one answer that finished `days_ago` days ago (noon)."""
    with SessionStore(paths.database_path()) as store:
        cid = store.create_conversation(model=model, provider=provider, thinking=True)
        store.add_message(cid, "user", f"about {model}", provider=provider, model=model)
        mid = store.begin_assistant(cid, model=model, provider=provider, thinking=True)
        store.finish_assistant(
            mid,
            content="answer",
            reasoning="",
            status="complete",
            usage={
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "cached_tokens": 10,
                "reasoning_tokens": 5,
            },
            cost=cost,
            cost_source="catalogue" if cost is not None else None,
        )
        noon = datetime.now().astimezone().replace(hour=12) - timedelta(days=days_ago)
        stamp = noon.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        store._conn.execute("UPDATE messages SET finished = ? WHERE id = ?", (stamp, mid))
    return cid


def _day(days_ago: int) -> str:
    return (datetime.now().astimezone() - timedelta(days=days_ago)).date().isoformat()


def test_usage_json_by_day_model_and_conversation_over_a_period() -> None:
    cheap = [_seed(n % 3, "glm-4.5", 0.001) for n in range(12)]
    dear = _seed(1, "glm-5.3", 0.5)
    _seed(0, "glm-9-unreleased", None)
    by_day = json.loads(glmchat("usage", "--json").stdout)
    assert [row["day"] for row in by_day["rows"]] == [_day(2), _day(1), _day(0)]
    assert by_day["total"]["answers"] == 14
    assert by_day["total"]["input_tokens"] == 1400 and by_day["total"]["cached_tokens"] == 140
    assert by_day["total"]["output_tokens"] == 280 and by_day["total"]["reasoning_tokens"] == 70
    assert by_day["total"]["cost"] == pytest.approx(0.512)
    assert by_day["total"]["unpriced_answers"] == 1
    assert by_day["coding_plan"] is None

    by_model = json.loads(glmchat("usage", "--by", "model", "--json").stdout)
    assert [(r["model"], r["answers"]) for r in by_model["rows"]] == [
        ("zai/glm-5.3", 1),
        ("zai/glm-4.5", 12),
        ("zai/glm-9-unreleased", 1),
    ]
    assert by_model["rows"][2]["cost"] is None  # no price known: null, not 0

    yesterday = _day(1)
    period = json.loads(
        glmchat(
            "usage", "--by", "conversation", "--since", yesterday, "--until", yesterday, "--json"
        ).stdout
    )
    assert (period["since"], period["until"]) == (yesterday, yesterday)
    ids = [row["conversation"] for row in period["rows"]]
    assert ids[0] == dear and set(ids[1:]) == {cheap[n] for n in range(12) if n % 3 == 1}
    assert period["rows"][0]["title"] == "about glm-5.3"


def test_usage_table_and_bad_dates() -> None:
    _seed(0, "glm-4.5", 0.25)
    proc = glmchat("usage", "--by", "model")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == [
        "model",
        "answers",
        "input",
        "cached",
        "output",
        "reasoning",
        "cost",
    ]
    assert lines[1].split() == ["zai/glm-4.5", "1", "100", "10", "20", "5", "$0.250"]
    assert lines[-1].split() == ["total", "1", "100", "10", "20", "5", "$0.250"]
    bad = glmchat("usage", "--since", "yesterday")
    assert bad.returncode == 2
    assert bad.stderr == "glmchat: --since 'yesterday' is not a date; give it as YYYY-MM-DD\n"
    backwards = glmchat("usage", "--since", "2026-08-02", "--until", "2026-08-01")
    assert backwards.returncode == 2 and "after --until" in backwards.stderr


def test_usage_with_no_database_says_so_and_makes_none() -> None:
    proc = glmchat("usage")
    assert (proc.returncode, proc.stdout) == (0, "No answers in this period.\n")
    assert not paths.database_path().exists()


def test_usage_has_a_line_for_the_coding_plan() -> None:
    from glmchat.config import save_value

    save_value("coding_plan.prompts", "120")
    _seed(0, "glm-4.6", None, provider="zai-coding")
    proc = glmchat("usage")
    assert "coding plan: 1/120 prompts in the last 5 hours" in proc.stdout
    doc = json.loads(glmchat("usage", "--json").stdout)
    assert doc["coding_plan"] == {"provider": "zai-coding", "prompts": 1, "plan_prompts": 120}


def test_sessions_list_json_has_each_conversation_s_cost() -> None:
    priced = _seed(0, "glm-4.5", 0.0042)
    unknown = _seed(0, "glm-9-unreleased", None)
    listed = json.loads(glmchat("sessions", "list", "--json").stdout)
    costs = {item["id"]: item["cost"] for item in listed}
    assert costs == {priced: 0.0042, unknown: None}


# -- the arithmetic ------------------------------------------------------------------------

GLM45 = ModelInfo("zai", "glm-4.5", True, price_input=0.6, price_cached=0.11, price_output=2.2)


def test_priced_cost_bills_cached_input_at_its_price_and_reasoning_as_output() -> None:
    assert priced_cost(GLM45, 2000, 1500, 500) == pytest.approx(
        (500 * 0.6 + 1500 * 0.11 + 500 * 2.2) / 1e6
    )
    # A cached count above the prompt (a confused server) never makes input cost negative.
    assert priced_cost(GLM45, 100, 500, 0) == pytest.approx(100 * 0.11 / 1e6)
    assert priced_cost(ModelInfo("x", "y", False), 1, 1, 1) is None


def test_answer_cost_prefers_the_provider_then_prices_then_unknown() -> None:
    usage = Usage(prompt_tokens=1000, completion_tokens=100, cached_tokens=0)
    assert answer_cost(
        Usage(prompt_tokens=1, completion_tokens=1, cost=0.5), None, "zai", "glm-4.5"
    ) == Cost(0.5, "provider")
    computed = answer_cost(usage, None, "zai", "glm-4.5")
    assert computed.source == "catalogue"
    assert computed.usd == pytest.approx((1000 * 0.6 + 100 * 2.2) / 1e6)
    assert answer_cost(usage, None, "ollama", "glm-4.5-air") == UNKNOWN
    assert answer_cost(Usage(completion_tokens=5), None, "zai", "glm-4.5") == UNKNOWN
    assert answer_cost(None, None, "zai", "glm-4.5") == UNKNOWN


def test_costs_of_a_tool_loop_add_up() -> None:
    assert add_costs(None, Cost(0.1, "provider")) == Cost(0.1, "provider")
    total = add_costs(Cost(0.1, "provider"), Cost(0.2, "provider"))
    assert total is not None and total.usd == pytest.approx(0.3) and total.source == "provider"
    assert add_costs(Cost(0.1, "provider"), Cost(0.2, "catalogue")).source == "catalogue"
    assert add_costs(Cost(0.1, "provider"), UNKNOWN) == UNKNOWN


@pytest.mark.parametrize(
    ("usd", "text"),
    [
        (0, "$0"),
        (12.3, "$12.30"),
        (1234.5, "$1,234.50"),
        (0.042, "$0.042"),
        (0.0031, "$0.0031"),
        (0.000248, "$0.00025"),
        (0.001565, "$0.0016"),
    ],
)
def test_format_usd(usd: float, text: str) -> None:
    assert format_usd(usd) == text


def test_the_catalogue_prices_glm_45_as_published() -> None:
    """wire/TOOLS.md section 6: GLM-4.5 on Z.ai is 0.60 / 0.11 / 2.20 per million."""
    from glmchat.catalogue import lookup

    info = lookup(None, "zai", "glm-4.5")
    assert (info.price_input, info.price_cached, info.price_output) == (0.6, 0.11, 2.2)
