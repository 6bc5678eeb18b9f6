"""Join message parts into sentences, each ended by exactly one full stop (or its own ! or ?)."""

from __future__ import annotations

import re

# A part already ends a sentence when its last visible character is a stop, optionally followed
# by closing quotes or brackets: `recharge.`, `(see above.)`, `"done!"`, `完成。`.
_ENDED = re.compile(r"[.!?…。！？][\"'”’)\]»`]*\Z")
# A part that trails off with a separator gets the stop in the separator's place.
_TRAILING_SEPARATOR = re.compile(r"[\s,:;]+\Z")


def end_sentence(part: str) -> str:
    """`part` stripped and ending with a sentence stop: `"Please recharge."` stays as it is,
    `"timed out"` becomes `"timed out."`, `"code 12:"` becomes `"code 12."`."""
    text = part.strip()
    if not text or _ENDED.search(text):
        return text
    return _TRAILING_SEPARATOR.sub("", text) + "."


def join_sentences(*parts: str | None) -> str:
    """The non-empty parts as sentences separated by one space: provider text that ends with
    its own full stop never gets a second one."""
    return " ".join(end_sentence(p) for p in parts if p and p.strip())
