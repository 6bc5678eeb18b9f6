"""The TUI with the catalogue: the context gauge against the model's own window (an estimate
until the provider counts), near and over the limit, ctrl+t on a model that always thinks, and a
prompt that would not fit: not sent, with the choice to leave out the oldest turns or fork."""

from __future__ import annotations

from glmchat import paths
from glmchat.tui.context_budget import LEFT_OUT
from glmchat.tui.screens.context_full import ContextFull
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage
from glmchat.tui.widgets.status_bar import StatusInfo, render_info
from tests.tui_helpers import (
    active,
    glm,
    message,
    region_text,
    running,
    seed,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer


def add_config(text: str) -> None:
    path = paths.config_path()
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(old + text, encoding="utf-8")


# --- the gauge, drawn -------------------------------------------------------------------------


def line(**kw: object) -> str:
    info = StatusInfo(provider="zai", model="m", answers=1, **kw)  # type: ignore[arg-type]
    return render_info(info).plain


def test_the_gauge_uses_the_models_window() -> None:
    assert "context 12.3K/128K (9%)" in line(context=12_345, context_window=131_072)
    assert "context 12.3K/200K (6%)" in line(context=12_345, context_window=204_800)
    assert "context 12.3K/1M (1%)" in line(context=12_345, context_window=1_048_576)


def test_an_unknown_window_shows_tokens_without_a_share() -> None:
    text = line(context=12_345, context_window=None)
    assert "context 12.3K" in text and "%" not in text


def test_an_estimate_is_marked_until_the_provider_counts() -> None:
    assert "context ~900/128K (~1%)" in line(context=900, context_estimated=True,
                                              context_window=131_072)  # fmt: skip


def test_near_and_over_the_limit_are_said_and_kept_when_narrow() -> None:
    near = StatusInfo(model="m", answers=1, context=110_000, context_window=131_072)
    assert "context 110.0K/128K (84%) near the limit" in render_info(near).plain
    over = StatusInfo(model="m", answers=1, context=140_000, context_window=131_072)
    assert "over the window" in render_info(over).plain
    # At 40 cells the speed and the tokens go first; the warning stays (short form).
    info = StatusInfo(model="m", answers=1, tokens_in=5, tokens_out=5, context=110_000,
                      context_window=131_072, rate=30.0)  # fmt: skip
    narrow = render_info(info, 40)
    assert "context 84%" in narrow.plain and "tok/s" not in narrow.plain


def test_effort_replaces_on_off() -> None:
    assert "thinking max" in render_info(StatusInfo(model="m", effort="max")).plain
    assert "thinking OFF" in render_info(StatusInfo(model="m", thinking=False)).plain


# --- in the app ---------------------------------------------------------------------------------


async def test_ctrl_t_on_glm_5_3_moves_between_effort_levels(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["ok"])))
    async with running(model="zai/glm-5.3") as pilot:
        pane = active(pilot)
        assert "thinking max" in region_text(pane.status)
        for label in ("low", "high", "max", "low"):
            await pilot.press("ctrl+t")
            assert f"thinking {label}" in region_text(pane.status)
            assert pane.thinking  # never off
        assert any("effort low" in n.message for n in glm(pilot)._notifications)
        await send(pilot, "hi")
        await wait_for_stream(pilot)
    body = zai.requests[0].json
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "low"


async def test_the_gauge_is_an_estimate_until_the_answer_counts(zai: WireServer) -> None:
    import threading

    gate = threading.Event()
    usage = {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40}
    zai.reply(Reply(chunks=stream(["ok"], holds={0: gate}, usage=usage), delay=0.01))
    async with running(model="zai/glm-4.6") as pilot:
        pane = active(pilot)
        await send(pilot, "a question " * 40)
        await wait_until(pilot, lambda: "context ~" in region_text(pane.status), "an estimate")
        assert "/200K" in region_text(pane.status)
        gate.set()
        await wait_for_stream(pilot)
        status = region_text(pane.status)
        assert "context 40/200K (0%)" in status and "context ~" not in status


def _long_conversation(turns: int = 12) -> str:
    rows = []
    for i in range(turns):
        rows.append(message("user", f"question {i} " + "word " * 200, position=2 * i))
        rows.append(message("assistant", f"answer {i} " + "word " * 200, position=2 * i + 1))
    return seed("b1dget000001", "A long one", rows)


