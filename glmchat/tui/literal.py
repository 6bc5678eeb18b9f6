"""Text from people, models, files and the store, made into Textual content shown as written.

Textual reads a plain `str` given to a label, tab, option, palette entry or toast as content
markup: `[/]` raises MarkupError (an app crash), `[a-z]+` and `[@click=app.quit]` are silently
eaten or acted on. A `Content` built here is never parsed, and control characters in it are made
visible, so no escape sequence reaches the terminal either. Build every such widget text with
`literal` (tests/test_literal_text.py scans for interpolated strings handed to widgets).

`NoControlCharacters` is the last fence behind that rule: whatever a widget renders, and however
its text was built, no control character in it reaches the terminal.
"""

from __future__ import annotations

import re

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual.color import Color
from textual.content import Content
from textual.filter import LineFilter

from glmchat.terminal_text import neutralize_controls, steady_width

# C0 (tab and newline included: a widget's line holds neither), DEL and C1. Rich counts each as
# zero cells wide, so dropping them leaves every line as wide as it was laid out.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def literal(text: str, style: str = "") -> Content:
    """`text` exactly as written (control characters as `\\xNN`), in `style` if given."""
    text = neutralize_controls(text)
    return Content.styled(text, style) if style else Content(text)


def one_line(text: str, width: int, placeholder: str = "Untitled") -> str:
    """`text` on one line (runs of whitespace become one space) as shown (control characters
    as `\\xNN`, joined emoji apart: `steady_width`), cut to `width` terminal cells with `…`
    (a wide character, CJK or most emoji, takes two). Cut as shown, not before: ESC ] 0 ; ...
    BEL took 1 cell to measure, 4 to show."""
    text = steady_width(neutralize_controls(" ".join(text.split()))) or placeholder
    if cell_len(text) <= width:
        return text
    # set_cell_size pads with a space where a wide character would straddle the edge.
    return set_cell_size(text, width - 1).rstrip(" ") + "…"


class NoControlCharacters(LineFilter):
    """A line filter that drops control characters from the text of every rendered line.

    Text shown by glmchat goes through `literal` (or `neutralize_controls`), which shows a
    control character as `\\xNN`; a widget that missed it (a status field built from a stored
    model name: ESC ] 0 retitled the window, ESC [ 2 J cleared the screen) would otherwise send
    it to the terminal as is. Textual's own escape codes are written after the lines, never in
    them. A line is filtered once and cached with it (`Strip.apply_filter`)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        search = _CONTROL.search
        if not search("".join([segment.text for segment in segments])):  # one scan per line
            return segments
        kept: list[Segment] = []
        for segment in segments:
            text, style, control = segment
            if search(text):
                segment = Segment(_CONTROL.sub("", text), style, control)
            kept.append(segment)
        return kept
