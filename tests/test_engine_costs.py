"""The engine's money: each answer priced when it ends, kept on its turn, and in an export of a
conversation that was never saved."""

from __future__ import annotations

import pytest

from glmchat.store import to_markdown
from tests.test_engine import collect, new_engine, setup  # noqa: F401 (a fixture)
from tests.wire_server import Reply, WireServer, sse_body, sse_event


def _reply(prompt: int, completion: int) -> Reply:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    return Reply(
        body=sse_body(
            sse_event({"content": "ok"}), sse_event({}, finish_reason="stop", usage=usage)
        )
    )


async def test_an_unsaved_conversation_keeps_its_costs_for_export(setup, zai: WireServer) -> None:  # noqa: F811
    zai.reply(_reply(1000, 100), _reply(2000, 100))
    engine = new_engine(setup, store=None)
    for prompt in ("one", "two"):
        await collect(engine.send(prompt))
    answers = [m for m in engine.snapshot().messages if m.role == "assistant"]
    assert [m.cost_source for m in answers] == ["catalogue", "catalogue"]
    assert answers[0].cost == pytest.approx((1000 * 0.6 + 100 * 2.2) / 1e6)
    totals = engine.usage_totals()
    assert totals.cost == pytest.approx(sum(m.cost or 0 for m in answers))
    assert totals.last_cost == pytest.approx(answers[1].cost)
    assert "- Cost: ~" not in to_markdown(engine.snapshot())
    assert "- Cost: $0.0022" in to_markdown(engine.snapshot())


async def test_an_answer_cut_off_before_its_usage_counts_with_its_cost_unknown(
    setup,  # noqa: F811
    zai: WireServer,
) -> None:
    """Found by QA: an answer stopped or cut off (no usage comes) was left out of the totals,
    which then read as complete: `$0.0022`, not `≥$0.0022`."""
    cut = Reply(body=sse_event({"content": "half an answer"}))  # no end, no usage
    zai.reply(_reply(1000, 100), cut)
    engine = new_engine(setup)
    for prompt in ("one", "two"):
        await collect(engine.send(prompt))
    last = engine.turns[-1]
    assert last.status == "partial" and last.content == "half an answer" and last.usage is None
    totals = engine.usage_totals()
    assert (totals.answers, totals.unpriced, totals.last_cost) == (1, 1, None)
    assert totals.cost == pytest.approx((1000 * 0.6 + 100 * 2.2) / 1e6)
