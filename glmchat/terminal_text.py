"""Make untrusted text safe to show on a terminal: no escape sequence may reach it."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

# C0 controls except tab and newline, DEL, the C1 range (0x80-0x9f, which includes the one-byte
# CSI 0x9b and OSC 0x9d), and the bidi embeddings, overrides and isolates, which can make a
# line read differently from what it holds ("Trojan Source").
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same set minus C0, which json.dumps escapes itself; inside a JSON document these can only
# occur in strings, where `\uXXXX` is the same character.
_JSON_RAW = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\r":
        return ""  # a bare CR would overwrite the line; CRLF becomes LF
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralize_controls(text: str) -> str:
    """Replace control characters with a visible `\\xNN` form (ESC becomes `\\x1b`)."""
    return _CONTROLS.sub(_visible, text) if _CONTROLS.search(text) else text


def dumps_json(value: Any, *, indent: int | None = None) -> str:
    """JSON for stdout or a file: exact (it parses to `value`), readable (non-ASCII text stays
    as it is), and holding no raw terminal control, so it passes a terminal unchanged."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class TerminalSafeStream:
    """A text stream that neutralises control characters on their way to a terminal.

    Stateless per write: every control character is replaced on its own, so a sequence split
    across writes (a streamed answer) is caught as surely as a whole one."""

    def __init__(self, raw: TextIO) -> None:
        self._raw = raw

    def write(self, text: str) -> int:
        self._raw.write(neutralize_controls(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._raw.flush()

    def isatty(self) -> bool:
        return True

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
    """While inside, whatever is printed to a stdout or stderr that is a terminal is
    neutralised; pipes and files get the exact text. The one chokepoint for command-line
    output: a subcommand needs no care of its own for stored or remote text."""
    saved = sys.stdout, sys.stderr
    if _is_terminal(sys.stdout) and not isinstance(sys.stdout, TerminalSafeStream):
        sys.stdout = TerminalSafeStream(sys.stdout)  # type: ignore[assignment]
    if _is_terminal(sys.stderr) and not isinstance(sys.stderr, TerminalSafeStream):
        sys.stderr = TerminalSafeStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
