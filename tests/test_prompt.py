"""The prompt box: Enter sends the text typed before it, even in one burst; `[keys]` applies."""

from __future__ import annotations

import pytest
from textual import events, on
from textual.app import App, ComposeResult

from glmchat.config import save_value
from glmchat.keybindings import BINDING_IDS
from glmchat.tui.widgets.prompt import PromptInput
from tests.tui_helpers import active, running, stream, wait_for_stream
from tests.wire_server import Reply, WireServer


class Host(App[None]):
    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = keymap or {}
        self.sent: list[str] = []

    def compose(self) -> ComposeResult:
        yield PromptInput(id="prompt")

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)  # as GlmChatApp does with `[keys]`
        self.query_one(PromptInput).focus()

    @on(PromptInput.Submitted)
    def record(self, message: PromptInput.Submitted) -> None:
        self.sent.append(message.text)


def burst(app: App[None], keys: list[tuple[str, str | None]]) -> None:
    """Queue keys the way the terminal driver does for one read: all before any is handled."""
    for key, character in keys:
        app.post_message(events.Key(key, character))


def typed(text: str) -> list[tuple[str, str | None]]:
    return [(_key(char), char) for char in text]


def _key(char: str) -> str:
    return {" ": "space", "?": "question_mark", "\n": "enter"}.get(char, char)


ENTER = ("enter", "\r")
CTRL_J = ("ctrl+j", "\n")
CTRL_S = ("ctrl+s", None)


async def test_enter_in_one_burst_with_the_text_sends_that_text() -> None:
    """`tmux send-keys 'text' Enter`, a paste or a fast typist: the Enter comes in the same
    read as the text; it must act after the text, not before it (which sent nothing)."""
    app = Host()
    async with app.run_test() as pilot:
        burst(app, [*typed("capital?"), ENTER])
        await pilot.pause()
        assert app.sent == ["capital?"]
        assert app.query_one(PromptInput).text == ""
        burst(app, [*typed("next"), CTRL_J, ENTER])
        await pilot.pause()
        assert app.sent == ["capital?", "next\n"]


async def test_newline_key_in_a_burst_keeps_its_place() -> None:
    app = Host()
    async with app.run_test() as pilot:
        burst(app, [*typed("one"), CTRL_J, *typed("two"), ("shift+enter", None), *typed("x")])
        await pilot.pause()
        assert app.query_one(PromptInput).text == "one\ntwo\nx"
        assert app.sent == []


@pytest.mark.parametrize(
    ("keymap", "keys", "sent", "left"),
    [
        # Send moved to ctrl+s, Enter now a newline: Enter must not send any more.
        ({"send": "ctrl+s", "newline": "enter,ctrl+j"}, [ENTER, CTRL_S], ["a\n"], ""),
        ({"send": "ctrl+s", "newline": "enter,ctrl+j"}, [CTRL_J, ENTER], [], "a\n\n"),
        # Send moved away, Enter left unbound: TextArea's own Enter (a newline), no send.
        ({"send": "ctrl+s"}, [ENTER], [], "a\n"),
        # Newline moved to ctrl+s: ctrl+j no longer adds one (TextArea ignores it too).
        ({"newline": "ctrl+s"}, [CTRL_S, CTRL_J, ENTER], ["a\n"], ""),
    ],
)
async def test_remapped_send_and_newline_keys_apply_in_the_prompt(
    keymap: dict[str, str], keys: list[tuple[str, str | None]], sent: list[str], left: str
) -> None:
    assert set(keymap) <= set(BINDING_IDS)
    app = Host(keymap)
    async with app.run_test() as pilot:
        burst(app, [*typed("a"), *keys])
        await pilot.pause()
        assert app.sent == sent
        assert app.query_one(PromptInput).text == left


async def test_a_blank_prompt_sends_nothing() -> None:
    app = Host()
    async with app.run_test() as pilot:
        burst(app, [*typed("  "), ENTER])
        await pilot.pause()
        assert app.sent == []


async def test_send_remapped_in_config_turns_enter_into_a_newline(zai: WireServer) -> None:
    save_value("keys.send", "ctrl+s")
    save_value("keys.newline", "enter,ctrl+j")
    zai.reply(Reply(chunks=stream(["ok"])))
    async with running() as pilot:
        pane = active(pilot)
        await pilot.press(*"one", "enter", *"two")
        await pilot.pause()
        assert pane.prompt.text == "one\ntwo"
        assert not zai.requests
        await pilot.press("ctrl+s")
        await wait_for_stream(pilot)
        assert pane.prompt.text == ""
    assert zai.requests[0].json["messages"][-1]["content"] == "one\ntwo"


async def test_two_prompts_in_one_burst_each_keep_their_own_text(zai: WireServer) -> None:
    """ "first\rsecond\r" in one read: the box empties as Enter is read, so the second prompt
    is not mixed with the first; the pane, busy with the first, gives the second back whole."""
    zai.reply(Reply(chunks=stream(["the first answer"])))
    async with running() as pilot:
        pane = active(pilot)
        burst(pilot.app, [*typed("first"), ENTER, *typed("second"), ENTER, *typed("third")])
        await wait_for_stream(pilot)
        assert [r.json["messages"][-1]["content"] for r in zai.requests] == ["first"]
        assert pane.prompt.text == "second\nthird"  # nothing lost, nothing doubled


async def test_ctrl_u_and_ctrl_k_act_on_the_line_as_typed_not_its_wrapped_row() -> None:
    """Found by QA: in a 300-character line, ctrl+u deleted only its last screen row."""
    async with running() as pilot:
        prompt = active(pilot).prompt
        line = " ".join(f"word{n}" for n in range(60))  # wraps over several rows at 120
        prompt.insert(f"first line\n{line}")
        await pilot.pause()
        assert prompt.wrapped_document.height > 3
        await pilot.press("ctrl+u")
        assert prompt.text == "first line\n"
        prompt.insert(line)
        prompt.move_cursor((1, 10))
        await pilot.press("ctrl+k")
        assert prompt.text == f"first line\n{line[:10]}"
        await pilot.press("ctrl+u")
        assert prompt.text == "first line\n"
        await pilot.press("ctrl+u")  # at the start of a line: joins it to the one above, as before
        assert prompt.text == "first line"