async def test_a_prompt_that_does_not_fit_is_not_sent_and_oldest_turns_can_be_left_out(
    zai: WireServer,
) -> None:
    # Each exchange is about 500 tokens by the estimate: 12 of them do not fit in 3,000.
    add_config('[models."zai/glm-4.5"]\ncontext = 3000\n')
    conversation_id = _long_conversation()
    zai.reply(Reply(chunks=stream(["fits now"])))
    async with running(resume=conversation_id) as pilot:
        pane = active(pilot)
        await send(pilot, "and now?")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ContextFull), "the choice")
        assert zai.requests == []  # never sent into a certain 400
        assert pane.prompt.text == "and now?"  # nothing the user wrote is lost
        assert len(pane.engine.turns) == 24  # nothing saved either
        await pilot.press("l")
        await wait_for_stream(pilot)
        assert pane.prompt.text == ""
        sent = zai.requests[0].json["messages"]
        # The newest exchanges only, the prompt last; the oldest turns stay on screen, dimmed.
        assert sent[-1] == {"role": "user", "content": "and now?"}
        assert 2 <= len(sent) < 24 and sent[0]["content"].startswith("question ")
        assert not sent[0]["content"].startswith("question 0 ")
        left = pane.engine.omit_before
        # (Read from the bar itself: the notification toast covers the screen's corner.)
        assert left > 0 and f"{left} oldest turns left out" in render_info(pane.status.info).plain
        widgets = [
            w for w in pane.log_view.children if isinstance(w, UserMessage | AssistantMessage)
        ]
        assert widgets[0].has_class(LEFT_OUT) and not widgets[-1].has_class(LEFT_OUT)
        assert len(pane.engine.turns) == 26  # every turn kept


async def test_fork_opens_a_new_pane_with_the_last_turns_as_context(zai: WireServer) -> None:
    add_config('[models."zai/glm-4.5"]\ncontext = 3000\n')
    conversation_id = _long_conversation()
    async with running(resume=conversation_id) as pilot:
        first = active(pilot)
        await send(pilot, "and now?")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ContextFull), "the choice")
        await pilot.press("f")
        await wait_until(pilot, lambda: active(pilot) is not first, "a new pane")
        fork = active(pilot)
        text = fork.prompt.text
        assert text.startswith('Context from an earlier conversation ("A long one")')
        assert "answer 11 " in text and "question 0 " not in text
        assert text.endswith("and now?")
        assert fork.engine.model == "glm-4.5" and fork.engine.conversation_id is None
        assert zai.requests == []


async def test_escape_keeps_the_prompt_for_editing(zai: WireServer) -> None:
    add_config('[models."zai/glm-4.5"]\ncontext = 3000\n')
    conversation_id = _long_conversation()
    async with running(resume=conversation_id) as pilot:
        pane = active(pilot)
        await send(pilot, "and now?")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ContextFull), "the choice")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(pilot.app.screen, ContextFull), "closed")
        assert pane.prompt.text == "and now?" and zai.requests == []
        assert pane.engine.omit_before == 0


async def test_the_choice_wraps_its_text_in_the_dialog_instead_of_cutting_it() -> None:
    """Found by QA: the dialog's labels were as wide as their text and cut at its edge."""
    from textual.app import App

    from tests.tui_helpers import screen_lines

    message = (
        "Not sent: the conversation is about 31,513 tokens (an estimate), more than the "
        "12,000 that zai/glm-4.5 takes with room for its answer. Leave out the oldest turns, "
        "fork, or edit the prompt."
    )
    for width in (80, 50):
        app: App[None] = App()
        async with app.run_test(size=(width, 24)) as pilot:
            app.push_screen(ContextFull(message, can_leave_out=True))
            await pilot.pause()
            shown = " ".join(" ".join(line.split()) for line in screen_lines(app))
            for words in (message, "stops sending the oldest. A fork starts a new"):
                # Every word is there, across the wrapped lines, and none is cut.
                wrapped = " ".join(words.split())
                assert all(word in shown.split() for word in wrapped.split()), (width, shown)


async def test_retry_and_regenerate_are_held_to_the_window(zai: WireServer) -> None:
    """Found by QA: r and the palette's retry sent a request over the window, where a new
    prompt was refused; they say so and send nothing."""
    add_config('[models."zai/glm-4.5"]\ncontext = 3000\n')
    conversation_id = _long_conversation()
    async with running(resume=conversation_id) as pilot:
        pane = active(pilot)
        await pilot.press("alt+up", "r")
        await wait_until(
            pilot, lambda: "Not sent" in " ".join(n.message for n in pilot.app._notifications), "r"
        )
        await pane.retry()
        await pilot.pause()
        said = [n.message for n in pilot.app._notifications if "Not sent" in n.message]
        assert len(said) == 2 and "context window of 3,000" in said[0]
        assert "Send a new prompt to leave out the oldest turns or fork" in said[0]
        assert zai.requests == [] and len(pane.engine.turns) == 24
