"""Text from people, models, files and the store, made into Textual content shown as written.

Textual reads a plain `str` given to a label, tab, option, palette entry or toast as content
markup: `[/]` raises MarkupError (an app crash), `[a-z]+` and `[@click=app.quit]` are silently
eaten or acted on. A `Content` built here is never parsed, and control characters in it are made
visible, so no escape sequence reaches the terminal either. Build every such widget text with
`literal` (tests/test_literal_text.py scans for interpolated strings handed to widgets).
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from textual.content import Content

from glmchat.terminal_text import neutralize_controls


def literal(text: str, style: str = "") -> Content:
    """`text` exactly as written (control characters as `\\xNN`), in `style` if given."""
    text = neutralize_controls(text)
    return Content.styled(text, style) if style else Content(text)


def one_line(text: str, width: int, placeholder: str = "Untitled") -> str:
    """`text` on one line (runs of whitespace become one space), cut to `width` terminal cells
    with `…` (a wide character, CJK or most emoji, takes two)."""
    text = " ".join(text.split()) or placeholder
    if cell_len(text) <= width:
        return text
    # set_cell_size pads with a space where a wide character would straddle the edge.
    return set_cell_size(text, width - 1).rstrip(" ") + "…"
