"""The log's window over a long branch: switching a version far up shows that message (not
the branch's end), widgets above a switch stay mounted, and a search hit opens its branch
also in a pane already open on that conversation."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual.pilot import Pilot

from glmchat import paths
from glmchat.store import SessionStore
from glmchat.tui.widgets import history
from glmchat.tui.widgets.history import EarlierMessages, LaterMessages
from glmchat.tui.widgets.message_select import SelectableMessage
from glmchat.tui.widgets.messages import AssistantMessage
from tests.tui_helpers import (
    active,
    glm,
    pick_search_hit,
    record_notices,
    region_text,
    running,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer

EXCHANGES = 60  # 120 messages: five history windows


def long_conversation(other_version_at: int) -> str:
    """EXCHANGES exchanges; the answer at message index `other_version_at` (odd) has a second
    version, on a branch of its own; the conversation is shown on the long, first one."""
    assert other_version_at % 2 == 1
    with SessionStore(paths.database_path()) as store:
        cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
        parent = None
        for i in range(EXCHANGES):
            prompt = store.add_message(cid, "user", f"question {i}")
            parent = store.add_message(cid, "assistant", f"answer {i}", parent_id=prompt)
            if 2 * i + 1 == other_version_at:
                store.add_message(cid, "assistant", f"other answer {i}", parent_id=prompt)
                store.set_current_leaf(cid, parent)
        store.set_current_leaf(cid, parent)
    return cid


def shown(pilot: Pilot[Any]) -> list[SelectableMessage]:
    log = active(pilot).log_view
    return [w for w in log.children if isinstance(w, SelectableMessage) and not w._pruning]


async def select_answer(pilot: Pilot[Any], index: int) -> AssistantMessage:
    """Show more history until the answer at turn `index` is mounted; select it."""
    pane = active(pilot)
    for _ in range(EXCHANGES):
        for widget in shown(pilot):
            if widget.turn is pane.engine.turns[index]:
                assert isinstance(widget, AssistantMessage)
                widget.focus()
                await pilot.pause()
                return widget
        pane.log_view.query_one(EarlierMessages).post_message(EarlierMessages.Clicked())
        await pilot.pause()
    raise AssertionError(f"answer {index} never mounted")


def focused_text(pilot: Pilot[Any]) -> str:
    focused = pilot.app.focused
    assert isinstance(focused, AssistantMessage), focused
    return focused.text


# Distances from the end of the 120-message branch: in the last screenful, beyond one
# window (24), beyond two (48, where the log used to show the end instead), the first answer.
@pytest.mark.parametrize("index", [115, 89, 39, 1])
async def test_switching_back_to_a_long_branch_shows_the_switched_message(
    zai: WireServer, index: int
) -> None:
    cid = long_conversation(index)
    async with running(resume=cid) as pilot:
        pane = active(pilot)
        await select_answer(pilot, index)
        await pilot.press("right_square_bracket")  # to the other version: its branch ends there
        await wait_until(pilot, lambda: len(pane.turns) == index + 1, "the short branch")
        await wait_until(pilot, lambda: "other answer" in focused_text(pilot), "selection")
        await pilot.press("left_square_bracket")  # back: 120 - index messages below it
        await wait_until(pilot, lambda: len(pane.turns) == 2 * EXCHANGES, "the long branch")
        await wait_until(pilot, lambda: pilot.app.focused in shown(pilot), "the selection")
        await pilot.pause()
        answer = f"answer {index // 2}"
        assert focused_text(pilot) == answer  # the selection stays on the switched message
        log = region_text(pane.log_view)
        assert f"{answer}\n" in log + "\n" and "‹ 1/2 ›" in log  # and it is on the screen
        focused = pilot.app.focused
        assert focused is not None and focused.region.overlaps(pane.log_view.region)
        # The window stays bounded, wherever it starts.
        await pilot.pause(0.3)
        assert len(shown(pilot)) <= history.HISTORY_WINDOW + 1
        if EXCHANGES * 2 - index > history.HISTORY_WINDOW:
            assert f"answer {EXCHANGES - 1}" not in log
            later = pane.log_view.query_one(LaterMessages)
            assert "later messages" in str(later.render())


async def test_a_prompt_sent_after_a_switch_far_up_goes_at_the_end_of_the_branch(
    zai: WireServer,
) -> None:
    cid = long_conversation(21)
    zai.reply(Reply(chunks=stream(["the newest answer"])))
    async with running(resume=cid) as pilot:
        pane = active(pilot)
        await select_answer(pilot, 21)
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: len(pane.turns) == 22, "the short branch")
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: len(pane.turns) == 2 * EXCHANGES, "the long branch")
        await pilot.pause()
        assert not pane.log_view.at_end
        await send(pilot, "one more question")
        await wait_for_stream(pilot)
        body = [(m["role"], m["content"]) for m in zai.requests[0].json["messages"]]
        assert len(body) == 2 * EXCHANGES + 1
        assert body[-3:] == [
            ("user", f"question {EXCHANGES - 1}"),
            ("assistant", f"answer {EXCHANGES - 1}"),
            ("user", "one more question"),
        ]
        # The log shows the end of the branch again, with the new exchange below it.
        log = region_text(pane.log_view)
        assert "one more question" in log and "the newest answer" in log
        assert pane.log_view.at_end and not pane.log_view.query(LaterMessages)
        assert len(shown(pilot)) <= history.HISTORY_WINDOW + 2


async def test_a_switch_near_the_end_keeps_the_messages_above_it_mounted(
    zai: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = long_conversation(2 * EXCHANGES - 3)  # the answer before the last one
    async with running(resume=cid) as pilot:
        pane = active(pilot)
        await pilot.pause(0.3)  # the whole window mounted
        before = {id(w): w for w in shown(pilot)}
        made: list[object] = []
        real = pane._widget_for

        def counting(turns: Any) -> Any:
            made.append(turns)
            return real(turns)

        monkeypatch.setattr(pane.log_view, "_widget_for", counting)
        await select_answer(pilot, 2 * EXCHANGES - 3)
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "other answer" in focused_text(pilot), "the switch")
        after = shown(pilot)
        # The messages above the switch are the same widgets; the only ones made are the
        # switched message and those the window now reaches above (the branch is shorter).
        # Before: groups 96-119 of 120; after: 94-117 of 118, 117 being the other version.
        assert [id(w) for w in after[2:-1]] == [id(w) for w in list(before.values())[:21]]
        assert [turns[0].content for turns in made] == [
            "question 47",
            "answer 47",
            "other answer 58",
        ]


@pytest.mark.parametrize("hidden", ["answer", "prompt"])
async def test_a_search_hit_opens_its_branch_in_a_pane_already_open_on_it(
    zai: WireServer, hidden: str
) -> None:
    """The hit's branch is not the one the open pane shows: picking it switches the pane
    (its engine: what is drawn and what is sent), and shows the hit."""
    with SessionStore(paths.database_path()) as store:
        cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
        first = store.add_message(cid, "user", "name a colour")
        if hidden == "answer":
            store.add_message(cid, "assistant", "zebra-striped teal", parent_id=first)
            leaf = store.add_message(cid, "assistant", "plain red", parent_id=first)
            expected = ["name a colour", "zebra-striped teal"]
        else:
            prompt = store.add_message(cid, "user", "a zebra colour?", parent_id=None)
            store.add_message(cid, "assistant", "black and white", parent_id=prompt)
            leaf = store.add_message(cid, "assistant", "plain red", parent_id=first)
            expected = ["a zebra colour?", "black and white"]
        store.set_current_leaf(cid, leaf)
    zai.reply(Reply(chunks=stream(["noted"])))
    async with running(resume=cid) as pilot:
        app = glm(pilot)
        pane = active(pilot)
        assert [t.content for t in pane.turns] == ["name a colour", "plain red"]
        await app.open_pane()  # another pane in front: the picked one is shown again
        await pick_search_hit(pilot, "zebra")
        await wait_until(pilot, lambda: active(pilot) is pane, "the open pane shown")
        await wait_until(pilot, lambda: [t.content for t in pane.turns] == expected, "branch")
        assert app.panes == [pane]  # not opened twice (the empty pane gave way)
        await pilot.pause()
        assert "zebra" in region_text(pane.log_view)
        with SessionStore(paths.database_path()) as store:
            assert store.get_conversation(cid).current_leaf == pane.turns[-1].message_id
        await send(pilot, "and another?")
        await wait_for_stream(pilot)
        body = [m["content"] for m in zai.requests[0].json["messages"]]
        assert body == [*expected, "and another?"]


async def test_a_search_hit_on_the_branch_shown_while_it_answers_is_no_refusal(
    zai: WireServer,
) -> None:
    """Picking a hit that is on the branch the pane shows, while its answer streams, only shows
    the pane: there is nothing to switch, so no "still answering" refusal, and the answer goes
    on."""
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["hello"])))
    zai.reply(Reply(chunks=stream(["slow ", "answer"], holds={1: gate}), delay=0.01))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await send(pilot, "hi")  # the title: the hit below is in the text, not the title
        await wait_for_stream(pilot)
        await send(pilot, "a zebra question")
        await wait_until(pilot, lambda: pane.streaming is not None, "the answer")
        notices = record_notices(glm(pilot))
        await app.open_pane()
        await pick_search_hit(pilot, "zebra")
        await wait_until(pilot, lambda: active(pilot) is pane, "the pane shown")
        await pilot.pause(0.2)
        assert notices == []
        assert pane.streaming is not None  # still answering
        gate.set()
        await wait_for_stream(pilot)
        assert pane.turns[-1].content == "slow answer"


async def test_later_messages_mounts_the_next_ones_below_until_the_end(zai: WireServer) -> None:
    cid = long_conversation(61)
    async with running(resume=cid) as pilot:
        pane = active(pilot)
        log = pane.log_view
        await select_answer(pilot, 61)
        await pilot.press("right_square_bracket", "left_square_bracket")
        await wait_until(pilot, lambda: len(pane.turns) == 2 * EXCHANGES, "the long branch")
        await pilot.pause(0.3)  # the window below the switched message, mounted in batches
        assert (log.shown_from, log.shown_to) == (61, 61 + history.HISTORY_WINDOW)
        assert len(shown(pilot)) == history.HISTORY_WINDOW
        while log.query(LaterMessages):
            before = len(shown(pilot))
            log.query_one(LaterMessages).post_message(LaterMessages.Clicked())
            await pilot.pause()
            assert before < len(shown(pilot)) <= before + history.HISTORY_WINDOW
        assert log.at_end and log.shown_to == 2 * EXCHANGES
        assert shown(pilot)[-1].turn is pane.turns[-1]
