"""Keys that arrive in one read after a focus move go where the focus now is: alt+up from the
prompt, then `]`, `e`, `r` or a letter, act exactly as when typed one at a time (found by QA:
`tmux send-keys M-Up ... ']'` typed the `]` into the prompt and switched nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot

from glmchat import paths
from glmchat.config import save_value
from glmchat.store import SessionStore
from tests.tui_helpers import active, running, stream, wait_for_stream
from tests.wire_server import Reply, WireServer


def branched(*, thought: str = "") -> str:
    """q0, a0 (with a second version, not shown), q1, a1, q2, a2; alt+up from the prompt
    selects a2, then q2, a1, q1, a0. With `thought`, a2 has a thinking panel (its header
    takes the focus with tab)."""
    with SessionStore(paths.database_path()) as store:
        cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
        prompt = store.add_message(cid, "user", "question 0")
        parent = store.add_message(cid, "assistant", "answer 0", parent_id=prompt)
        store.add_message(cid, "assistant", "other answer 0", parent_id=prompt)
        store.set_current_leaf(cid, parent)
        for i in (1, 2):
            prompt = store.add_message(cid, "user", f"question {i}", parent_id=parent)
            parent = store.add_message(cid, "assistant", f"answer {i}", parent_id=prompt)
        if thought:
            store.checkpoint(parent, "answer 2", thought)
        store.set_current_leaf(cid, parent)
    return cid


def key(name: str) -> tuple[str, str | None]:
    characters = {"left_square_bracket": "[", "right_square_bracket": "]", "space": " "}
    if name in characters:
        return name, characters[name]
    return name, name if len(name) == 1 else None


PASTE = "paste:"  # a paste of the text after it, in a list of keys


def event_of(name: str) -> events.Key | events.Paste:
    if name.startswith(PASTE):
        return events.Paste(name[len(PASTE) :])
    return events.Key(*key(name))


def outcome(pilot: Pilot[Any], requests: int) -> dict[str, object]:
    """What a user can tell apart: the box, where the focus is, the branch shown."""
    pane = active(pilot)
    focused = pilot.app.focused
    return {
        "box": pane.prompt.text,
        "focus": "box"
        if focused is pane.prompt
        else getattr(getattr(focused, "turn", None), "content", repr(focused)),
        "branch": [turn.content for turn in pane.engine.turns],
        "requests": requests,
    }


async def run(
    keys: list[str], *, burst: bool, zai: WireServer, thought: str = ""
) -> dict[str, object]:
    zai.requests.clear()
    zai.reply(Reply(chunks=stream(["answer 2, again"])))
    async with running(resume=branched(thought=thought)) as pilot:
        if burst:
            # As the terminal driver queues one read: every key before the first is handled.
            for name in keys:
                pilot.app.post_message(event_of(name))
        else:
            for name in keys:
                if name.startswith(PASTE):
                    pilot.app.post_message(event_of(name))
                    await pilot.pause()
                else:
                    await pilot.press(name)
        await pilot.pause()
        if zai.requests:
            await wait_for_stream(pilot)
        await pilot.pause()
        return outcome(pilot, len(zai.requests))


UP5 = ["alt+up"] * 5  # from the prompt to answer 0, the one with another version


@pytest.mark.parametrize(
    "keys",
    [
        [*UP5, "right_square_bracket"],  # QA's case: the other version of answer 0
        [*UP5, "right_square_bracket", "left_square_bracket"],  # there and back
        [*UP5, "alt+down", "alt+down", "e"],  # question 1 into the box, to edit
        ["alt+up", "alt+up", "e", "space", "x"],  # question 2 to edit, then typing after it
        ["alt+up", "r"],  # regenerate answer 2
        ["alt+up", "f", "y"],  # not the selection's keys: typed into the box
        ["alt+up", "alt+up", "alt+up", "escape", "h", "i"],  # back to the box, typing
        [*UP5, "alt+up", "alt+up", "alt+down"],  # stops at the first message
        # The box's own keys keep their place among the letters (found by QA: "ax").
        [*"abcd", "backspace", "backspace", "backspace", "backspace", "x", "y"],
        [*"hello", "left", "left", "x", "end", "!", "home", "delete"],
        ["alt+up", "h", "i", "backspace", "o"],  # typed from a selection into the box
        # Tab away (to a message) and typing with a paste: all in order, in the box.
        ["tab", *"hel", "paste:[PASTED]", *"lo"],
        ["shift+tab", *"hel", "paste:[PASTED]", *"lo"],
        # A second focus move from a message (found by QA: the backspace came last).
        [*"ab", "shift+tab", "shift+tab", *"cd", "backspace", *"ef"],
        [*"ab", "shift+tab", "shift+tab", "shift+tab", *"cd", "left", "home", "delete", "end"],
    ],
    ids=lambda keys: " ".join(keys),
)
async def test_a_burst_does_what_the_same_keys_do_one_at_a_time(
    keys: list[str], zai: WireServer
) -> None:
    paced = await run(keys, burst=False, zai=zai)
    at_once = await run(keys, burst=True, zai=zai)
    assert at_once == paced


async def test_remapped_selection_keys_in_a_burst(zai: WireServer) -> None:
    """The keys as `[keys]` has them: f9 selects, n switches (n is typed from the box)."""
    save_value("keys.select_prev", "f9")
    save_value("keys.next_sibling", "n")
    keys = ["f9"] * 5 + ["n"]
    paced = await run(keys, burst=False, zai=zai)
    at_once = await run(keys, burst=True, zai=zai)
    assert paced["branch"] == ["question 0", "other answer 0"]
    assert at_once == paced


@pytest.mark.parametrize(
    "keys",
    [
        # QA's case: the thinking panel's header, then the answer; a letter goes to the box
        # with the focus, and the backspace after it deletes it.
        ["shift+tab", "shift+tab", "z", "backspace"],
        ["shift+tab", "shift+tab", *"zz", "shift+tab", "shift+tab", "y", "ctrl+u"],
        ["shift+tab", *"ab", "backspace"],  # typed on the panel's header
        ["shift+tab", "shift+tab", "shift+tab", "tab", "tab", "tab", "x", "backspace"],
        # Back to the box with the stop key between answers, from a message or a header.
        ["alt+up", "escape", "backspace", *"hi"],
        ["shift+tab", "escape", *"hi", "backspace"],
        ["alt+up", "alt+up", "alt+down", "escape", *"ok", "left", "x"],
        # Enter on a selected message is not the box's send (found by QA: sent "hellox").
        [*"hello", "alt+up", "enter", "x"],
        [*"hello", "tab", "enter", "x"],
        [*"hello", "shift+tab", "enter", "x"],
        [*"hello", "alt+up", "alt+up", "enter", "x"],
    ],
    ids=lambda keys: " ".join(keys),
)
async def test_a_burst_past_a_thinking_panel_does_what_the_same_keys_do(
    keys: list[str], zai: WireServer
) -> None:
    paced = await run(keys, burst=False, zai=zai, thought="Let me think.")
    at_once = await run(keys, burst=True, zai=zai, thought="Let me think.")
    assert at_once == paced
