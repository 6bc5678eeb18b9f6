"""Where each key of a TOML document is written (line and column), for error messages.

tomllib returns values without positions, so config errors found after parsing could not point
into the file. This scanner walks a document tomllib has already accepted and records where each
table header, key, dotted key and inline-table key begins. It reads only what it needs (keys and
the extent of values) and never fails: on anything it does not follow it stops, and a lookup
falls back to the nearest enclosing table that was found.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from dataclasses import dataclass

Path = tuple[str, ...]
Position = tuple[int, int]  # 1-based line and column, as tomllib reports parse errors

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BLANK = " \t"


class _Stop(Exception):
    """The scanner met something it does not follow; what it found so far stands."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.found: dict[Path, Position] = {}
        # Where each key's statement is, as indexes into the text (`key_spans`).
        self.values: dict[Path, tuple[int, int, int]] = {}
        self.headers: list[tuple[Path, int, int, bool]] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    # --- positions ---------------------------------------------------------------------

    def position(self, index: int) -> Position:
        line = bisect.bisect_right(self._line_starts, index)
        return line, index - self._line_starts[line - 1] + 1

    def record(self, path: Path, index: int) -> None:
        where = self.position(index)
        for n in range(1, len(path) + 1):
            self.found.setdefault(path[:n], where)

    # --- characters --------------------------------------------------------------------

    def peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.i):
            raise _Stop
        self.i += len(token)

    def skip_blank(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in _BLANK:
            self.i += 1

    def skip_space_and_comments(self) -> None:
        """Blanks, newlines and comments: what may stand between statements or array items."""
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch in " \t\r\n":
                self.i += 1
            elif ch == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                return

    # --- grammar -----------------------------------------------------------------------

    def document(self) -> None:
        table: Path = ()
        while True:
            self.skip_space_and_comments()
            if self.i >= len(self.text):
                return
            start = self.i
            if self.peek() == "[":
                array = self.peek(2) == "[["
                self.i += 2 if array else 1
                self.skip_blank()
                table = self.key()
                self.skip_blank()
                self.expect("]]" if array else "]")
                self.record(table, start)
                self.headers.append((table, start, self.i, array))
            else:
                self.key_value(table)

    def key_value(self, table: Path | None) -> None:
        """`key = value`; its keys are recorded under `table` unless that is None (in arrays)."""
        start = self.i
        keys = self.key()
        if table is not None:
            self.record(table + keys, start)
        self.skip_blank()
        self.expect("=")
        self.skip_blank()
        value_start = self.i
        self.value(None if table is None else table + keys)
        if table is not None:
            self.values.setdefault(table + keys, (start, value_start, self.i))

    def key(self) -> Path:
        parts = [self.simple_key()]
        while True:
            self.skip_blank()
            if self.peek() != ".":
                return tuple(parts)
            self.i += 1
            self.skip_blank()
            parts.append(self.simple_key())

    def simple_key(self) -> str:
        start = self.i
        if self.peek() in ('"', "'"):
            self.single_line_string()
            # tomllib decodes the quoted key exactly (escapes and all).
            return next(iter(tomllib.loads(self.text[start : self.i] + " = 0")))
        match = _BARE_KEY.match(self.text, self.i)
        if match is None:
            raise _Stop
        self.i = match.end()
        return match.group()

    def value(self, path: Path | None) -> None:
        ch = self.peek()
        if self.peek(3) in ('"""', "'''"):
            self.multi_line_string()
        elif ch in ('"', "'"):
            self.single_line_string()
        elif ch == "[":
            self.array()
        elif ch == "{":
            self.inline_table(path)
        else:  # a number, boolean or date: up to what may follow a value
            while self.i < len(self.text) and self.text[self.i] not in ",]}#\r\n":
                self.i += 1

    def single_line_string(self) -> None:
        quote = self.peek()
        self.i += 1
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch == "\\" and quote == '"':
                self.i += 2
            elif ch == quote:
                self.i += 1
                return
            elif ch == "\n":
                break
            else:
                self.i += 1
        raise _Stop

    def multi_line_string(self) -> None:
        delimiter = self.peek(3)
        self.i += 3
        while self.i < len(self.text):
            if self.text[self.i] == "\\" and delimiter == '"""':
                self.i += 2
            elif self.text.startswith(delimiter, self.i):
                self.i += 3
                # Up to two more quotes belong to the string: `"""a""""` is `a"`.
                for _ in range(2):
                    if self.peek() == delimiter[0]:
                        self.i += 1
                return
            else:
                self.i += 1
        raise _Stop

    def array(self) -> None:
        self.expect("[")
        while True:
            self.skip_space_and_comments()
            if self.peek() == "]":
                self.i += 1
                return
            self.value(None)  # tables in arrays have no one path to report
            self.skip_space_and_comments()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != "]":
                raise _Stop

    def inline_table(self, path: Path | None) -> None:
        self.expect("{")
        while True:
            self.skip_space_and_comments()
            if self.peek() == "}":
                self.i += 1
                return
            self.key_value(path)
            self.skip_space_and_comments()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != "}":
                raise _Stop


def key_positions(text: str) -> dict[Path, Position]:
    """Where each key path (and each table on the way to it) is first written in `text`."""
    scanner = _Scanner(text)
    try:
        scanner.document()
    except (_Stop, tomllib.TOMLDecodeError, StopIteration):
        pass
    return scanner.found


@dataclass(frozen=True)
class KeySpans:
    """Where the statements of a TOML document are, as indexes into its text: each key's
    `(key start, value start, value end)` (its first statement, as `found`), and each table
    header's `(path, start, end, whether an array of tables)`, in the order written. Complete only
    when `whole` (the scanner followed the whole document)."""

    values: dict[Path, tuple[int, int, int]]
    headers: list[tuple[Path, int, int, bool]]
    whole: bool


def key_spans(text: str) -> KeySpans:
    scanner = _Scanner(text)
    try:
        scanner.document()
    except (_Stop, tomllib.TOMLDecodeError, StopIteration):
        return KeySpans(scanner.values, scanner.headers, whole=False)
    return KeySpans(scanner.values, scanner.headers, whole=True)


def position_of(positions: dict[Path, Position], path: Path) -> Position:
    """The position of `path`, else of its nearest enclosing key or table, else the first line."""
    for n in range(len(path), 0, -1):
        if (found := positions.get(path[:n])) is not None:
            return found
    return 1, 1
