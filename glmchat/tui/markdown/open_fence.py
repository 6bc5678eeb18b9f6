"""A code fence still streaming, rendered in pieces: its complete lines once, its last again.

rich renders a fence as one `Syntax`: the whole code lexed, styled and wrapped at every update,
so a streamed 150-line fence cost 56 ms an update at its end (O(n²) over the fence; found by
measuring a coding answer). Here the complete lines are cut into pieces of `PIECE` lines or
more; each piece is rendered once (as a fence of its own, cached by its text and the width) and
only the last line shown, the one still being written, is rendered at every update (the last,
shorter piece again when a line is added to it). The rows are rich's: a fence is the blank row
before it (rich's flag), a padding row, each code line's rows (wrapped on its own) and a
padding row, so the pieces' code rows between the first's top and the last's bottom are the
whole fence's.

Each piece is lexed from the state pygments is in where it starts in the whole (a docstring, a
block comment, a raw string open across the cut: `compat/rich_markdown.state_at`), and a cut
is made only where a token begins, so a comment or string that the lexer matches whole across
lines is never split (found by QA: cut by counting quote marks, code after a docstring was
coloured as a string). A lexer whose state cannot be seen (Ruby's, YAML's) leaves the fence
whole. What a later line changes in how an earlier one lexes (a heredoc's end) may colour a
piece otherwise while the fence streams; a closed fence is always rendered whole, and that is
what stays (the finished block renders whole too).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from markdown_it.token import Token
from pygments.lexer import Lexer

from glmchat.tui.compat.rich_markdown import (
    FENCE_STATE,
    START,
    Line,
    State,
    fence_lexer,
    state_at,
)

__all__ = ["PIECE", "OpenFence"]

PIECE = 8  # complete code lines a piece holds

# Renders one fence token (a piece of code in it) at a width, as a block's render does.
RenderFence = Callable[[Token, int], list[Line]]


class OpenFence:
    """The cuts of the open fence and its pieces rendered so far, kept while it streams."""

    def __init__(self) -> None:
        self._pieces: dict[tuple[str, str, State, int, bool], list[Line]] = {}
        # Where the pieces end in the code and the lexer's state there, for the code they
        # were found in (its start up to the last cut; streamed code only grows).
        self._cuts: list[tuple[int, State]] = []
        self._cut_code = ""
        self._tried = 0  # the complete lines after the last cut already found not to be cuts
        self._rechecked = -1  # where the last line shown began at the last check of the cuts
        self.rendered_lines = 0
        """Code lines rendered so far (tests: the work per update stays bounded)."""

    def lines(
        self, token: Token, width: int, new_line_before: bool, render: RenderFence
    ) -> list[Line] | None:
        """The fence's rows, or None when it is not worth cutting (short, closed, too narrow
        for the end mark below, or in a language whose lexer state cannot be seen)."""
        code = token.content
        shown = code.rstrip()  # what rich shows of it: trailing blank lines and spaces go
        last = shown.rfind("\n") + 1  # the last line shown starts here
        if width < _NARROWEST or shown.count("\n", 0, last) < PIECE or _closed(token):
            return None
        lexer = fence_lexer(token.info)
        cuts = self._cuts_in(code, last, lexer)
        rest, state = cuts[-1] if cuts else (0, START)
        tail = state_at(lexer, code[rest:], last - rest, state)
        if tail is None and not cuts:
            return None  # no cut yet, and the last line cannot be lexed alone: whole
        lead = 2 if new_line_before else 1  # rich's blank row, then the top padding row
        rows: list[Line] = []
        kept: dict[tuple[str, str, State, int, bool], list[Line]] = {}
        # Each piece is rendered with an end mark after it, so that rich keeps its trailing
        # blank lines and spaces as the whole fence's render does (they are not at its end
        # there); the mark's row and the bottom padding row are dropped.
        ends = [*cuts, (last, tail)] if tail is not None else cuts
        start, begins = 0, START
        for end, after in ends:
            if end > start:
                key = (code[start:end], token.info, begins, width, new_line_before)
                lines = self._pieces.get(key)
                if lines is None:
                    lines = self._render(token, key[0] + _END_MARK, begins, width, render)
                kept[key] = lines
                rows.extend(lines[lead:-2])
            start, begins = end, after
        # The last line shown alone (it changes at every update), or with the lines since the
        # last cut when it cannot be lexed alone.
        lines = self._render(token, shown[start:], begins, width, render)
        self._pieces = kept
        return [*lines[:lead], *rows, *lines[lead:]]

    def _cuts_in(self, code: str, end: int, lexer: Lexer) -> list[tuple[int, State]]:
        """The cuts among the complete lines of `code[:end]`: after PIECE lines or more from
        the last, where a token begins on the next line, each with the lexer's state there;
        the ones found before are kept while the code still starts the same."""
        if not code.startswith(self._cut_code):
            self._cuts, self._cut_code, self._tried, self._rechecked = [], "", 0, -1
        cuts = self._cuts
        # A string or comment still open when a cut was found may have closed since, and the
        # lexer then matches it whole across the cut (a Go raw string, an SQL string): the
        # last cuts are checked again against all the code there is, and dropped if so: the
        # last at every update, the three last once a line.
        depth = _RECHECKED if end != self._rechecked else 1
        recheck = range(min(depth, len(cuts)), 0, -1)
        self._rechecked = end
        for back in recheck:
            at, state = cuts[-back]
            begin, begins = cuts[-back - 1] if back < len(cuts) else (0, START)
            if state_at(lexer, code[begin:], at - begin, begins) != state:
                del cuts[len(cuts) - back :]
                self._cut_code, self._tried = code[: cuts[-1][0]] if cuts else "", 0
                break
        start, state = cuts[-1] if cuts else (0, START)
        at, lines = start, 0
        while True:
            next_end = code.find("\n", at) + 1
            if not next_end or next_end > end:
                break
            at, lines = next_end, lines + 1
            if lines < PIECE or lines <= self._tried:
                continue
            # Lexed with all that follows, so that a token matched across lines is seen whole.
            found = state_at(lexer, code[start:], at - start, state)
            if found is None:
                self._tried = lines
                continue
            cuts.append((at, found))
            self._cut_code = code[:at]
            start, state, lines, self._tried = at, found, 0, 0
        return cuts

    def _render(
        self, token: Token, code: str, state: State, width: int, render: RenderFence
    ) -> list[Line]:
        self.rendered_lines += code.count("\n") + 1
        part = copy.copy(token)
        part.content = code
        part.meta = {**token.meta, FENCE_STATE: state}
        return render(part, width)


_END_MARK = "x"  # one short line: one row at any width from _NARROWEST
_RECHECKED = 3  # the last cuts looked at again at each update
_NARROWEST = 8


def _closed(token: Token) -> bool:
    """Whether the fence's closing line has arrived (markdown-it keeps it out of `content`,
    and counts it in the token's source lines)."""
    if token.map is None:
        return True  # no source lines known: render it whole, as rich would
    begin, end = token.map
    code = token.content
    lines = code.count("\n") + (1 if code and not code.endswith("\n") else 0)
    return end - begin >= lines + 2
