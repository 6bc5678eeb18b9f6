"""Text cut to a number of terminal cells, for the command line's tables: a wide character
(CJK, most emoji) takes two cells, so counting characters overflows the column."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.cells import cell_len, set_cell_size

from glmchat.terminal_text import neutralize_controls


def clip(text: str, cells: int) -> str:
    """`text` in at most `cells` terminal cells, ending with "…" when cut."""
    if cells <= 1:
        return "" if cell_len(text) > cells else text
    if cell_len(text) <= cells:
        return text
    # set_cell_size pads with a space where a wide character would straddle the edge.
    return set_cell_size(text, cells - 1).rstrip(" ") + "…"


def aligned(
    rows: Sequence[Sequence[str]], right: Collection[int] = (), *, rule_before_last: bool = False
) -> list[str]:
    """Rows of cells as lines whose columns line up (the columns in `right` aligned right), each
    cell on one line as a terminal shows it (a control character as `\\x1b`, four columns) and
    measured in terminal cells: a model id or title with escapes or CJK kept its columns.
    `rule_before_last`: a line of dashes under each column above the last row (a total)."""
    shown = [[neutralize_controls(" ".join(cell.split())) for cell in row] for row in rows]
    widths = [max(cell_len(row[i]) for row in shown) for i in range(len(shown[0]))] if shown else []
    lines = []
    for n, row in enumerate(shown):
        if rule_before_last and n == len(shown) - 1:
            lines.append("  ".join("-" * width for width in widths))
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            gap = " " * (width - cell_len(cell))
            cells.append(gap + cell if i in right else cell + gap)
        lines.append("  ".join(cells).rstrip())
    return lines
