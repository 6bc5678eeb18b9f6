"""Make untrusted text safe to show on a terminal: no escape sequence may reach it."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and the C1 range (0x80-0x9f, which includes CSI).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\r":
        return ""  # a bare CR would overwrite the line; CRLF becomes LF
    return f"\\x{ord(char):02x}"


def neutralize_controls(text: str) -> str:
    """Replace control characters with a visible `\\xNN` form (ESC becomes `\\x1b`)."""
    return _CONTROLS.sub(_visible, text) if _CONTROLS.search(text) else text
