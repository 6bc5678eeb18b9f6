"""Make untrusted text safe to show on a terminal: no escape sequence may reach it."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

# The one rule for untrusted text on its way to a screen, used by the command line's output
# (TerminalSafeStream), every widget text (tui/literal.py) and the Markdown renderer
# (tui/markdown): nothing in it may drive the terminal, nothing in it is lost, and a line stays
# one line.
#
# - CRLF is a line end: it becomes LF.
# - Every other control is shown as its `\xNN` / `\uXXXX` spelling: C0 except tab and LF (a bare
#   CR included: sent raw it returns to the start of the line, so the text after it overwrites
#   what was shown; dropped, the words on either side run together; read as a line end, a name
#   or an error quoting it would break over two lines), DEL, the C1 range (0x80-0x9f: the
#   one-byte CSI 0x9b and OSC 0x9d), and the bidi embeddings, overrides and isolates, which can
#   make a line read differently from what it holds ("Trojan Source").
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same set minus C0, which json.dumps escapes itself; inside a JSON document these can only
# occur in strings, where `\uXXXX` is the same character.
_JSON_RAW = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# Characters that join or restyle the character before them: the zero-width joiner (a family
# emoji is three joined), the variation selectors (`❤️` is U+2764 and U+FE0F) and the skin-tone
# modifiers. Rich counts such a sequence as one glyph, two cells, as most terminals now draw it;
# others (tmux 3.3) draw each part, so a title holding one moved the rest of its line, and a
# one-line bar or table column left stray characters at its end (found by QA in the tab bar).
_JOINERS = re.compile("[\u200d\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")


def steady_width(text: str) -> str:
    """`text` for a line whose cells must line up (a tab, a title row, a table column): the
    characters that join or restyle others dropped, so every terminal draws it as wide as it is
    measured (`👨‍👩‍👧` shows as `👨👩👧`, `❤️` as `❤`). Text without them is returned as it is."""
    return _JOINERS.sub("", text) if _JOINERS.search(text) else text


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralize_controls(text: str) -> str:
    """`text` safe to show: CRLF becomes LF, every other control a visible `\\xNN` form (ESC
    becomes `\\x1b`, a bare CR `\\x0d`). Text without controls is returned as it is."""
    if not _CONTROLS.search(text):
        return text
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _CONTROLS.sub(_visible, text)


class StreamNeutralizer:
    """`neutralize_controls` for text that arrives in pieces (a streamed answer, writes to a
    terminal), giving the same text as the whole would: a CR that ends a piece is held until
    the next piece says whether it starts a CRLF. Every other control is replaced on its own,
    so an escape sequence split across pieces is caught as surely as a whole one."""

    __slots__ = ("_held_cr",)

    def __init__(self) -> None:
        self._held_cr = False

    def feed(self, text: str) -> str:
        if not text:
            return ""
        if self._held_cr:
            text = "\r" + text
        self._held_cr = text[-1] == "\r"
        return neutralize_controls(text[:-1] if self._held_cr else text)

    def end(self) -> str:
        """What is still held: the text is complete, so a CR at its very end is a bare one."""
        if not self._held_cr:
            return ""
        self._held_cr = False
        return neutralize_controls("\r")


def dumps_json(value: Any, *, indent: int | None = None) -> str:
    """JSON for stdout or a file: exact (it parses to `value`), readable (non-ASCII text stays
    as it is), and holding no raw terminal control, so it passes a terminal unchanged."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class TerminalSafeStream:
    """A text stream that neutralises control characters on their way to a terminal, piece by
    piece (see StreamNeutralizer)."""

    def __init__(self, raw: TextIO) -> None:
        self._raw = raw
        self._neutralizer = StreamNeutralizer()

    def write(self, text: str) -> int:
        self._raw.write(self._neutralizer.feed(text))
        return len(text)

    def end(self) -> None:
        """Write what is still held (a CR that ended the last write)."""
        held = self._neutralizer.end()
        if held:
            self._raw.write(held)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._raw.flush()

    def isatty(self) -> bool:
        return _is_terminal(self._raw)  # stderr is wrapped on a pipe too: it says what it is

    def __getattr__(self, name: str) -> Any:
        # fileno, encoding, errors...; never `buffer`, which would bypass the neutralising.
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._raw, name)


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # a closed stream
        return False


@contextmanager
def terminal_safe_stdio() -> Iterator[None]:
    """While inside, whatever is printed to stderr, and to a stdout that is a terminal, is
    neutralised; a piped or redirected stdout gets the exact text. The one chokepoint for
    command-line output: a subcommand needs no care of its own for stored, remote or typed text.

    stderr is neutralised even when it is not a terminal: it is read by a person (error lines
    quoting what was typed, notes, --show-thinking's reasoning), and a piped stderr usually still
    ends on one (`2>&1 | less -R`, `| tee`, ssh or docker exec without a tty, a CI log). Only
    stdout carries output that must stay exact (an answer into a file, an export, JSON)."""
    saved = sys.stdout, sys.stderr
    if _is_terminal(sys.stdout) and not isinstance(sys.stdout, TerminalSafeStream):
        sys.stdout = TerminalSafeStream(sys.stdout)
    if sys.stderr is not None and not isinstance(sys.stderr, TerminalSafeStream):
        sys.stderr = TerminalSafeStream(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, TerminalSafeStream) and stream not in saved:
                stream.end()
        sys.stdout, sys.stderr = saved
