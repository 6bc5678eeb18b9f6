"""Text cut to a number of terminal cells, for the command line's tables: a wide character
(CJK, most emoji) takes two cells, so counting characters overflows the column."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.cells import cell_len, set_cell_size

from glmchat.terminal_text import neutralize_controls, steady_width


def clip(text: str, cells: int) -> str:
    """`text` in at most `cells` terminal cells, ending with "…" when cut (joined emoji apart,
    as `aligned` shows them: `steady_width`)."""
    text = steady_width(text)
    if cells <= 1:
        return "" if cell_len(text) > cells else text
    if cell_len(text) <= cells:
        return text
    # set_cell_size pads with a space where a wide character would straddle the edge.
    return set_cell_size(text, cells - 1).rstrip(" ") + "…"


def aligned(
    rows: Sequence[Sequence[str]],
    right: Collection[int] = (),
    *,
    rule_before_last: bool = False,
    gap: int = 2,
) -> list[str]:
    """Rows of cells as lines whose columns line up (the columns in `right` aligned right), each
    cell on one line as a terminal shows it (a control character as `\\x1b`, four columns) and
    measured in terminal cells: a model id or title with escapes or CJK kept its columns.
    `rule_before_last`: a line of dashes under each column above the last row (a total); `gap`:
    the spaces between two columns."""
    shown = [
        [steady_width(neutralize_controls(" ".join(cell.split()))) for cell in row] for row in rows
    ]
    widths = [max(cell_len(row[i]) for row in shown) for i in range(len(shown[0]))] if shown else []
    lines = []
    for n, row in enumerate(shown):
        if rule_before_last and n == len(shown) - 1:
            lines.append((" " * gap).join("-" * width for width in widths))
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            pad = " " * (width - cell_len(cell))
            cells.append(pad + cell if i in right else cell + pad)
        lines.append((" " * gap).join(cells).rstrip())
    return lines


def clip_around(text: str, cells: int, start: str, end: str) -> str:
    """`text` in at most `cells` terminal cells, cut around its first match marked with `start`
    and `end` (a search snippet's hit) so the match stays in view: whole, with context on both
    sides and "…" where cut; when the match alone is wider than the space, its start. Unmarked
    text is cut at the end, as `clip` does."""
    if cell_len(text) <= cells:
        return text
    at = text.find(start)
    stop = text.find(end, at + len(start)) if at >= 0 else -1
    if stop < 0:
        return clip(text, cells)
    stop += len(end)
    before, match, after = text[:at], text[at:stop], text[stop:]
    sides = _context(before, after, cells - cell_len(match))
    if sides is None:  # the match alone does not fit: its start, "…" before it if cut there
        lead = "…" if before and cells > 2 else ""
        return lead + clip(text[at:], cells - len(lead))
    return sides[0] + match + sides[1]


def _context(before: str, after: str, room: int) -> tuple[str, str] | None:
    """What to show of the text before and after a match in `room` cells ("…" where cut, a
    side that needs less than half leaving the rest to the other), or None if nothing fits.
    One side at least is cut: the whole text is wider than the room."""
    wide_before, wide_after = cell_len(before), cell_len(after)
    half = room // 2
    if wide_before <= half and wide_before < room:
        return before, _head(after, room - wide_before - 1).rstrip() + "…"
    if wide_after <= room - half and wide_after < room:
        return "…" + _tail(before, room - wide_after - 1).lstrip(), after
    if half >= 1:
        # The after side gets what the before side leaves: a wide character that does not fit
        # whole in its half leaves a cell there.
        lead = "…" + _tail(before, half - 1).lstrip()
        return lead, _head(after, room - cell_len(lead) - 1).rstrip() + "…"
    return None


def _head(text: str, cells: int) -> str:
    """The longest start of `text` that fits in `cells` (a wide character is never halved)."""
    used = 0
    for n, char in enumerate(text):
        used += cell_len(char)
        if used > cells:
            return text[:n]
    return text


def _tail(text: str, cells: int) -> str:
    """The longest end of `text` that fits in `cells`, not starting with a combining mark."""
    used = 0
    for n in range(len(text) - 1, -1, -1):
        used += cell_len(text[n])
        if used > cells:
            kept = text[n + 1 :]
            return kept[next((i for i, c in enumerate(kept) if cell_len(c)), len(kept)) :]
    return text


def wrap(text: str, cells: int, indent: str = "", first: str = "") -> list[str]:
    """`text` as lines of at most `cells` terminal cells, broken at spaces (a terminal wraps a
    long line inside a word: `Sou` / `rces`), the first line after `first` and the others after
    `indent`. A word wider than a line is the one thing split, where the line ends."""
    lines: list[str] = []
    line, empty = first, True
    for word in text.split():
        if not empty and cell_len(line) + 1 + cell_len(word) <= cells:
            line += " " + word
            continue
        if not empty:
            lines.append(line)
            line = indent
        while cell_len(line) + cell_len(word) > cells and (
            part := _head(word, cells - cell_len(line))
        ):
            lines.append(line + part)
            word, line = word[len(part) :], indent
        line, empty = line + word, False
    lines.append(line)
    return lines
