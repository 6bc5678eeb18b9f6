"""What the terminal sends, made safe before Textual reads it (relies on Textual internals).

Three defects of Textual 8.2.8's input path, all found by QA:

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
- **Alt+Backspace closed the pane**, and the draft with it: Textual decodes `ESC DEL` (what
  most terminals send for it) as ctrl+w, which is glmchat's close-pane key (a priority binding,
  so no text box saw it), and `ESC BS` (other terminals, or ESC ctrl+h) as a plain backspace.
  Here both are `alt+backspace`, the key a kitty-protocol terminal reports, which every text box
  takes as "delete the previous word", as readline does. Textual's Input binds that key to
  deleting the word to the *right*; here it deletes the one on the left, as TextArea's does.

What it relies on (checked by tests/test_terminal_input.py and tests/test_word_delete.py): the
Linux and web drivers build their decoder with their module's `getincrementaldecoder`, and feed
the decoded text to `XTermParser.feed(data)` (`data` "" meaning the end), which parses it in
order, naming keys with `XTermParser._sequence_to_key_events(sequence, alt)`; a widget class's
bindings are `_merge_bindings()` of its bases' BINDINGS, kept in `_merged_bindings`.
"""

from __future__ import annotations

import codecs
import functools
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from textual import events
from textual._xterm_parser import XTermParser
from textual.binding import Binding

__all__ = ["ALT_BACKSPACE", "guarded_paste_text", "install"]

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
ESC = "\x1b"
# What terminals send for alt+backspace: ESC then DEL (most), or ESC then BS (ESC ctrl+h).
ALT_BACKSPACE = frozenset({ESC + "\x7f", ESC + "\x08"})


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


def _alt_backspace_is_a_key() -> None:
    keys = XTermParser._sequence_to_key_events
    if getattr(keys, "_glmchat_alt_backspace", False):
        return

    def sequence_to_key_events(
        self: XTermParser, sequence: str, alt: bool = False
    ) -> Iterable[events.Key]:
        # `alt`: a sequence the parser did not know, reissued a character at a time, an ESC
        # marking the next one as alt'd (Textual names an alt'd DEL or BS plain backspace).
        if sequence in ALT_BACKSPACE or (alt and sequence in ("\x7f", "\x08")):
            yield events.Key("alt+backspace", None)
            return
        yield from keys(self, sequence, alt)

    sequence_to_key_events._glmchat_alt_backspace = True  # type: ignore[attr-defined]
    XTermParser._sequence_to_key_events = sequence_to_key_events  # type: ignore[method-assign]


def _inputs_delete_the_word_left() -> None:
    from textual.widgets import Input

    if getattr(Input, "_glmchat_word_left", False):
        return
    wrong = "delete_right_word"  # bound to ctrl+backspace and alt+backspace
    kept = [b for b in Input.BINDINGS if not (isinstance(b, Binding) and b.action == wrong)]
    Input.BINDINGS = [
        *kept,
        Binding("ctrl+backspace,alt+backspace", "delete_left_word", show=False),
        # Its only key was the one above; TextArea's for the same action.
        Binding("alt+delete", "delete_right_word", show=False),
    ]
    Input._glmchat_word_left = True  # type: ignore[attr-defined]
    # The classes made so far (the app's own boxes, the palette's) merged the old list.
    classes: list[type[Input]] = [Input]
    while classes:
        cls = classes.pop()
        cls._merged_bindings = cls._merge_bindings()
        classes.extend(cls.__subclasses__())


def install() -> None:
    """Make the terminal's input safe, for this process's app (idempotent)."""
    _guard_pastes()
    _alt_backspace_is_a_key()
    _inputs_delete_the_word_left()
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
