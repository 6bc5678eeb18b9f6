"""A long conversation costs what its window costs: resuming one reads the end of its branch
before the first paint and the whole once after it, and mounts and renders the same as a
short one; the status bar's totals during a reply walk the last exchange, not the whole
branch. Shapes are counted, never timed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from glmchat import paths
from glmchat.cli.launch import _resume_id
from glmchat.engine import settled_totals
from glmchat.engine.settled_totals import SettledTotals
from glmchat.engine.turns import Turn, usage_totals
from glmchat.store import SessionStore
from glmchat.store import reads as store_reads
from glmchat.tui.branches import PaneBranches
from glmchat.tui.markdown.incremental import MarkdownBlocks
from glmchat.tui.widgets import history
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage
from tests.tui_helpers import active, message, running, seed, send, stream, wait_for_stream
from tests.wire_server import Reply, WireServer

ANSWER = "## A heading\n\nSome **text** with `code`.\n\n- one\n- two\n\n```python\nx = 1\n```\n"


def long_conversation(conversation_id: str, exchanges: int) -> str:
    messages = []
    for i in range(exchanges):
        messages.append(message("user", f"question {i}", position=2 * i))
        usage = {"prompt_tokens": 10 + i, "completion_tokens": 5, "total_tokens": 15 + i}
        messages.append(
            message("assistant", ANSWER + f"answer {i}", position=2 * i + 1, usage=usage, cost=0.01)
        )
    return seed(conversation_id, "Long", messages)


def counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[Any]:
    """Record every call of owner.name (its first argument), calling through."""
    calls: list[Any] = []
    real = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


async def resume_shape(
    monkeypatch: pytest.MonkeyPatch, zai: WireServer, exchanges: int
) -> dict[str, Any]:
    """Resume a conversation of `exchanges` exchanges and stream a reply into it; what it
    took, counted."""
    cid = long_conversation(f"{exchanges:04d}0000beef", exchanges)
    with monkeypatch.context() as patch:
        rows = counting(patch, store_reads, "message_from_row")
        renders = counting(patch, MarkdownBlocks, "_render")
        read_whole = PaneBranches.read_whole
        before_whole: list[int] = []

        def reading_whole(self: PaneBranches) -> None:
            if not before_whole:
                before_whole.append(len(rows))  # what the first paint read
            read_whole(self)

        patch.setattr(PaneBranches, "read_whole", reading_whole)
        zai.reply(Reply(chunks=stream(["the reply ", "streams ", "in."])))
        async with running(resume=cid) as pilot:
            pane = active(pilot)
            log = pane.log_view
            for _ in range(100):  # the rest of the window, mounted in batches
                if log.shown_from == 2 * exchanges - history.HISTORY_WINDOW:
                    break
                await pilot.pause(0.02)
            await pilot.pause(0.2)
            shape = {
                "rows before the first paint": before_whole,
                "rows read": len(rows),
                "mounted": len(log.query(UserMessage)) + len(log.query(AssistantMessage)),
                "renders": len(renders),
            }
            walked = counting(patch, SettledTotals, "of")
            summed = counting(patch, settled_totals, "usage_totals")
            await send(pilot, "one more")
            await wait_for_stream(pilot)
            assert len(zai.requests[-1].json["messages"]) == 2 * exchanges + 1
            assert walked  # the status bar asked for the totals
            # The branch before the new prompt is added up once; each status update after
            # that adds up the last exchange alone.
            sizes = sorted(len(turns) for turns in summed)
            shape["whole branch sums"] = sum(1 for size in sizes if size > 10)
            shape["turns summed per update"] = sizes[-2]
    return shape


async def test_resuming_a_long_conversation_costs_what_a_short_one_does(
    zai: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = await resume_shape(monkeypatch, zai, 100)
    long = await resume_shape(monkeypatch, zai, 1000)
    # The first paint reads the end of the branch; the whole is read once, after it.
    assert short["rows before the first paint"] == long["rows before the first paint"]
    assert long["rows before the first paint"] == [history.BRANCH_END]
    assert short["rows read"] == 200 + history.BRANCH_END
    assert long["rows read"] == 2000 + history.BRANCH_END
    assert short["mounted"] == long["mounted"] == history.HISTORY_WINDOW
    assert short["renders"] == long["renders"] > 0
    assert short["whole branch sums"] == long["whole branch sums"] == 1
    assert short["turns summed per update"] == long["turns summed per update"] <= 2


def test_resume_reads_only_the_id_of_the_conversation(monkeypatch: pytest.MonkeyPatch) -> None:
    cid = long_conversation("aaaa0000beef", 50)
    rows = counting(monkeypatch, store_reads, "message_from_row")
    with SessionStore(paths.database_path()) as store:
        assert _resume_id(store, "") == cid  # the most recent
        assert _resume_id(store, cid[:6]) == cid  # a prefix
        assert _resume_id(store, None) is None
    assert rows == []


def random_branch(rng: random.Random, length: int) -> list[Turn]:
    turns: list[Turn] = []
    for i in range(length):
        role = rng.choice(["user", "assistant", "assistant", "tool"]) if i else "user"
        usage = None
        if role == "assistant" and rng.random() < 0.8:
            total = rng.randint(1, 500)
            usage = {"prompt_tokens": total - 3, "completion_tokens": 3, "total_tokens": total}
        cost = rng.choice([None, 0.5, 0.25]) if role == "assistant" else None
        source = rng.choice(["provider", "prices"])
        turns.append(Turn(role, f"t{i}", usage=usage, cost=cost, cost_source=source))
    return turns


@pytest.mark.parametrize("seed_value", range(20))
def test_settled_totals_are_the_totals_of_the_whole_branch(seed_value: int) -> None:
    """Growing a branch turn by turn, then switching to another with the same length: the
    kept part never makes the totals differ from adding up every turn."""
    rng = random.Random(seed_value)
    totals = SettledTotals()
    branch = random_branch(rng, 40)
    for end in range(len(branch) + 1):
        assert totals.of(branch[:end]) == usage_totals(branch[:end])
    # Another branch sharing the first turns, then the first one again.
    other: Sequence[Turn] = branch[:10] + random_branch(rng, 30)
    for turns in (other, branch, other[:25], branch):
        assert totals.of(turns) == usage_totals(turns)
