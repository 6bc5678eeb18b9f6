"""Alt+Backspace deletes the previous word in every text box and never closes a pane (found by QA:
Textual decoded ESC DEL as ctrl+w, glmchat's close-pane key, and the draft went with the pane).
The bytes go through the terminal parser, as a terminal's would (glmchat/tui/compat/
terminal_input.py); the real terminal's side is the last test."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual._xterm_parser import XTermParser
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from glmchat.config import save_value
from glmchat.tui.compat.terminal_input import install
from tests.test_tui_pty import Terminal, _glmchat, terminal_env
from tests.tui_helpers import active, glm, running, screen_text, wait_until
from tests.wire_server import WireServer

# What terminals send for alt+backspace: ESC DEL (most), ESC BS (others; also ESC ctrl+h), and
# the kitty keyboard protocol's spelling.
ALT_BACKSPACES = ["\x1b\x7f", "\x1b\x08", "\x1b[127;3u"]


def keys(text: str) -> list[str]:
    install()
    parser = XTermParser()
    return [e.key for e in [*parser.feed(text), *parser.feed("")] if isinstance(e, events.Key)]


@pytest.mark.parametrize("sequence", ALT_BACKSPACES)
def test_the_parser_names_alt_backspace_and_nothing_else(sequence: str) -> None:
    assert keys("ab" + sequence + "c") == ["a", "b", "alt+backspace", "c"]
    assert keys(sequence * 2) == ["alt+backspace", "alt+backspace"]


def test_its_neighbours_keep_their_names() -> None:
    assert keys("\x7f\x08\x17") == ["backspace", "backspace", "ctrl+w"]
    assert keys("\x1bb\x1b") == ["ctrl+left", "escape"]  # Textual's own names


async def terminal_sends(pilot: Pilot[Any], text: str) -> None:
    """`text` as the terminal would send it: parsed, then posted as the driver does."""
    install()
    parser = XTermParser()
    for event in parser.feed(text):
        event.set_sender(pilot.app)
        pilot.app.post_message(event)
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("sequence", ALT_BACKSPACES)
async def test_alt_backspace_in_the_prompt_deletes_a_word_and_the_pane_stays(
    sequence: str,
) -> None:
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await terminal_sends(pilot, "a long prompt")
        assert pane.prompt.text == "a long prompt"
        await terminal_sends(pilot, sequence)
        assert app.panes == [pane] and pane.is_attached
        assert pane.prompt.text == "a long "
        await terminal_sends(pilot, sequence + sequence)
        assert pane.prompt.text == ""
        await terminal_sends(pilot, "still here")
        assert pane.prompt.text == "still here"


async def test_alt_backspace_in_a_one_line_box_deletes_the_word_on_the_left() -> None:
    """Textual's Input took alt+backspace (and ctrl+backspace) as "delete the word to the right";
    the rename box, the picker's search and the palette's input are Inputs."""
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Resume a conversation" in screen_text(app), "the picker")
        search = app.screen.query_one(Input)
        await terminal_sends(pilot, "sour dough")
        search.cursor_position = len("sour do")
        await terminal_sends(pilot, "\x1b\x7f")
        assert search.value == "sour ugh"
        await pilot.press("ctrl+backspace")
        assert search.value == "ugh"
        search.cursor_position = 0
        await pilot.press("alt+delete")  # its word to the right keeps a key
        assert search.value == ""
        await pilot.press("escape")
        await pilot.pause()
        app.action_command_palette()
        await wait_until(pilot, lambda: len(app.screen.query(Input)) > 0, "the palette")
        palette_input = app.screen.query_one(Input)
        await terminal_sends(pilot, "new pane")
        await terminal_sends(pilot, "\x1b\x08")
        assert palette_input.value == "new "
        assert len(app.panes) == 1


async def test_ctrl_w_in_the_prompt_still_closes_the_pane() -> None:
    """DESIGN.md's key: ctrl+w closes the pane (the text boxes' own ctrl+w never sees it)."""
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+n")
        first, second = app.panes
        assert isinstance(app.focused, TextArea)
        await terminal_sends(pilot, "\x17")
        assert app.panes == [first]


def test_alt_backspace_in_a_real_terminal(wire: WireServer) -> None:
    save_value("providers.zai.base_url", wire.url)
    term = Terminal(_glmchat(), terminal_env())
    try:
        term.wait_for("thinking ON")
        term.child.send("keep these words")
        term.wait_for("keep these words")
        term.child.send("\x1b\x7f")
        term.child.send("lines")
        term.wait_for("keep these lines")
        assert "New conversation" in term.text  # the pane is still there
        term.child.send("\x11")  # ctrl+q: the prompt would be lost (tests/test_drafts.py)
        term.wait_for("Unsent prompt")
        term.child.send("\x11")  # again: quit
        assert term.wait_for_exit(timeout=5) == 0
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    assert wire.requests == []
