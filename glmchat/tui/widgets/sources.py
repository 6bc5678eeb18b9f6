"""Z.ai web search results under an answer as numbered sources, and the answer's `[ref_N]`
citations numbered to match."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.content import Content
from textual.widgets import Static

from glmchat.tui.literal import literal
from glmchat.web_sources import cite, source_link, source_numbers, source_title

__all__ = ["Sources", "cite", "source_numbers", "sources_content"]


def sources_content(results: Sequence[Mapping[str, Any]]) -> Content:
    """`Sources` and one line per result: `[N] title — link` (all literal)."""
    text = literal("Sources", "bold")
    for number, item in enumerate(results, 1):
        title, link = source_title(item), source_link(item)
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
