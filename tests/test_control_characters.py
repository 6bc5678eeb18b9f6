"""One rule for control characters, whichever way text reaches the screen: the command line's
output, a widget's text, a rendered Markdown answer; whole or in pieces.

The rule (glmchat/terminal_text.py): CRLF is a line end, every other control (a bare CR, ESC
sequences, C1, DEL, bidi overrides and isolates) is shown as its `\\xNN` / `\\uXXXX` spelling.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from textual import events

from glmchat.terminal_text import StreamNeutralizer, TerminalSafeStream, neutralize_controls
from glmchat.tui.markdown.incremental import MarkdownBlocks
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage
from glmchat.tui.widgets.safe_entry import box_text
from tests.test_cli_terminal_safety import KINDS as CLI_KINDS
from tests.test_cli_terminal_safety import RAW, assert_inert
from tests.test_markdown_view import CONSOLE, plain, reference, rendered
from tests.tui_helpers import active, message, region_text, running, screen_lines, seed

KINDS = {
    **CLI_KINDS,
    "crlf": "one\r\ntwo",
    "cr_before_crlf": "one\r\r\ntwo",
    "trailing_cr": "progress 50%\r",
    "c1_next_line": "a\x85b",
    "bidi_embedding": "\u202aab\u202c\u202bcd\u202c",
}


def pieces(text: str) -> list[list[str]]:
    """`text` cut in two at every place, and one character at a time."""
    return [[text[:cut], text[cut:]] for cut in range(len(text) + 1)] + [list(text)]


def test_the_rule() -> None:
    assert neutralize_controls("a\r\nb") == "a\nb"
    assert neutralize_controls("harmless\rEVIL") == "harmless\\x0dEVIL"
    assert neutralize_controls("a\r\r\nb\n\rc") == "a\\x0d\nb\n\\x0dc"
    assert neutralize_controls("\x1b[2J\x9b2J\x7f\x85") == "\\x1b[2J\\x9b2J\\x7f\\x85"
    assert neutralize_controls("\u202eabc\u2066") == "\\u202eabc\\u2066"
    assert neutralize_controls("tab\tand\nnewline") == "tab\tand\nnewline"
    plain_text = "nothing to do here"
    assert neutralize_controls(plain_text) is plain_text


@pytest.mark.parametrize("kind", KINDS)
def test_in_pieces_the_same_as_whole(kind: str) -> None:
    text = f"before {KINDS[kind]} after"
    whole = neutralize_controls(text)
    assert_inert(whole.replace("\n", ""))
    for parts in pieces(text):
        neutralizer = StreamNeutralizer()
        assert "".join(neutralizer.feed(p) for p in parts) + neutralizer.end() == whole, parts


@pytest.mark.parametrize("kind", KINDS)
def test_terminal_output_written_in_pieces(kind: str) -> None:
    text = f"{KINDS[kind]} after\n{KINDS[kind]}"
    for parts in pieces(text):
        raw = io.StringIO()
        stream = TerminalSafeStream(raw)
        for part in parts:
            stream.write(part)
        stream.end()
        assert raw.getvalue() == neutralize_controls(text), parts


@pytest.mark.parametrize("kind", KINDS)
def test_markdown_answers_follow_the_rule(kind: str) -> None:
    text = f"before {KINDS[kind]} after\n\nnext paragraph\n"
    for parts in pieces(text)[:: max(1, len(text) // 6)]:
        blocks = MarkdownBlocks(console=CONSOLE)
        for part in parts:
            blocks.append(part)
            blocks.render(60)
        blocks.finish()
        blocks.render(60)
        shown = plain(rendered(blocks, 60))
        assert shown == plain(reference(text, 60)), parts
        assert not any(RAW.search(line) for line in shown), shown


def test_a_bare_cr_looks_the_same_in_markdown_and_in_a_terminal() -> None:
    blocks = MarkdownBlocks(console=CONSOLE)
    blocks.append("harmless\rEVIL and \u202eevil\u202c")
    blocks.finish()
    blocks.render(60)
    [line] = [line.rstrip() for line in plain(rendered(blocks, 60)) if line.strip()]
    assert line == neutralize_controls("harmless\rEVIL and \u202eevil\u202c")


async def test_prompt_and_answer_show_the_same_text_the_same_way() -> None:
    hostile = "x".join(KINDS.values())
    seed(
        "c0de00000001",
        "Controls",
        [message("user", hostile, position=0), message("assistant", hostile, position=1)],
    )
    async with running(resume="c0de00000001") as pilot:
        pane = active(pilot)
        await pilot.pause()
        shown = [region_text(w) for w in (*pane.query(UserMessage), *pane.query(AssistantMessage))]
    for text in shown:
        assert_inert(text.replace("\n", ""))
        for visible in ("harmless\\x0dEVIL", "\\x1b[2J", "\\x9b2J", "\\u202edcba", "x\\x7fy"):
            assert visible in " ".join(text.split()).replace(" ", ""), (visible, text)


async def _into_the_prompt_by_editing(pilot: Any, hostile: str) -> Any:
    await pilot.press("alt+up", "alt+up", "e")  # the stored prompt, put back to edit
    await pilot.pause()
    return active(pilot).prompt


async def _pasted_into_the_prompt(pilot: Any, hostile: str) -> Any:
    prompt = active(pilot).prompt
    pilot.app.post_message(events.Paste(hostile))  # as the driver sends it
    await pilot.pause()
    return prompt


async def _set_as_the_prompts_text(pilot: Any, hostile: str) -> Any:
    prompt = active(pilot).prompt
    prompt.text = hostile  # how a fork's carried-over turns arrive
    await pilot.pause()
    return prompt


async def _pickers_search(pilot: Any) -> Any:
    from textual.widgets import Input

    await pilot.press("ctrl+r")
    await pilot.pause()
    return pilot.app.screen.query_one("#search", Input)


async def _pasted_into_the_pickers_search(pilot: Any, hostile: str) -> Any:
    search = await _pickers_search(pilot)
    pilot.app.post_message(events.Paste(hostile))  # as the driver sends it
    await pilot.pause()
    return search


async def _typed_over_by_code(pilot: Any, hostile: str) -> Any:
    search = await _pickers_search(pilot)
    search.value = hostile
    await pilot.pause()
    return search


@pytest.mark.parametrize(
    ("entry", "held"),
    [
        (_into_the_prompt_by_editing, box_text),
        (_pasted_into_the_prompt, box_text),
        (_set_as_the_prompts_text, box_text),
        # A one-line box: a paste's first line; any other text, its line ends as spaces.
        (_pasted_into_the_pickers_search, lambda text: box_text(text).splitlines()[0]),
        (_typed_over_by_code, lambda text: box_text(text).replace("\n", " ")),
    ],
)
async def test_text_boxes_hold_and_show_controls_as_visible_text(entry: Any, held: Any) -> None:
    """Found by QA: a stored prompt put back in the box to edit (and a fork's carried turns,
    a paste) reached the terminal raw from the text box: it set the window title and cleared
    the screen. Every way into a text box follows the one rule (in a box, a CR is a line end:
    terminals paste line breaks as CR)."""
    hostile = " ".join(KINDS.values())
    seed(
        "c0de00000002",
        "Controls",
        [message("user", hostile, position=0), message("assistant", "an answer", position=1)],
    )
    async with running(resume="c0de00000002") as pilot:
        box = await entry(pilot, hostile)
        holds = box.text if hasattr(box, "text") else box.value
        assert holds == held(hostile), holds
        assert_inert("".join(screen_lines(pilot.app)))
        if box is active(pilot).prompt:  # the box shows its start; an Input, its end
            assert "\\x1b]0;PWNED\\x07" in "".join(screen_lines(pilot.app))


def test_an_unknown_finish_reason_is_spelt_by_the_rule() -> None:
    # Found by QA: it was spelt as JSON does (\u001b), unlike everywhere else.
    from glmchat.backend.finish import finish_rule

    note = finish_rule("eos\x1b[2J\x07").note
    assert '"eos\\x1b[2J\\x07"' in note
    assert_inert(note) and "\\u001b" not in note


def test_in_a_box_every_line_end_is_one() -> None:
    # Found by QA: terminals paste line breaks as CR, which the box showed as `\x0d` and sent
    # so; a key pasted with its line end was refused.
    assert box_text("one\rtwo\r\nthree\nfour") == "one\ntwo\nthree\nfour"
    assert box_text("a\x1b[31mb\x85c") == "a\\x1b[31mb\\x85c"
