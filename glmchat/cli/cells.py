"""Text cut to a number of terminal cells, for the command line's tables: a wide character
(CJK, most emoji) takes two cells, so counting characters overflows the column."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size


def clip(text: str, cells: int) -> str:
    """`text` in at most `cells` terminal cells, ending with "…" when cut."""
    if cells <= 1:
        return "" if cell_len(text) > cells else text
    if cell_len(text) <= cells:
        return text
    # set_cell_size pads with a space where a wide character would straddle the edge.
    return set_cell_size(text, cells - 1).rstrip(" ") + "…"
