"""A code fence still streaming, rendered in pieces: its complete lines once, its last again.

rich renders a fence as one `Syntax`: the whole code lexed, styled and wrapped at every update,
so a streamed 150-line fence cost 56 ms an update at its end (O(n²) over the fence; found by
measuring a coding answer). Here the complete lines are cut into pieces of `PIECE` lines from
the top; each piece is rendered once (as a fence of its own, cached by its text and the width)
and only the last line shown, the one still being written, is rendered at every update (the
last, shorter piece again when a line is added to it). The rows are rich's: a fence is the
blank row before it (rich's flag), a padding row, each code line's rows (wrapped on its own)
and a padding row, so the pieces' code rows between the first's top and the last's bottom are
the whole fence's.

pygments lexes each piece from its own start, so a piece is cut only where no string or comment
that spans lines is open (triple quotes, `/* */`, backticks where they may span lines; see
`_marks`), and the last line is rendered with the lines before it while one is. A mark the
count cannot see (one inside another string, a language with other marks) may colour a piece
otherwise while the fence streams; a closed fence is always rendered whole, and that is what
stays (the finished block renders whole too).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from markdown_it.token import Token

from glmchat.tui.compat.rich_markdown import Line

__all__ = ["PIECE", "OpenFence"]

PIECE = 8  # complete code lines a piece holds

# Renders one fence token (a piece of code in it) at a width, as a block's render does.
RenderFence = Callable[[Token, int], list[Line]]


class OpenFence:
    """The pieces of the open fence rendered so far, kept while they are still in it."""

    def __init__(self) -> None:
        self._pieces: dict[tuple[str, str, int, bool], list[Line]] = {}
        self.rendered_lines = 0
        """Code lines rendered so far (tests: the work per update stays bounded)."""

    def lines(
        self, token: Token, width: int, new_line_before: bool, render: RenderFence
    ) -> list[Line] | None:
        """The fence's rows, or None when it is not worth cutting (short, closed, or too
        narrow for the end mark below)."""
        code = token.content
        shown = code.rstrip()  # what rich shows of it: trailing blank lines and spaces go
        last = shown.rfind("\n") + 1  # the last line shown starts here
        if width < _NARROWEST or shown.count("\n", 0, last) < PIECE or _closed(token):
            return None
        lead = 2 if new_line_before else 1  # rich's blank row, then the top padding row
        rows: list[Line] = []
        kept: dict[tuple[str, str, int, bool], list[Line]] = {}
        # The complete lines before the last one shown, in pieces of PIECE lines from the
        # top (the last piece, shorter, grows until it is whole). Each is rendered with an
        # end mark after it, so that rich keeps its trailing blank lines and spaces as the
        # whole fence's render does (they are not at its end there); the mark's row and the
        # bottom padding row are dropped.
        pieces, rest = _pieces(code, last, _marks(token.info))
        for start, end in pieces:
            key = (code[start:end], token.info, width, new_line_before)
            lines = self._pieces.get(key) or self._render(token, key[0] + _END_MARK, width, render)
            kept[key] = lines
            rows.extend(lines[lead:-2])
        # The last line shown, rendered alone (it changes at every update), or with the lines
        # before it since the last cut when they leave a string or comment open.
        lines = self._render(token, shown[rest:], width, render)
        self._pieces = kept
        return [*lines[:lead], *rows, *lines[lead:]]

    def _render(self, token: Token, code: str, width: int, render: RenderFence) -> list[Line]:
        self.rendered_lines += code.count("\n") + 1
        part = copy.copy(token)
        part.content = code
        return render(part, width)


_END_MARK = "x"  # one short line: one row at any width from _NARROWEST
_NARROWEST = 8


def _pieces(code: str, end: int, marks: Marks) -> tuple[list[tuple[int, int]], int]:
    """(start, end) of each piece of the complete lines of `code[:end]`, and where the rest
    (rendered with the last line) starts. A piece is PIECE lines or more: it is cut only
    where every string or comment that spans lines (`marks`) is closed, so that each piece
    is lexed from where the whole's lexer would be between statements (found by QA: cut
    inside a docstring, the code after it was coloured as a string)."""
    pieces: list[tuple[int, int]] = []
    start = at = counted = lines = 0
    counts = [0] * len(marks)
    while at < end:
        at = code.index("\n", at) + 1
        lines += 1
        if lines >= PIECE or at >= end:
            segment = code[counted:at]
            counted = at
            for i, (opening, closing) in enumerate(marks):
                if opening == closing:  # open while the count is odd
                    counts[i] = (counts[i] + segment.count(opening)) % 2
                else:  # open while more have opened than closed
                    counts[i] = max(0, counts[i] + segment.count(opening) - segment.count(closing))
            if not any(counts):
                pieces.append((start, at))
                start, lines = at, 0
    return pieces, start


# The marks of strings and comments that may span lines, as (opening, closing): Python's
# triple quotes (Kotlin's, Swift's, Scala's too), C's block comments but where `/*` is a path
# (Python, shells, Ruby, YAML), and backticks where they quote across lines (JavaScript,
# TypeScript, Go). A miscount (a mark inside another string) only makes a piece longer or, at
# worst, colours it otherwise until the fence closes.
Marks = tuple[tuple[str, str], ...]
_QUOTES: Marks = (('"""', '"""'), ("'''", "'''"))
_SLASH_STAR_IS_A_PATH = frozenset(
    "python py python3 py3 sh bash shell zsh console ruby rb yaml yml toml".split()
)
_BACKTICKS = frozenset("js javascript jsx ts typescript tsx go golang mjs cjs".split())


def _marks(info: str) -> Marks:
    language = info.split()[0].lower() if info.strip() else ""
    marks = _QUOTES
    if language not in _SLASH_STAR_IS_A_PATH:
        marks += (("/*", "*/"),)
    if language in _BACKTICKS:
        marks += (("`", "`"),)
    return marks


def _closed(token: Token) -> bool:
    """Whether the fence's closing line has arrived (markdown-it keeps it out of `content`,
    and counts it in the token's source lines)."""
    if token.map is None:
        return True  # no source lines known: render it whole, as rich would
    begin, end = token.map
    code = token.content
    lines = code.count("\n") + (1 if code and not code.endswith("\n") else 0)
    return end - begin >= lines + 2
