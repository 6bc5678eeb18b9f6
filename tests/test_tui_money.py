"""The TUI and money: the status bar's cost of this answer and of the conversation, the budget
notice and mark, and the coding plan's notice and prompt count."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from glmchat.config import save_value
from glmchat.engine.turns import Turn, usage_totals
from glmchat.tui.widgets.status_bar import StatusInfo, money_fields, render_info
from tests.tui_helpers import (
    API_KEY,
    active,
    glm,
    record_notices,
    region_text,
    running,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer, sse_body, sse_event

WIDE = (220, 40)


def _reply(prompt: int, cached: int, completion: int, cost: float | None = None) -> Reply:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    if cost is not None:
        usage["cost"] = cost
    return Reply(
        body=sse_body(
            sse_event({"content": "ok"}), sse_event({}, finish_reason="stop", usage=usage)
        )
    )


async def test_status_bar_shows_this_answer_and_the_conversation_cost(zai: WireServer) -> None:
    # GLM-4.5: (500 x 0.60 + 1,500 x 0.11 + 500 x 2.20) / 1e6 = $0.001565, from the prices.
    zai.reply(_reply(2000, 1500, 500), _reply(2000, 0, 500))
    async with running(size=WIDE) as pilot:
        pane = active(pilot)
        assert "$" not in region_text(pane.status)  # no answer, no figure
        await send(pilot, "one")
        await wait_for_stream(pilot)
        assert "~$0.0016 · conv ~$0.0016" in region_text(pane.status)
        await send(pilot, "two")  # (2,000 x 0.60 + 500 x 2.20) / 1e6 = $0.0023
        await wait_for_stream(pilot)
        assert "~$0.0023 · conv ~$0.0039" in region_text(pane.status)


async def test_a_model_without_prices_shows_unknown_costs(zai: WireServer) -> None:
    zai.reply(_reply(100, 0, 10))
    async with running(size=WIDE, model="zai/glm-9-unreleased") as pilot:
        pane = active(pilot)
        await send(pilot, "one")
        await wait_for_stream(pilot)
        assert "$? · conv $?" in region_text(pane.status)


def test_money_fields_mark_reported_estimated_unknown_and_partial_figures() -> None:
    """A reported cost shows bare, a computed one with ~, an unknown one as $?, and a sum that
    leaves answers out with ≥; the short form keeps the conversation's figure."""
    info = StatusInfo(provider="openrouter", model="z-ai/glm-4.5", answers=2)
    for answer, conversation in (("$0.0031", "$0.042"), ("$?", "≥$0.040"), ("~$1.20", "~$3.00")):
        line = replace(info, cost_answer=answer, cost_conversation=conversation)
        assert f"{answer} · conv {conversation}" in render_info(line).plain
        narrow = render_info(line, width=70).plain
        assert f"conv {conversation}" in narrow


def test_an_answer_that_failed_before_writing_shows_no_cost_of_its_own() -> None:
    """Found by QA: after an answer that failed before any text (it costs nothing known and
    counts as none), the status bar said `$?` for it; an answer cut off after some text says
    `$?` (its tokens were spent) and makes the conversation's total `≥`."""
    priced = Turn("assistant", "ok", cost=0.00005, cost_source="catalogue", usage={"x": 1})
    failed = Turn("assistant", "", status="error", finished="2026-11-30T08:00:00Z")
    cut = Turn("assistant", "half", status="partial", finished="2026-11-30T08:00:00Z")
    prompt = Turn("user", "q")
    fields = money_fields(usage_totals([prompt, priced, prompt, failed]), None)
    assert (fields["cost_answer"], fields["cost_conversation"]) == ("", "~$0.000050")
    shown = render_info(StatusInfo(provider="zai", model="glm-4.5", **fields)).plain
    assert "  conv ~$0.000050" in shown and "·" not in shown  # no separator before nothing
    fields = money_fields(usage_totals([prompt, priced, prompt, cut]), None)
    assert (fields["cost_answer"], fields["cost_conversation"]) == ("$?", "≥$0.000050")


