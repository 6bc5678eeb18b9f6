"""`glmchat ask`'s web search sources: each model call's results as they arrive, the answer's
`[ref_N]` citations numbered as it prints, and the `Sources` list after it (or, with --json,
the `sources` list)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from glmchat.terminal_text import neutralize_controls
from glmchat.web_sources import (
    CITATION,
    RESULTS_MAX,
    kept_results,
    source_link,
    source_title,
)

# The end of a piece of text that may be the start of a citation the next piece ends ("[ref",
# "【 ref_1"): held back until it is one or is not. A run of spaces is not held for ever.
_CITATION_START = re.compile(r"[\[【]\s*(?:r(?:e(?:f(?:_\d*)?)?)?)?\s*\Z")
_HELD_MAX = 32


class AskSources:
    """The sources of one `ask` run, numbered in the order received across its model calls
    (a tool loop's rounds, a --schema repair): a later call's continue the numbering.

    Z.ai sends a call's results after its text, so a citation is usually printed before its
    result is known: it is then numbered by its name (Z.ai's `ref_3` is its third result), as
    the TUI and the exports number it once the results are in."""

    def __init__(self) -> None:
        self._calls: list[list[dict[str, str]]] = [[]]
        self._held = ""

    def new_call(self) -> None:
        """The model is called again: its citations name its own results."""
        if self._calls[-1]:
            self._calls.append([])

    def add(self, results: Sequence[Mapping[str, Any]]) -> None:
        """The call's results so far (a repeat from the provider replaces them)."""
        self._calls[-1] = kept_results(list(results)) or []

    @property
    def sources(self) -> list[dict[str, str]]:
        return [item for call in self._calls for item in call]

    def cite(self, text: str) -> str:
        """The next piece of the answer as it is to be printed: citations numbered, a possible
        citation's start held back for the next piece (`flush` gives it back)."""
        text = self._held + text
        self._held = ""
        # Only the end can be held: look there, not through the whole piece.
        tail = len(text) - _HELD_MAX
        start = _CITATION_START.search(text, max(tail, 0))
        if start is not None:
            text, self._held = text[: start.start()], text[start.start() :]
        if "ref_" not in text:
            return text
        return CITATION.sub(self._number, text)

    def flush(self) -> str:
        """What is held back: the answer ended (or its round did) without closing it."""
        held, self._held = self._held, ""
        return held

    def _number(self, match: re.Match[str]) -> str:
        first = len(self.sources) - len(self._calls[-1]) + 1
        refer = match.group(1)
        for number, item in enumerate(self._calls[-1], first):
            if item.get("refer") == refer:
                return f"[{number}]"
        # Not here yet (results come after the text, or grow when sent again): Z.ai names its
        # Nth result `ref_N`. One past those kept can never be listed: left as written.
        place = int(refer[4:])
        return f"[{first + place - 1}]" if 0 < place <= RESULTS_MAX else match.group(0)

    def block(self) -> str:
        """`Sources` and one line per result, `[N] title — link`, for after the answer."""
        lines = ["Sources"]
        for number, item in enumerate(self.sources, 1):
            title, link = source_title(item), source_link(item)
            lines.append(f"[{number}] {title}" + (f" — {link}" if link else ""))
        return neutralize_controls("\n".join(lines))

    def as_json(self) -> list[dict[str, Any]]:
        """`ask --json`'s `sources`: each result's number, the name the answer cites it by,
        and what is known of it."""
        return [
            {
                "number": number,
                "refer": item.get("refer"),
                "title": item.get("title"),
                "link": item.get("link"),
                "media": item.get("media"),
                "publish_date": item.get("publish_date"),
            }
            for number, item in enumerate(self.sources, 1)
        ]
