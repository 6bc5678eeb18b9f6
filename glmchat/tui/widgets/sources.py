"""Z.ai web search results under an answer as numbered sources, and the answer's `[ref_N]`
citations numbered to match."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from textual.content import Content
from textual.widgets import Static

from glmchat.tui.literal import literal

# The model cites a result by its `refer` ("ref_1"): `[ref_1]`, sometimes in full-width
# brackets or with spaces around the name.
_CITATION = re.compile(r"[\[【]\s*(ref_\d+)\s*[\]】]")


def source_numbers(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Each result's `refer` -> its number in the list (1, 2, ...), in the order received."""
    numbers: dict[str, int] = {}
    for number, item in enumerate(results, 1):
        refer = item.get("refer")
        if isinstance(refer, str) and refer not in numbers:
            numbers[refer] = number
    return numbers


def cite(text: str, results: Sequence[Mapping[str, Any]]) -> str:
    """`text` with each `[ref_N]` of a known result written `[N]`; others are left as written."""
    numbers = source_numbers(results)
    if not numbers or "ref_" not in text:
        return text

    def number(match: re.Match[str]) -> str:
        found = numbers.get(match.group(1))
        return match.group(0) if found is None else f"[{found}]"

    return _CITATION.sub(number, text)


def _field(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    return " ".join(value.split()) if isinstance(value, str) else ""


def sources_content(results: Sequence[Mapping[str, Any]]) -> Content:
    """`Sources` and one line per result: `[N] title — link` (all literal)."""
    text = literal("Sources", "bold")
    for number, item in enumerate(results, 1):
        title = _field(item, "title") or _field(item, "media") or "(untitled)"
        link = _field(item, "link")
        text += literal(f"\n[{number}] ", "bold") + literal(title)
        if link:
            text += literal(f" — {link}", "$text-accent")
    return text


class Sources(Static):
    """The numbered sources of a web search, under the answer that cited them."""

    DEFAULT_CSS = """
    Sources {
        height: auto;
        margin: 1 0 0 0;
        color: $text-muted;
    }
    """

    def __init__(self, results: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(sources_content(results))
        self.results = tuple(results)
