"""What the terminal sends, made safe before Textual reads it (relies on Textual internals).

Two defects of Textual 8.2.8's input path, both found by QA:

- **A paste holding an escape character became key presses.** Inside a bracketed paste
  (`ESC[200~` ... `ESC[201~`) the parser (`textual._xterm_parser.XTermParser.parse`) still
  collects an escape sequence at each ESC, and one it does not know is "reissued as keys": a
  pasted log with colour codes turned the rest of the paste into keys, its newline an Enter
  that sent the prompt. Here each ESC inside a paste that does not end it is given to the
  parser as its visible spelling `\\x1b`, the form the text boxes show it in anyway
  (glmchat.terminal_text), so the paste stays one paste.
- **One byte that is not UTF-8 ended the app** with a traceback and exit status 0, the draft
  lost (Textual issue #6456): the drivers decode their input strictly. Here they decode it with
  `errors="replace"`: the byte is one U+FFFD.

What it relies on (checked by tests/test_terminal_input.py): the Linux and web drivers build
their decoder with their module's `getincrementaldecoder`, and feed the decoded text to
`XTermParser.feed(data)` (`data` "" meaning the end), which parses it in order.
"""

from __future__ import annotations

import codecs
import functools
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from textual._xterm_parser import XTermParser

__all__ = ["guarded_paste_text", "install"]

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
ESC = "\x1b"


def _lenient_decoder(encoding: str) -> Callable[[], codecs.IncrementalDecoder]:
    return functools.partial(codecs.getincrementaldecoder(encoding), errors="replace")


class PasteGuard:
    """Follows one input stream in and out of bracketed pastes, across reads, and spells out
    every ESC inside a paste that does not begin its end mark."""

    __slots__ = ("held", "in_paste", "seen")

    def __init__(self) -> None:
        self.in_paste = False
        self.held = ""  # inside a paste: an ESC at the end of a read that may begin its end
        self.seen = ""  # outside: the last characters read, for a start mark split by reads

    def text(self, data: str) -> str:
        if not data:  # the end of the input: what was held is the paste's own text
            held, self.held = self.held, ""
            return held.replace(ESC, "\\x1b")
        text = self.held + data
        self.held = ""
        out: list[str] = []
        at = 0
        while at < len(text):
            if not self.in_paste:
                window = self.seen + text[at:]
                start = window.find(PASTE_START)
                if start < 0:
                    out.append(text[at:])
                    self.seen = window[-(len(PASTE_START) - 1) :]
                    break
                after = start + len(PASTE_START) - len(self.seen)  # in text[at:]
                out.append(text[at : at + after])
                at += after
                self.in_paste, self.seen = True, ""
                continue
            esc = text.find(ESC, at)
            if esc < 0:
                out.append(text[at:])
                break
            out.append(text[at:esc])
            if text.startswith(PASTE_END, esc) and not self._pasted_end_mark(text, esc):
                out.append(PASTE_END)
                at = esc + len(PASTE_END)
                self.in_paste = False
            elif PASTE_END.startswith(text[esc:]):  # the end mark may be split by reads
                self.held = text[esc:]
                break
            else:
                out.append("\\x1b")
                at = esc + 1
        return "".join(out)

    @staticmethod
    def _pasted_end_mark(text: str, at: int) -> bool:
        """Whether the end mark at `at` is part of the pasted text: another one follows in
        the same read with no start mark between (a terminal that does not strip the marks
        from what it pastes, as tmux does not, sends the text's own first)."""
        later = text.find(PASTE_END, at + len(PASTE_END))
        if later < 0:
            return False
        start = text.find(PASTE_START, at + len(PASTE_END))
        return start < 0 or start > later


def guarded_paste_text(chunks: Iterable[str]) -> str:
    """What the parser is given for these reads (tests)."""
    guard = PasteGuard()
    return "".join(guard.text(chunk) for chunk in chunks) + guard.text("")


def _guard_pastes() -> None:
    feed = XTermParser.feed
    if getattr(feed, "_glmchat_guarded", False):
        return

    def guarded_feed(self: XTermParser, data: str) -> Iterable[Any]:
        guard = self.__dict__.get("_glmchat_paste_guard")
        if guard is None:
            guard = self.__dict__["_glmchat_paste_guard"] = PasteGuard()
        text = guard.text(data)
        if not data:
            if text:
                yield from feed(self, text)
            yield from feed(self, "")
            return
        if text:
            yield from feed(self, text)

    guarded_feed._glmchat_guarded = True  # type: ignore[attr-defined]
    XTermParser.feed = guarded_feed  # type: ignore[method-assign]


def install() -> None:
    """Make the terminal's input safe, for this process's app (idempotent)."""
    _guard_pastes()
    try:
        from textual.drivers import linux_driver  # not on Windows (no termios)
    except ImportError:
        pass
    else:
        setattr(linux_driver, "getincrementaldecoder", _lenient_decoder)  # noqa: B010
    # `glmchat serve` runs each tab's app with the web driver (named in TEXTUAL_DRIVER).
    if "web_driver" in os.environ.get("TEXTUAL_DRIVER", "") or "textual.drivers.web_driver" in (
        sys.modules
    ):
        from textual.drivers import web_driver

        setattr(web_driver, "getincrementaldecoder", _lenient_decoder)  # noqa: B010
