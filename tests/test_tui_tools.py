"""Tools in the TUI, against the loopback server with scripted multi-request conversations: the
tool panel (arguments as they stream, states, folded results), approval keys, cancelling a
running tool, resume, the palette's toggles, MCP servers started after the first paint, and web
search sources."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot

from glmchat.config import save_value
from glmchat.engine.events import ToolCallUpdate
from glmchat.store.tree import path
from glmchat.tools.base import ToolOutput, ToolSpec
from glmchat.tui.answer_rounds import answer_rounds, exchanges
from glmchat.tui.app_tools import AppTools
from glmchat.tui.screens.tools_picker import ToolsPicker
from glmchat.tui.widgets import prompt as prompt_module
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage
from glmchat.tui.widgets.tool_panel import RESULT_LINES, ToolPanel
from tests.tui_helpers import (
    active,
    glm,
    region_text,
    running,
    saved,
    saved_conversation,
    screen_text,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import (
    SSE_DONE,
    Reply,
    WireServer,
    fixture_reply,
    sse_body,
    sse_event,
)

MCP_SERVER = str(Path(__file__).with_name("mcp_server.py"))
USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
NOTES = "[bold]not markup[/] here\n" + "".join(f"line {n}\n" for n in range(2, 13))


# --- the wire ----------------------------------------------------------------------------------


def _call(index: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "index": index,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def tool_round(*calls: tuple[str, str, str], reasoning: str = "I need a tool. ") -> Reply:
    """One model call that asks for `calls` (id, name, arguments), each whole in one delta."""
    return Reply(
        body=sse_body(
            sse_event({"reasoning_content": reasoning}),
            sse_event({"tool_calls": [_call(i, *c) for i, c in enumerate(calls)]}),
            sse_event({"content": ""}, finish_reason="tool_calls", usage=USAGE),
        ),
        splits=17,
    )


def held_read_round(gate: threading.Event) -> Reply:
    """A model call that asks to read notes.txt once `gate` is set (SSE comments till then)."""
    round_ = tool_round(("c1", "read_file", json.dumps({"path": "notes.txt"})))

    def held() -> Iterator[bytes]:
        while not gate.wait(0.05):
            yield b": waiting\n\n"
        assert round_.body is not None
        yield round_.body

    return Reply(chunks=held, delay=0.002)


def answer(text: str) -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"content": text}), sse_event({}, finish_reason="stop", usage=USAGE)
        )
    )


def sent_tools(request: Any) -> list[str]:
    return [
        spec["function"]["name"] if spec["type"] == "function" else spec["type"]
        for spec in request.json.get("tools", [])
    ]


def tool_messages(request: Any) -> list[dict[str, Any]]:
    return [m for m in request.json["messages"] if m["role"] == "tool"]


# --- set-up ------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """read_file and list_dir on, inside a directory holding notes.txt."""
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text(NOTES, encoding="utf-8")
    save_value("tools.builtin", "read_file,list_dir")
    save_value("tools.allowed_dirs", str(root))
    return root


@dataclass
class GatedTool:
    """A tool the test controls: it runs until `release` is set (or it is cancelled)."""

    spec: ToolSpec = field(
        default_factory=lambda: ToolSpec("wait", "wait", "Wait", {"type": "object"})
    )
    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: bool = False

    async def call(self, arguments: dict[str, Any]) -> ToolOutput:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return ToolOutput("released")


def panels(pilot: Pilot[Any]) -> list[ToolPanel]:
    return list(active(pilot).query(ToolPanel))


def panel_title(panel: ToolPanel) -> str:
    return panel.title.plain if hasattr(panel.title, "plain") else str(panel.title)


async def ask_and_wait(pilot: Pilot[Any], prompt: str) -> None:
    pane = active(pilot)
    await send(pilot, prompt)
    await wait_until(pilot, lambda: pane.approval is not None, "the approval question")
    # The question takes the focus once it is mounted (a loaded machine mounts it later).
    await wait_until(pilot, lambda: not pane.prompt.has_focus, "the question's focus")
    await pilot.pause()


# --- approval ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["y", "enter"])
async def test_y_or_enter_runs_the_call_once(zai: WireServer, files: Path, key: str) -> None:
    call = ("call_1", "read_file", json.dumps({"path": "notes.txt"}))
    zai.reply(tool_round(call), answer("It says hi."), tool_round(call), answer("Again."))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await ask_and_wait(pilot, "What is in notes.txt?")
        screen = screen_text(app)
        assert "read_file · waiting for approval" in screen
        assert "Run read_file? (reads only)  y or enter: once · a: always" in screen
        assert '"path": "notes.txt"' in screen
        assert "approve the tool call" in region_text(pane.status)
        pane.prompt.insert("my next question")  # typed meanwhile: not lost, not answered into
        await pilot.press(key)
        await wait_for_stream(pilot)
        assert pane.prompt.text == "my next question"
        [panel] = panels(pilot)
        assert panel.state == "ok" and panel.collapsed
        assert "read_file · done in" in screen_text(app)
        assert "It says hi." in screen_text(app)
        # The file reached the model as the tool's text; nothing was run before the answer.
        assert tool_messages(zai.requests[1]) == [
            {"role": "tool", "tool_call_id": "call_1", "content": NOTES}
        ]
        # Once means once: the next call asks again.
        pane.prompt.clear()
        await ask_and_wait(pilot, "And again?")
        await pilot.press("y")
        await wait_for_stream(pilot)
    rows = saved(pane.conversation_id)
    assert [r.role for r in rows] == ["user", "assistant", "tool", "assistant"] * 2


async def test_a_allows_the_tool_for_the_rest_of_the_conversation(
    zai: WireServer, files: Path
) -> None:
    call = ("c1", "read_file", json.dumps({"path": "notes.txt"}))
    zai.reply(tool_round(call), answer("one"), tool_round(call), answer("two"))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await ask_and_wait(pilot, "first")
        await pilot.press("a")
        await wait_for_stream(pilot)
        asked: list[object] = []
        await send(pilot, "second")
        # Not asked again: the call runs and the answer arrives with no key pressed.
        await wait_until(
            pilot, lambda: asked.append(pane.approval) or "two" in screen_text(app), "two"
        )
        await wait_for_stream(pilot)
        assert not any(asked)
        assert [p.state for p in panels(pilot)] == ["ok", "ok"]
    assert len(tool_messages(zai.requests[3])) == 2  # both results went back


@pytest.mark.parametrize("key", ["n", "escape"])
async def test_n_or_escape_denies_and_the_answer_goes_on(
    zai: WireServer, files: Path, key: str
) -> None:
    zai.reply(
        tool_round(("c1", "read_file", json.dumps({"path": "notes.txt"}))),
        answer("Then I cannot tell."),
    )
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await ask_and_wait(pilot, "What is in notes.txt?")
        await pilot.press(key)
        await wait_for_stream(pilot)
        [panel] = panels(pilot)
        assert panel.state == "denied"
        assert "read_file · denied" in screen_text(app)
        assert "Then I cannot tell." in screen_text(app)
        assert "stopped" not in screen_text(app)  # a denial is not a stop
    assert tool_messages(zai.requests[1])[0]["content"] == "The user denied this tool call."
    assert saved(pane.conversation_id)[-1].status == "complete"


async def test_a_second_escape_stops_the_answer(zai: WireServer, files: Path) -> None:
    gate = threading.Event()
    zai.reply(
        tool_round(("c1", "read_file", json.dumps({"path": "notes.txt"}))),
        Reply(chunks=stream(["Without the file ", "I cannot say."], holds={1: gate})),
    )
    try:
        async with running() as pilot:
            app = glm(pilot)
            pane = active(pilot)
            await ask_and_wait(pilot, "q")
            await pilot.press("escape")  # denies
            await wait_until(pilot, lambda: "Without the file" in screen_text(app), "round two")
            assert pane.streaming is not None
            await pilot.press("escape")  # stops
            await wait_for_stream(pilot)
            assert "stopped; the partial answer is kept" in screen_text(app)
    finally:
        gate.set()
    assert [r.status for r in saved(pane.conversation_id)][-1] == "cancelled"


# --- the panel ---------------------------------------------------------------------------------


def fragments(gate: threading.Event) -> Iterator[bytes]:
    """A call whose arguments stream in pieces (Z.ai's tool_stream shape); holds mid-way."""
    first = _call(0, "call_s", "read_file", "")
    yield sse_event({"tool_calls": [first]})
    yield sse_event({"tool_calls": [{"index": 0, "function": {"arguments": '{"path": "no'}}]})
    while not gate.wait(0.05):
        yield b": waiting\n\n"
    yield sse_event({"tool_calls": [{"index": 0, "function": {"arguments": 'tes.txt"}'}}]})
    yield sse_event({}, finish_reason="tool_calls", usage=USAGE)
    yield SSE_DONE


async def test_arguments_grow_live_while_they_stream(zai: WireServer, files: Path) -> None:
    gate = threading.Event()
    zai.reply(Reply(chunks=lambda: fragments(gate)), answer("Fine."))
    try:
        async with running() as pilot:
            app = glm(pilot)
            pane = active(pilot)
            await send(pilot, "read it")
            await wait_until(pilot, lambda: bool(panels(pilot)), "the tool panel")
            await wait_until(pilot, lambda: '{"path": "no' in screen_text(app), "the arguments")
            [panel] = panels(pilot)
            assert panel.state == "streaming" and not panel.collapsed
            assert "read_file · writing arguments…" in screen_text(app)
            gate.set()
            await wait_until(pilot, lambda: pane.approval is not None, "the question")
            await pilot.pause()
            assert '"path": "notes.txt"' in screen_text(app)  # whole, laid out
            await pilot.press("y")
            await wait_for_stream(pilot)
            assert panel.state == "ok"
    finally:
        gate.set()


async def test_the_result_is_folded_to_its_first_lines(zai: WireServer, files: Path) -> None:
    zai.reply(
        tool_round(("c1", "read_file", json.dumps({"path": "notes.txt"}))), answer("Twelve lines.")
    )
    async with running() as pilot:
        app = glm(pilot)
        await ask_and_wait(pilot, "read it")
        await pilot.press("y")
        await wait_for_stream(pilot)
        [panel] = panels(pilot)
        assert panel.collapsed and "line 2" not in screen_text(app)
        panel.collapsed = False
        await pilot.pause()
        screen = screen_text(app)
        # Literal (the file holds markup), and only the first lines until asked.
        assert "[bold]not markup[/] here" in screen
        assert f"line {RESULT_LINES}" in screen and f"line {RESULT_LINES + 1}" not in screen
        assert "… 6 more lines (enter or click: show all)" in screen
        await pilot.click(panel.result)
        await pilot.pause()
        assert "line 12" in screen_text(app) and "more lines" not in screen_text(app)
        # Enter on the focused result folds it again (its own action, not Textual's "toggle").
        panel.result.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "… 6 more lines (enter or click: show all)" in screen_text(app)


async def test_escape_while_a_tool_runs_cancels_it(zai: WireServer) -> None:
    save_value("tools.approve", "all")
    zai.reply(tool_round(("c1", "wait", "{}")), answer("Fresh answer."))
    tool = GatedTool()
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        assert pane.engine.toolbox is not None
        pane.engine.toolbox.tools.append(tool)
        await send(pilot, "wait for it")
        await wait_until(pilot, tool.started.is_set, "the tool to start")
        await wait_until(pilot, lambda: "wait · running" in screen_text(app), "running")
        await pilot.press("escape")
        await wait_for_stream(pilot)
        assert tool.cancelled and not tool.release.is_set()
        [panel] = panels(pilot)
        assert panel.state == "cancelled"
        assert "wait · cancelled" in screen_text(app)
        rows = saved(pane.conversation_id)
        assert [(r.role, r.status) for r in rows] == [
            ("user", "complete"),
            ("assistant", "cancelled"),
            ("tool", "cancelled"),
        ]
        # Retry replaces the whole stopped answer (it ends with a tool turn), on screen too.
        await pane.retry()
        await wait_for_stream(pilot)
        assert len(pane.query(AssistantMessage)) == 1 and not panels(pilot)
        assert "Fresh answer." in screen_text(app)
    # The current branch is the prompt and its new answer; the stopped one stays as a branch.
    conversation = saved_conversation(pane.conversation_id)
    assert [m.role for m in path(conversation)] == ["user", "assistant"]
    assert [r.role for r in conversation.messages] == ["user", "assistant", "tool", "assistant"]


async def test_panes_wait_each_for_their_own_answer_and_mark_their_tabs(
    zai: WireServer, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keys right after typing are typing (test_keys_typed_meanwhile_never_answer): here the
    # user has paused since.
    monkeypatch.setattr(prompt_module, "TYPING_PAUSE", 0.0)
    read = ("c1", "read_file", json.dumps({"path": "notes.txt"}))
    zai.reply(tool_round(read), tool_round(read), answer("Second denied."), answer("First read."))
    async with running() as pilot:
        app = glm(pilot)
        first = active(pilot)
        await ask_and_wait(pilot, "read it")
        first_tab = app.tabs.active
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.tabs.active != first_tab, "the new pane")
        second = active(pilot)
        assert app.tabs.bar.label(first_tab or "").plain.startswith("? ")
        await pilot.press("y")  # the shown pane has nothing to approve: y is typed
        assert second.prompt.text == "y" and first.approval is not None
        second.prompt.clear()
        await ask_and_wait(pilot, "you too")  # now both wait
        assert first.approval is not None and second.approval is not None
        await pilot.press("n")
        # (wait_for_stream waits for every worker: the first pane's is still waiting.)
        await wait_until(pilot, lambda: second.streaming is None, "the second answer")
        assert first.approval is not None and first.streaming is not None
        await pilot.press("ctrl+pageup")
        await wait_until(pilot, lambda: app.tabs.active == first_tab, "the first pane")
        assert first.focus_target.has_focus  # the question, not the prompt
        await pilot.press("y")
        await wait_for_stream(pilot, first)
        assert not app.tabs.bar.label(first_tab or "").plain.startswith("?")
        assert [p.state for p in first.query(ToolPanel)] == ["ok"]
        assert [p.state for p in second.query(ToolPanel)] == ["denied"]


async def test_a_call_asked_while_its_pane_is_hidden_is_asked_when_shown(
    zai: WireServer, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hidden pane draws nothing of its answer until shown, but a call that waits for the
    user is asked at once: its tab says so, and the question is on its call's panel, after
    the thinking before it, when the pane is shown."""
    monkeypatch.setattr(prompt_module, "TYPING_PAUSE", 0.0)
    gate = threading.Event()
    zai.reply(held_read_round(gate), answer("It says hi."))
    async with running() as pilot:
        app = glm(pilot)
        first = active(pilot)
        await send(pilot, "read it")
        first_tab = app.tabs.active
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.tabs.active != first_tab, "the new pane")
        gate.set()
        await wait_until(pilot, lambda: first.approval is not None, "the question")
        await pilot.pause()
        assert app.tabs.bar.label(first_tab or "").plain.startswith("? ")
        message = first.streaming
        assert message is not None
        assert [p.state for p in message.query(ToolPanel)] == ["waiting"]
        await pilot.press("ctrl+pageup")
        await wait_until(pilot, lambda: app.tabs.active == first_tab, "the first pane")
        assert first.focus_target.has_focus
        assert "I need a tool." in message.reasoning_text  # drawn before the question
        await pilot.pause(0.6)  # a live title would tick meanwhile
        assert message.thinking is not None
        assert str(message.thinking.title).startswith("Thought for ")  # over with the call
        await pilot.press("y")
        await wait_for_stream(pilot, first)
        assert [p.state for p in first.query(ToolPanel)] == ["ok"]
        assert "It says hi." in screen_text(app)


async def test_a_call_waiting_in_a_tab_out_of_view_shows_on_the_bar(
    zai: WireServer, files: Path
) -> None:
    """Found by QA: a call asked in a tab scrolled out of the tab bar was nowhere to be seen
    (the bar said `‹ 8`). The count of the tabs out of view on that side carries the mark that
    most needs the user (`? ‹ 8`), and a notification says which conversation waits."""
    gate = threading.Event()
    zai.reply(held_read_round(gate), answer("It says hi."))
    async with running(size=(80, 24)) as pilot:
        app = glm(pilot)
        first = active(pilot)
        await send(pilot, "read the notes")
        for n in range(8):
            await pilot.press("ctrl+n")
            await pilot.pause()
            active(pilot).rename(f"conversation number {n}")
        await pilot.pause()
        top = screen_text(app).splitlines()[0]
        assert "‹" in top and "?" not in top, top
        gate.set()
        await wait_until(pilot, lambda: first.approval is not None, "the question")
        await wait_until(pilot, lambda: "? ‹" in screen_text(app).splitlines()[0], "the mark")
        said = [str(n.message) for n in app._notifications]
        assert any("“read the notes” waits for your answer" in line for line in said), said
        first.approval.answer("deny")  # type: ignore[union-attr]
        await wait_for_stream(pilot, first)
        await wait_until(pilot, lambda: "?" not in screen_text(app).splitlines()[0], "cleared")


async def test_no_blank_rows_between_a_rounds_text_and_its_call(
    zai: WireServer, files: Path
) -> None:
    """Found by QA: while a call waited for approval, about 7 blank rows stood between the
    round's text and its panel (the rows a streaming answer keeps for lines to come)."""
    call = _call(0, "c1", "read_file", json.dumps({"path": "notes.txt"}))
    zai.reply(
        Reply(
            body=sse_body(
                sse_event({"content": "Let me check the notes first."}),
                sse_event({"tool_calls": [call]}),
                sse_event({"content": ""}, finish_reason="tool_calls", usage=USAGE),
            )
        ),
        answer("Done."),
    )
    async with running() as pilot:
        pane = active(pilot)
        await ask_and_wait(pilot, "read it")
        await pilot.pause()
        lines = screen_text(glm(pilot)).splitlines()
        text = next(i for i, line in enumerate(lines) if "Let me check the notes" in line)
        panel = next(i for i, line in enumerate(lines) if "read_file" in line and i > text)
        assert panel - text <= 2, "\n".join(lines[text : panel + 1])
        pane.approval.answer("deny")  # type: ignore[union-attr]
        await wait_for_stream(pilot, pane)


async def test_keys_typed_meanwhile_never_answer(zai: WireServer, files: Path) -> None:
    """Found by a helper, then by QA: the question takes the focus when it appears, so a user
    typing a follow-up answered it: with their next y, a or n ("a" allowing the tool for
    good), with the first letter of a word after a pause ("and also..."), and with enter in
    the prompt. Typing is text: a y, a or n followed at once by another key, and any key
    within a second of the last one typed, go to the prompt, in order; enter in the prompt is
    the prompt's; escape denies; a lone key answers."""
    call = ("c1", "read_file", json.dumps({"path": "notes.txt"}))
    zai.reply(tool_round(call), answer("It says hi."))
    async with running() as pilot:
        pane = active(pilot)
        await ask_and_wait(pilot, "What is in notes.txt?")
        assert pane.focus_target.has_focus  # the question took the focus
        # Its answers are offered, not the keys of a selected message (found by a helper).
        footer = screen_text(glm(pilot)).splitlines()[-1]
        assert "Allow once" in footer and "Regenerate" not in footer and "Edit" not in footer
        await pilot.press(*"and also")  # after a pause: the first letter would answer "always"
        await pilot.pause(0.5)
        assert pane.approval is not None and not pane.approval.future.done()
        assert pane.prompt.text == "and also" and pane.prompt.has_focus
        await pilot.press("enter")  # in the box: the box's, not an approval
        assert pane.approval is not None and not pane.approval.future.done()
        # ...which says how to answer (escape would deny, not stop; found by QA).
        said = [n.message for n in pilot.app._notifications]
        assert any(m.startswith("A tool call waits for you: alt+up, then y") for m in said)
        pane.prompt.clear()
        pane.prompt._typed_at = float("-inf")  # a pause: the user reads the question
        # From the answer selected with the keyboard, the same (found by QA: "yes please"
        # answered with its y, or lost it in a burst; the footer offered r, [ and ]).
        await pilot.press("alt+up")
        offered = {b.binding.id for b in pilot.app.screen.active_bindings.values()}
        assert not {"regenerate", "prev_sibling", "next_sibling"} & offered
        for character in "yes please":
            pilot.app.post_message(
                events.Key("space" if character == " " else character, character)
            )
        await pilot.pause(0.5)
        assert pane.prompt.text == "yes please"
        assert pane.approval is not None and not pane.approval.future.done()
        pane.prompt.clear()
        pane.prompt._typed_at = float("-inf")
        await pilot.press("alt+up", "y")  # to the answer, then a lone y: allowed
        await wait_for_stream(pilot)
        assert [p.state for p in panels(pilot)] == ["ok"]


async def test_a_burst_at_the_question_is_typed_in_order(zai: WireServer, files: Path) -> None:
    call = ("c1", "read_file", json.dumps({"path": "notes.txt"}))
    zai.reply(tool_round(call), answer("Then I cannot tell."))
    async with running() as pilot:
        pane = active(pilot)
        await ask_and_wait(pilot, "read it")
        # One read of a fast typist's keys: all queued before the first is handled (pressed
        # one by one, each would be handled before the next arrives).
        for character in "typing on now":  # y, n among them
            pilot.app.post_message(
                events.Key("space" if character == " " else character, character)
            )
        await pilot.pause(0.5)
        assert pane.prompt.text == "typing on now"  # not "ytping", nothing answered
        assert pane.approval is not None and not pane.approval.future.done()
        await pilot.press("escape")  # denies from the prompt too
        await wait_for_stream(pilot)
        assert [p.state for p in panels(pilot)] == ["denied"]
        assert pane.prompt.text == "typing on now"


# --- resume --------------------------------------------------------------------------------------


async def test_a_resumed_tool_loop_is_one_answer_with_folded_panels(
    zai: WireServer, files: Path
) -> None:
    save_value("tools.approve", "all")
    zai.reply(
        tool_round(
            ("c1", "read_file", json.dumps({"path": "notes.txt"})),
            ("c2", "list_dir", json.dumps({"path": "."})),
            reasoning="Look first.",
        ),
        tool_round(("c3", "read_file", json.dumps({"path": "missing.txt"}))),
        answer("All read."),
        answer("Sure."),
    )
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "read everything")
        await wait_for_stream(pilot)
        conversation_id = pane.conversation_id
    async with running(resume=conversation_id) as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await pilot.pause()
        assert len(pane.query(UserMessage)) == 1 and len(pane.query(AssistantMessage)) == 1
        shown = panels(pilot)
        assert [(p.update_seen.title, p.state) for p in shown] == [
            ("read_file", "ok"),
            ("list_dir", "ok"),
            ("read_file", "error"),
        ]
        assert all(p.collapsed for p in shown)
        screen = screen_text(app)
        assert "read_file · done in" in screen and "read_file · error" in screen
        assert "All read." in screen and "line 2" not in screen
        # The conversation goes on with the loop sent back whole.
        await send(pilot, "sure?")
        await wait_for_stream(pilot)
    roles = [m["role"] for m in zai.requests[-1].json["messages"]]
    assert roles == ["user", "assistant", "tool", "tool", "assistant", "tool", "assistant", "user"]


def test_answer_rounds_pair_calls_with_their_results() -> None:
    from glmchat.engine.turns import Turn

    turns = [
        Turn("user", "q"),
        Turn(
            "assistant",
            "Let me look.",
            reasoning="hmm",
            tool_calls=[{"id": "a", "name": "f", "arguments": "{}"}, {"id": "b", "name": "g"}],
            usage={"reasoning_tokens": 7},
            timings={"thinking_seconds": 1.5},
        ),
        Turn(
            "tool",
            "A",
            tool_call_id="a",
            tool_calls=[{"id": "a", "name": "f", "title": "srv__f", "status": "ok", "seconds": 2}],
        ),
        Turn("assistant", "Done.", status="cancelled"),
        Turn("tool", "stray", tool_call_id="zz", tool_calls=[{"name": "h", "status": "weird"}]),
        Turn("user", "next"),
    ]
    groups = exchanges(turns)
    assert [[t.role for t in g] for g in groups] == [
        ["user"],
        ["assistant", "tool", "assistant", "tool"],
        ["user"],
    ]
    first, last = answer_rounds(groups[1])
    assert (first.content, first.reasoning, first.reasoning_seconds) == ("Let me look.", "hmm", 1.5)
    assert first.reasoning_tokens == 7
    a, b = first.calls
    assert (a.key, a.title, a.state, a.result, a.seconds) == ((0, 0), "srv__f", "ok", "A", 2.0)
    assert (b.key, b.name, b.state, b.result) == ((0, 1), "g", "not_run", None)
    [stray] = last.calls  # a result with no call on record is still shown
    assert (stray.key, stray.name, stray.state, stray.result) == ((1, 0), "h", "ok", "stray")


# --- palette, status line --------------------------------------------------------------------


async def run_command(pilot: Pilot[Any], name: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*name)
    await wait_until(pilot, lambda: name in screen_text(pilot.app), f"the command {name!r}")
    await pilot.press("enter")
    await pilot.pause()


async def test_the_palette_switches_a_tool_off_for_the_next_request(
    zai: WireServer, files: Path
) -> None:
    zai.reply(answer("one"), answer("two"))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        assert "tools 2" in region_text(pane.status)
        await send(pilot, "first")
        await wait_for_stream(pilot)
        assert sent_tools(zai.requests[0]) == ["read_file", "list_dir"]
        await run_command(pilot, "Tools…")
        assert isinstance(app.screen, ToolsPicker)
        screen = screen_text(app)
        assert "[x] read_file  reads only" in screen and "[x] list_dir" in screen
        await pilot.press("enter")  # the first row: read_file
        await pilot.pause()
        assert "[ ] read_file" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert "tools 1" in region_text(pane.status)
        await send(pilot, "second")
        await wait_for_stream(pilot)
    assert sent_tools(zai.requests[1]) == ["list_dir"]


async def test_web_search_from_the_palette_numbers_the_sources(zai: WireServer) -> None:
    zai.reply(fixture_reply("zai_web_search_stream", splits=29))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await run_command(pilot, "Web search on")
        assert pane.engine.toolbox is not None and pane.engine.toolbox.web_search
        assert "tools 1" in region_text(pane.status)
        await send(pilot, "Weather in Tokyo tomorrow?")
        await wait_for_stream(pilot)
        screen = screen_text(app)
        assert "Tomorrow in Tokyo: sunny, 14–21 °C [1]; clouds later [2]." in screen
        assert "[ref_1]" not in screen
        assert "Sources" in screen
        assert "[1] Tokyo weather — 10-day forecast — https://weather.example.com/tokyo" in screen
        assert "[2] 東京の天気 — https://tenki.example.jp/tokyo" in screen
    assert sent_tools(zai.requests[0]) == ["web_search"]
    # What was said is kept as said: the citations are numbered on the screen only.
    assert "[ref_1]" in saved(pane.conversation_id)[-1].content


# --- MCP servers ---------------------------------------------------------------------------------


def mcp_server(name: str, *args: str) -> None:
    save_value(f"mcp.servers.{name}.command", sys.executable)
    save_value(f"mcp.servers.{name}.args", ",".join([MCP_SERVER, *args]))


async def test_mcp_servers_start_after_the_first_paint_and_their_tools_join(
    zai: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mcp_server("test")
    mcp_server("broken", "--fail-start")
    painted_before_start: list[bool] = []
    real_start = AppTools.start

    async def start(self: AppTools) -> None:
        painted_before_start.append("New conversation" in screen_text(app))
        await real_start(self)

    monkeypatch.setattr(AppTools, "start", start)
    toasts: list[str] = []
    zai.reply(
        tool_round(("c1", "test__echo", json.dumps({"text": "hello [/] there"}))),
        answer("It echoed."),
    )
    from tests.tui_helpers import build_app

    app = build_app()
    real_notify = app.notify

    def notify(message: str, **kw: Any) -> None:
        toasts.append(message)
        real_notify(message, **kw)

    app.notify = notify  # type: ignore[method-assign]
    async with running(app) as pilot:
        pane = active(pilot)
        await wait_until(pilot, lambda: app.tools.manager is not None, "the servers to start")
        assert painted_before_start == [True]
        states = lambda: {s.name: s.state for s in app.tools.statuses()}  # noqa: E731
        await wait_until(
            pilot, lambda: states() == {"test": "ready", "broken": "failed"}, "both servers"
        )
        await pilot.pause()
        count = len(app.tools.manager.status("test").tools)  # type: ignore[union-attr]
        assert f"tools {count}" in region_text(pane.status)
        assert "MCP broken failed" in region_text(pane.status)
        # One clear line for the server that failed, and the chat goes on with the other.
        broken = [t for t in toasts if "broken" in t]
        assert len(broken) == 1
        assert broken[0].startswith('MCP server "broken" failed')
        assert "The chat goes on without its tools." in broken[0]
        await ask_and_wait(pilot, "echo it")
        await pilot.press("y")
        await wait_for_stream(pilot)
        [panel] = panels(pilot)
        assert panel.state == "ok" and panel.update_seen.title == "test__echo"
        assert "It echoed." in screen_text(app)
        manager = app.tools.manager
    assert "test__echo" in sent_tools(zai.requests[0])
    assert tool_messages(zai.requests[1])[0]["content"] == "hello [/] there"
    assert manager is not None and manager.status("test").state == "stopped"  # closed on exit


# --- pieces ------------------------------------------------------------------------------------


def test_panel_titles_say_each_state() -> None:
    from glmchat.tui.widgets.tool_panel import state_text

    def update(state: str, seconds: float | None = None) -> ToolCallUpdate:
        return ToolCallUpdate((0, 0), "c", "f", "f", "{}", state, None, seconds)  # type: ignore[arg-type]

    assert state_text(update("streaming")) == "writing arguments…"
    assert state_text(update("waiting")) == "waiting for approval"
    assert state_text(update("running"), 3.25) == "running 3.2 s"
    assert state_text(update("ok", 0.42)) == "done in 0.4 s"
    assert state_text(update("error", 1.0)) == "error after 1.0 s"
    assert state_text(update("timeout", 60.0)) == "timed out after 60 s"
    assert [state_text(update(s)) for s in ("denied", "cancelled", "not_run")] == [
        "denied",
        "cancelled",
        "not run",
    ]


def test_citations_are_numbered_by_their_sources() -> None:
    from glmchat.tui.widgets.sources import cite

    results = [{"refer": "ref_1"}, {"refer": "ref_7"}, {"title": "no refer"}]
    assert cite("a [ref_1] b [ref_7]【ref_1】 c [ref_9] d [ ref_7 ]", results) == (
        "a [1] b [2][1] c [ref_9] d [2]"
    )
    assert cite("no citations", results) == "no citations"
    assert cite("[ref_1]", []) == "[ref_1]"


async def test_a_server_that_dies_mid_call_is_one_notification_and_the_chat_goes_on(
    zai: WireServer,
) -> None:
    mcp_server("test")
    zai.reply(
        tool_round(("c1", "test__crash", "{}")),
        answer("The tool crashed."),
        answer("Still here."),
    )
    from tests.tui_helpers import build_app, record_notices

    app = build_app()
    toasts = record_notices(app)
    async with running(app) as pilot:
        pane = active(pilot)
        await wait_until(
            pilot,
            lambda: [s.state for s in app.tools.statuses()] == ["ready"],
            "the server",
        )
        await ask_and_wait(pilot, "crash it")
        await pilot.press("y")
        await wait_for_stream(pilot)
        await wait_until(
            pilot, lambda: app.tools.statuses()[0].state == "failed", "the server to fail"
        )
        await pilot.pause()
        [panel] = panels(pilot)
        assert panel.state == "error"
        told = [t for t in toasts if '"test"' in t]
        assert len(told) == 1 and told[0].startswith('MCP server "test" failed')
        assert "tools" not in region_text(pane.status).replace("MCP test failed", "")
        await send(pilot, "still there?")
        await wait_for_stream(pilot)
        assert "Still here." in screen_text(app)
    assert "test__crash" not in sent_tools(zai.requests[2])  # its tools left with it


async def test_a_call_cut_off_with_the_stream_is_not_left_open(zai: WireServer) -> None:
    body = sse_body(
        sse_event({"tool_calls": [_call(0, "c1", "read_file", "")]}),
        sse_event({"tool_calls": [{"index": 0, "function": {"arguments": '{"pa'}}]}),
        done=False,
    )
    zai.reply(Reply(body=body))
    async with running() as pilot:
        app = glm(pilot)
        await send(pilot, "read it")
        await wait_for_stream(pilot)
        [panel] = panels(pilot)
        assert panel.state == "not_run" and panel.collapsed
        assert "read_file · not run" in screen_text(app)


def test_the_tools_list_toggles_a_tool_or_a_whole_server() -> None:
    from glmchat.tools.base import Toolbox
    from glmchat.tools.mcp_servers import ServerStatus
    from glmchat.tui.screens.tools_picker import toggle, tool_rows

    def tool(name: str, source: str = "builtin", read_only: bool = False) -> GatedTool:
        spec = ToolSpec(name, name.replace("_mcp_", "__"), "", {}, read_only, source)
        return GatedTool(spec=spec)

    toolbox = Toolbox(
        tools=[
            tool("read_file", read_only=True),
            tool("git_mcp_log", "mcp:git"),
            tool("git_mcp_push", "mcp:git"),
        ]
    )
    servers = [ServerStatus("git", "ready"), ServerStatus("web", "failed", "cannot run uvx")]

    def shown() -> list[tuple[str, str]]:
        return [(row.key, row.text.plain) for row in tool_rows(toolbox, servers, web_search=None)]

    assert shown() == [
        ("tool:read_file", "[x] read_file  reads only"),
        ("server:git", "MCP git  ready, 2 tools"),
        ("tool:git_mcp_log", "    [x] git__log  may change things"),
        ("tool:git_mcp_push", "    [x] git__push  may change things"),
        ("", "MCP web  failed: cannot run uvx"),
    ]
    toggle(toolbox, "tool:git_mcp_push")
    assert toolbox.disabled == {"git_mcp_push"}
    toggle(toolbox, "server:git")  # one still on: the server goes off
    assert toolbox.disabled == {"git_mcp_log", "git_mcp_push"}
    toggle(toolbox, "server:git")
    assert toolbox.disabled == set()
    assert [row.text.plain for row in tool_rows(toolbox, [], web_search=False)][1] == (
        "[ ] web search  Z.ai, on its servers"
    )
