"""The terminal's input before Textual reads it (glmchat/tui/compat/terminal_input.py): an ESC
inside a bracketed paste is text, whatever the reads split; bytes that are not UTF-8 are
replaced, not fatal. The real terminal's side: tests/test_tui_pty.py."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual._xterm_parser import XTermParser

from glmchat.tui.compat.terminal_input import (
    PASTE_END,
    PASTE_START,
    guarded_paste_text,
    install,
)

PASTE = "log: \x1b[31mERROR\x1b[0m full\nnext\x1b]0;T\x07 \x1b"
STREAM = "ab" + PASTE_START + PASTE + PASTE_END + "cd\x1b[A"
SPELLED = PASTE.replace("\x1b", "\\x1b")


def pieces(text: str) -> list[list[str]]:
    """`text` cut in two at every place, and one character at a time."""
    return [[text[:cut], text[cut:]] for cut in range(len(text) + 1)] + [list(text)]


@pytest.mark.parametrize("chunks", pieces(STREAM))
def test_an_escape_inside_a_paste_is_spelled_out_however_the_reads_cut(chunks: list[str]) -> None:
    assert guarded_paste_text(chunks) == "ab" + PASTE_START + SPELLED + PASTE_END + "cd\x1b[A"


def test_outside_a_paste_nothing_changes() -> None:
    for text in ("\x1b", "\x1b[A\x1b[B", "plain", "\x1b[20", "\x1b[200", "x\x1b[201~"):
        assert guarded_paste_text([text]) == text


def _events(chunks: list[str]) -> list[Any]:
    install()
    parser = XTermParser()
    out: list[Any] = []
    for chunk in filter(None, chunks):  # "" is the end of the input
        out.extend(parser.feed(chunk))
    out.extend(parser.feed(""))
    return out


@pytest.mark.parametrize("cut", [0, 7, 14, 30, len(STREAM) - 6, len(STREAM) - 2])
def test_the_parser_gives_one_paste_event_and_the_keys_around_it(cut: int) -> None:
    got = _events([STREAM[:cut], STREAM[cut:]])
    pastes = [e for e in got if isinstance(e, events.Paste)]
    keys = [e.key for e in got if isinstance(e, events.Key)]
    assert [p.text for p in pastes] == [SPELLED]
    assert keys == ["a", "b", "c", "d", "up"]


def test_a_lone_escape_is_still_the_escape_key() -> None:
    assert [e.key for e in _events(["\x1b"]) if isinstance(e, events.Key)] == ["escape"]


def test_a_byte_that_is_not_utf8_is_replaced() -> None:
    install()
    from textual.drivers import linux_driver

    decode = linux_driver.getincrementaldecoder("utf-8")().decode
    assert decode(b"ok \xff then \xe2\x82", final=False) == "ok \ufffd then "
    assert decode(b"\xac", final=True) == "\u20ac"


def test_an_end_mark_inside_the_pasted_text_stays_text() -> None:
    # Found by QA: tmux pastes the text's own ESC[201~ as it is, which ended the paste early;
    # the rest came as keys and its CR sent the prompt. Another end mark in the same read,
    # with no start mark between, shows the first one was text.
    own = PASTE_START + "abc" + PASTE_END + "def\rxyz" + PASTE_END + "k"
    assert guarded_paste_text([own]) == (PASTE_START + "abc\\x1b[201~def\rxyz" + PASTE_END + "k")
    got = _events([own])
    assert [e.text for e in got if isinstance(e, events.Paste)] == ["abc\\x1b[201~def\rxyz"]
    assert [e.key for e in got if isinstance(e, events.Key)] == ["k"]
    # Two pastes in one read stay two.
    two = PASTE_START + "a" + PASTE_END + PASTE_START + "b" + PASTE_END
    assert guarded_paste_text([two]) == two
