"""Clicks in the log never turn typing into actions: after a click on a message, a thinking or
tool panel's header or a tool's result, what the user types (or pastes) goes to the prompt box,
and the selection's single-key bindings (e, r, [, ]) act only on a selection made with the
keyboard. The click still does what it is for: a header folds or unfolds its panel, a result
shows all of it, a message is selected for the palette's commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets._collapsible import CollapsibleTitle

from glmchat.config import save_value
from glmchat.tui.widgets.markdown_view import StreamingMarkdown
from glmchat.tui.widgets.messages import AssistantMessage, ThinkingPanel, UserMessage
from glmchat.tui.widgets.tool_panel import ToolPanel
from tests.tui_helpers import active, running, send, wait_for_stream, wait_until
from tests.wire_server import Reply, WireServer, sse_body, sse_event

USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
NOTES = "".join(f"line {n}\n" for n in range(1, 13))  # more than a folded result shows


def tool_loop() -> list[Reply]:
    """A model call that thinks and reads notes.txt, then the answer."""
    call = {
        "id": "call_1",
        "index": 0,
        "type": "function",
        "function": {"name": "read_file", "arguments": json.dumps({"path": "notes.txt"})},
    }
    return [
        Reply(
            body=sse_body(
                sse_event({"reasoning_content": "I need a tool. "}),
                sse_event({"tool_calls": [call]}),
                sse_event({"content": ""}, finish_reason="tool_calls", usage=USAGE),
            )
        ),
        Reply(
            body=sse_body(
                sse_event({"content": "It lists twelve lines."}),
                sse_event({}, finish_reason="stop", usage=USAGE),
            )
        ),
    ]


@pytest.fixture
def read_file(tmp_path: Path) -> None:
    """read_file on, run without asking, inside a directory holding notes.txt."""
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text(NOTES, encoding="utf-8")
    save_value("tools.builtin", "read_file")
    save_value("tools.allowed_dirs", str(root))
    save_value("tools.approve", "all")


async def answered_with_a_tool(pilot: Pilot[Any], zai: WireServer) -> AssistantMessage:
    await send(pilot, "read notes.txt")
    await wait_for_stream(pilot)
    await pilot.pause()
    assert len(zai.requests) == 2
    [answer] = active(pilot).query(AssistantMessage)
    return answer


async def type_after_click(pilot: Pilot[Any], where: Widget, text: str) -> None:
    """Click `where`, then type `text` key by key, as a user does."""
    await pilot.click(where)
    await pilot.pause()
    await pilot.press(*text)
    await pilot.pause()


@pytest.mark.usefixtures("read_file")
async def test_a_click_on_a_panel_header_unfolds_it_and_typing_goes_to_the_box(
    zai: WireServer,
) -> None:
    zai.reply(*tool_loop())
    async with running() as pilot:
        pane = active(pilot)
        answer = await answered_with_a_tool(pilot, zai)
        [tool] = answer.query(ToolPanel)
        [thinking] = answer.query(ThinkingPanel)
        for panel, word in ((tool, "where"), (thinking, "[really]")):
            assert panel.collapsed
            await type_after_click(pilot, panel.query_one(CollapsibleTitle), word)
            assert not panel.collapsed  # the click did what it is for
            # Every letter reached the box; none was an action (r regenerates, [ switches).
            assert pane.prompt.text == word and pane.prompt.has_focus
            assert len(zai.requests) == 2 and len(pane.turns) == 4
            pane.prompt.clear()
        # A click on the folded result shows all of it; typing still goes to the box.
        await type_after_click(pilot, tool.result, "rerun")
        assert tool.result.hidden_lines == 0
        assert pane.prompt.text == "rerun" and len(zai.requests) == 2


@pytest.mark.usefixtures("read_file")
async def test_a_clicked_message_is_selected_but_letters_are_typed(zai: WireServer) -> None:
    zai.reply(*tool_loop(), Reply(body=sse_body(sse_event({"content": "Again."}))))
    async with running() as pilot:
        pane = active(pilot)
        answer = await answered_with_a_tool(pilot, zai)
        [prompt] = pane.query(UserMessage)
        [text] = [w for w in answer.query(StreamingMarkdown) if "twelve" in w.text]
        await pilot.click(text)  # the answer's text
        await pilot.pause()
        # Selected (for the palette's commands), and the footer offers no letter keys.
        assert pilot.app.focused is answer and pane.branches.selected is answer
        offered = {b.binding.id for b in pilot.app.screen.active_bindings.values()}
        assert "select_prev" in offered
        assert not {"regenerate", "prev_sibling", "next_sibling"} & offered
        await pilot.press(*"rerun it")
        await pilot.pause()
        assert pane.prompt.text == "rerun it" and len(zai.requests) == 2
        pane.prompt.clear()
        # A fast typist's burst, all its keys routed to the message before the first is
        # handled (found by QA: only the first letter reached the box).
        await pilot.click(text)
        await pilot.pause()
        for character in "hello":
            pilot.app.post_message(events.Key(character, character))
        await pilot.pause()
        assert pane.prompt.text == "hello" and len(zai.requests) == 2
        pane.prompt.clear()
        # A prompt: e would load it into the box (an edit); typed, it stays text.
        await type_after_click(pilot, prompt, "explain")
        assert pane.prompt.text == "explain" and pane.branches.editing is None
        pane.prompt.clear()
        # A paste after a click goes to the box too.
        await pilot.click(text)
        await pilot.pause()
        pilot.app.post_message(events.Paste("pasted [text]"))
        await pilot.pause()
        assert pane.prompt.text == "pasted [text]" and pane.prompt.has_focus
        pane.prompt.clear()
        # With the keyboard, from the clicked message, the keys act again.
        await pilot.click(prompt)
        await pilot.pause()
        await pilot.press("alt+down")
        assert pilot.app.focused is answer
        await pilot.press("r")
        await wait_until(pilot, lambda: len(zai.requests) == 3, "the regenerate request")
        await wait_for_stream(pilot)
        assert pane.prompt.text == ""


async def test_a_selected_message_sends_other_typed_keys_to_the_box(zai: WireServer) -> None:
    """With the keyboard selection, e, r, [ and ] are actions; any other key that types
    text is not lost: it goes to the box, which takes the focus back."""
    zai.reply(Reply(body=sse_body(sse_event({"content": "answer 1"}))))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "question 1")
        await wait_for_stream(pilot)
        await pilot.press("alt+up")
        assert isinstance(pilot.app.focused, AssistantMessage)
        await pilot.press(*"what now")
        assert pane.prompt.text == "what now" and pane.prompt.has_focus
        assert len(zai.requests) == 1


async def test_typing_after_a_click_never_answers_a_waiting_tool_call(
    zai: WireServer, tmp_path: Path
) -> None:
    """y, a and n answer the approval question; after a click in the log they are text."""
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text(NOTES, encoding="utf-8")
    save_value("tools.builtin", "read_file")
    save_value("tools.allowed_dirs", str(root))
    zai.reply(*tool_loop())
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "read notes.txt")
        await wait_until(pilot, lambda: pane.approval is not None, "the approval question")
        await pilot.pause()
        [prompt] = pane.query(UserMessage)
        await type_after_click(pilot, prompt, "yes")
        assert pane.prompt.text == "yes"
        assert pane.approval is not None and not pane.approval.future.done()
        await pilot.press("escape")  # still answered from the box: denied
        await wait_for_stream(pilot)
        assert pane.prompt.text == "yes"


async def test_a_click_on_the_log_itself_never_takes_what_is_typed(zai: WireServer) -> None:
    """The log's background and its scrollbar hold no text: a click there gave the log the
    focus, and what was typed next went nowhere (found as a new user). The focus stays where
    it was; with the focus on the log (tab reaches it, for its scrolling keys), typed and
    pasted text goes to the box."""
    lines = "".join(f"line {n}\n\n" for n in range(60))  # taller than the log: a scrollbar
    zai.reply(Reply(body=sse_body(sse_event({"content": lines}))))
    async with running() as pilot:
        pane = active(pilot)
        log = pane.log_view
        await send(pilot, "question 1")
        await wait_for_stream(pilot)
        await pilot.pause()
        region = log.region
        assert log.max_scroll_y > 0
        # Its padding on the left, a row of its background, its scrollbar's track.
        for offset in ((region.x, region.y + 5), (region.right - 1, region.y + 2)):
            await pilot.click(offset=offset)
            await pilot.pause()
            assert pane.prompt.has_focus
            await pilot.press(*"still mine")
            assert pane.prompt.text == "still mine"
            pane.prompt.clear()
        # A selected message keeps the selection.
        await pilot.press("alt+up")
        selected = pilot.app.focused
        assert isinstance(selected, AssistantMessage)
        await pilot.click(offset=(region.x, region.y + 5))
        await pilot.pause()
        assert pilot.app.focused is selected
        # With the focus on the log itself: keys, a burst and a paste reach the box in order.
        log.focus()
        await pilot.pause()
        await pilot.press(*"typed ")
        assert pane.prompt.text == "typed " and pane.prompt.has_focus
        log.focus()
        await pilot.pause()
        for character in "burst":
            pilot.app.post_message(events.Key(character, character))
        await pilot.pause()
        assert pane.prompt.text == "typed burst"
        log.focus()
        await pilot.pause()
        pilot.app.post_message(events.Paste(" [pasted]"))
        await pilot.pause()
        assert pane.prompt.text == "typed burst [pasted]" and pane.prompt.has_focus
        # The log's own keys still scroll it when it has the focus.
        log.focus()
        await pilot.pause()
        top = log.scroll_y
        await pilot.press("up")
        await pilot.pause()
        assert log.scroll_y < top and log.has_focus
        assert len(zai.requests) == 1


@pytest.mark.usefixtures("read_file")
async def test_text_typed_on_a_panel_header_reached_with_tab_goes_to_the_box(
    zai: WireServer,
) -> None:
    """A thinking or tool panel's header takes the focus from tab too; its key is enter, and
    text typed there was lost (found by QA), one key at a time or in one read."""
    zai.reply(*tool_loop())
    async with running() as pilot:
        pane = active(pilot)
        answer = await answered_with_a_tool(pilot, zai)
        for panel in (answer.query_one(ThinkingPanel), answer.query_one(ToolPanel)):
            header = panel.query_one(CollapsibleTitle)
            folded = panel.collapsed
            header.focus()
            await pilot.pause()
            await pilot.press(*"type")
            header.focus()
            await pilot.pause()
            for character in "d on":
                pilot.app.post_message(events.Key(character, character))
            await pilot.pause()
            assert pane.prompt.text == "typed on" and pane.prompt.has_focus
            assert panel.collapsed == folded and len(zai.requests) == 2
            pane.prompt.clear()
            # Enter is still the header's: it unfolds the panel.
            header.focus()
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
            assert panel.collapsed != folded