async def test_budget_crossed_notifies_once_and_marks_the_status_bar(zai: WireServer) -> None:
    save_value("budget.daily_usd", "0.003")
    zai.reply(_reply(2000, 1500, 500), _reply(2000, 1500, 500), _reply(2000, 1500, 500))
    async with running(size=WIDE) as pilot:
        pane = active(pilot)
        notices = record_notices(glm(pilot))
        await send(pilot, "one")  # $0.0016 of $0.0030
        await wait_for_stream(pilot)
        assert not [n for n in notices if "budget" in n]
        assert "over daily budget" not in region_text(pane.status)
        await send(pilot, "two")  # $0.0031: crossed
        await wait_for_stream(pilot)
        assert [n for n in notices if "budget" in n] == [
            "Today's answers have cost $0.0031, over your daily budget of $0.0030 "
            "([budget] daily_usd)."
        ]
        assert "⚠ over daily budget" in region_text(pane.status)
        await send(pilot, "three")  # still over: the mark stays, no second notice
        await wait_for_stream(pilot)
        assert len([n for n in notices if "budget" in n]) == 1
        assert "⚠ over daily budget" in region_text(pane.status)
        assert pane.turns[-1].content == "ok"  # every answer was given


async def test_a_budget_crossed_in_one_pane_marks_every_pane(zai: WireServer) -> None:
    """The budget is the whole app's: crossed by one pane's answer, it is marked in the status
    bar of a pane streaming meanwhile (not only once its answer ends), of an idle one, of one
    opened later, and from the start of the next glmchat."""
    save_value("budget.daily_usd", "0.003")
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["long ", "answer"], holds={1: gate}), delay=0.01))
    zai.reply(_reply(2000, 1500, 500), _reply(2000, 1500, 500))
    async with running(size=WIDE) as pilot:
        app = glm(pilot)
        streaming = active(pilot)
        await send(pilot, "a long one")
        await wait_until(pilot, lambda: streaming.streaming is not None, "the held answer")
        idle = await app.open_pane()
        crossing = await app.open_pane()

        def answered() -> int:
            done = crossing.streaming is None
            return len([t for t in crossing.turns if t.content == "ok"]) if done else -1

        await send(pilot, "one")
        await wait_until(pilot, lambda: answered() == 1, "the first answer")
        await send(pilot, "two")  # crosses it
        await wait_until(pilot, lambda: answered() == 2, "the second answer")
        await wait_until(
            pilot, lambda: "⚠ over daily budget" in region_text(crossing.status), "crossing"
        )
        app.show_pane(idle)
        await wait_until(pilot, lambda: "⚠ over daily budget" in region_text(idle.status), "idle")
        app.show_pane(streaming)
        await wait_until(
            pilot, lambda: "⚠ over daily budget" in region_text(streaming.status), "streaming"
        )
        assert streaming.streaming is not None  # still answering
        later = await app.open_pane()  # opened after: marked from the start
        await wait_until(pilot, lambda: "⚠ over daily budget" in region_text(later.status), "new")
        gate.set()
        await wait_until(pilot, lambda: streaming.streaming is None, "the end")
    # glmchat started again, still over the limit: marked before any answer.
    async with running(size=WIDE) as pilot:
        pane = active(pilot)
        await wait_until(
            pilot, lambda: "⚠ over daily budget" in region_text(pane.status), "at start"
        )


@pytest.fixture
def coding(wire: WireServer, monkeypatch: pytest.MonkeyPatch) -> WireServer:
    monkeypatch.setenv("ZAI_CODING_API_KEY", API_KEY)
    save_value("providers.zai-coding.base_url", wire.url)
    return wire


async def test_coding_plan_notice_once_and_prompts_counted(coding: WireServer) -> None:
    save_value("coding_plan.prompts", "120")
    coding.reply(_reply(10, 0, 1), _reply(10, 0, 1), _reply(10, 0, 1))
    async with running(size=WIDE, model="zai-coding/glm-4.6") as pilot:
        pane = active(pilot)
        notices = record_notices(glm(pilot))
        await send(pilot, "one")
        await wait_for_stream(pilot)
        assert len([n for n in notices if "Coding Plan" in n]) == 1
        assert "coding plan: 1/120 prompts in the last 5 hours" in region_text(pane.status)
        await send(pilot, "two")
        await wait_for_stream(pilot)
        assert len([n for n in notices if "Coding Plan" in n]) == 1
        assert "coding plan: 2/120 prompts in the last 5 hours" in region_text(pane.status)
    # Said once ever: a new run of the app does not say it again.
    async with running(size=WIDE, model="zai-coding/glm-4.6") as pilot:
        notices = record_notices(glm(pilot))
        await send(pilot, "three")
        await wait_for_stream(pilot)
        assert not [n for n in notices if "Coding Plan" in n]
        assert "coding plan: 3/120" in region_text(active(pilot).status)
