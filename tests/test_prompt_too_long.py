"""A prompt alone over the model's window (found by QA: "Fork" in the does-not-fit dialog opened
a pane with the same prompt, over again, and emptied the first box). Nothing left out or forked
makes room for it: the dialog says the prompt is too long, with the numbers, offers neither, and
the prompt stays in the box; `ask` says so in one line. A fork that is offered carries only as
many of the last turns as fit with the prompt."""

from __future__ import annotations

from textual.widgets import Button

from glmchat.tui.screens.context_full import ContextFull
from tests.test_ask_cli import ask
from tests.test_ask_models import add_config
from tests.tui_helpers import (
    active,
    glm,
    message,
    running,
    screen_text,
    seed,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer, sse_body, sse_event

SMALL = '[models."zai/glm-4.5"]\ncontext = 2000\nmax_output = 500\n'
PASTED = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 210  # about 12 KB


def _short_conversation() -> str:
    rows = [
        message("user", "hello", position=0),
        message("assistant", "hi there", position=1),
    ]
    return seed("t00long00001", "Short", rows)


async def _too_long_dialog_keeps_the_prompt(zai: WireServer, **kw: str) -> None:
    async with running(**kw) as pilot:
        pane = active(pilot)
        turns = len(pane.engine.turns)
        await send(pilot, PASTED)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ContextFull), "the dialog")
        await pilot.pause()
        # The dialog's words, across its wrapped lines (the box's borders taken out).
        shown = " ".join(screen_text(pilot.app).replace("│", " ").split())
        assert "The prompt is too long for the model" in shown
        assert "the prompt alone is about" in shown and "context window of 2,000" in shown
        assert "Shorten it" in shown and "larger window" in shown
        assert "Fork" not in shown and "last few turns" not in shown
        buttons = {b.id for b in pilot.app.screen.query(Button)}
        assert buttons == {"cancel"}
        for key in ("f", "l", "f"):  # neither forks nor leaves out: no tab, no request
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(pilot.app.screen, ContextFull)
        assert len(glm(pilot).panes) == 1 and active(pilot) is pane
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(pilot.app.screen, ContextFull), "closed")
        assert pane.prompt.text == PASTED  # nothing the user wrote is lost
        assert len(glm(pilot).panes) == 1 and zai.requests == []
        assert len(pane.engine.turns) == turns and pane.engine.omit_before == 0


async def test_a_first_prompt_over_the_window_is_too_long_not_forked(zai: WireServer) -> None:
    add_config(SMALL)
    await _too_long_dialog_keeps_the_prompt(zai)


async def test_a_later_prompt_over_the_window_is_too_long_too(zai: WireServer) -> None:
    """Earlier turns to leave out do not help a prompt that alone is over the window."""
    add_config(SMALL)
    await _too_long_dialog_keeps_the_prompt(zai, resume=_short_conversation())


async def test_a_fork_carries_only_the_turns_that_fit_with_the_prompt(zai: WireServer) -> None:
    """The prompt fits alone, but not with the last four turns' text (found with the loop: the
    fork's box was over again, and sending it offered another fork)."""
    add_config('[models."zai/glm-4.5"]\ncontext = 3000\n')
    rows = []
    for i in range(6):
        rows.append(message("user", f"question {i} " + "word " * 500, position=2 * i))
        rows.append(message("assistant", f"answer {i} " + "word " * 500, position=2 * i + 1))
    conversation_id = seed("t00long00002", "Wordy", rows)
    zai.reply(Reply(chunks=stream(["forked"])))
    prompt = "and now? " + "more " * 500
    async with running(resume=conversation_id) as pilot:
        first = active(pilot)
        await send(pilot, prompt)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ContextFull), "the choice")
        await pilot.press("f")
        await wait_until(pilot, lambda: active(pilot) is not first, "a new pane")
        fork = active(pilot)
        await wait_until(pilot, lambda: fork.prompt.text, "the carried text")
        text = fork.prompt.text
        assert text.startswith('Context from an earlier conversation ("Wordy")')
        assert "answer 5 " in text and "question 4 " not in text and text.endswith(prompt)
        fork.engine.check_fit(text)  # fits: sending it sends it
        await pilot.press("enter")
        await wait_for_stream(pilot, fork)
        assert len(zai.requests) == 1 and fork.prompt.text == ""
        assert len(glm(pilot).panes) == 2


ANSWER = sse_body(sse_event({"content": "ok"}), sse_event({}, finish_reason="stop"))


def test_ask_with_a_prompt_over_the_window_says_shorten_it(wire: WireServer) -> None:
    """A conversation continued (-c) with a prompt that alone is over: starting a new one would
    not help, so that is not what is said."""
    wire.reply(Reply(body=ANSWER))
    assert ask("-m", "zai/glm-4.5", "--base-url", wire.url, "hello").returncode == 0
    add_config(SMALL)
    proc = ask("-c", "--base-url", wire.url, PASTED)
    assert proc.returncode == 1 and len(wire.requests) == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("glmchat: Not sent: ")
    assert "the prompt alone is about" in proc.stderr and "context window of 2,000" in proc.stderr
    assert "Shorten it" in proc.stderr and "new conversation" not in proc.stderr
