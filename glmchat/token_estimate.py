"""A rough token count for text whose real count the provider has not (yet) sent.

Shown with a `~` wherever it appears: it is an estimate, not the provider's figure."""

from __future__ import annotations

import re
from functools import cache

# Scripts written without spaces between words, where tokenizers (GLM's included) spend about
# one token per character: CJK ideographs and their extensions, kana, Hangul, CJK punctuation
# and full-width forms. Everything else averages about four characters per token.
_DENSE = (
    "[\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f]"
)
CHARS_PER_TOKEN = 4


@cache
def _dense() -> re.Pattern[str]:
    # Compiled on first use (3 ms: its ranges reach past the Basic Multilingual Plane), not
    # when the TUI imports this on its way to the first paint.
    return re.compile(_DENSE)


def estimate_tokens(text: str) -> int:
    """About how many tokens `text` is: one per CJK character, one per four other characters."""
    if not text:
        return 0
    dense = len(_dense().findall(text))
    rest = len(text) - dense
    return dense + -(-rest // CHARS_PER_TOKEN)
