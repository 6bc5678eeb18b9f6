"""Z.ai web search results as glmchat keeps them, and an answer's `[ref_N]` citations numbered
to match its sources: one policy for the TUI, the exports and `glmchat ask`.

The provider sends each result as an object (`refer` "ref_1", `title`, `link`, `media`,
`icon`, `content`, `publish_date`); an answer cites one as `[ref_1]`. Its sources are numbered
1, 2, ... in the order received. In a tool loop each model call may search again, and its
citations name its own results: a later round's sources continue the numbering."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# What is kept of a result: what is shown (refer, title, link, media) or may be (icon, a short
# excerpt, its date). Anything else the provider adds is dropped.
KEPT_FIELDS = ("refer", "title", "link", "media", "icon", "content", "publish_date")
CONTENT_MAX = 500  # characters of a result's excerpt
FIELD_MAX = 2000  # characters of any other field (a link may be long; a title is not)
RESULTS_MAX = 100  # results kept for one model call

# The model cites a result by its `refer`: `[ref_1]`, sometimes in full-width brackets or with
# spaces around the name.
CITATION = re.compile(r"[\[【]\s*(ref_\d+)\s*[\]】]")
# Code is the model's code, not a citation (`table[ref_1]`): a fenced block (to its closing
# fence, or to the end of a text still streaming) or an inline code span (within its
# paragraph: an unclosed backtick scans no further), taken whole first.
_CODE_OR_CITATION = re.compile(
    r"(?P<code>^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[^\n]*.*?(?:\n[ \t]{0,3}(?P=fence)[`~]*[ \t]*$|\Z)"
    r"|(?P<ticks>`+)(?!`)(?:[^\n]|\n(?![ \t]*\n))+?(?<!`)(?P=ticks)(?!`))"
    r"|" + CITATION.pattern,
    re.MULTILINE | re.DOTALL,
)

Source = dict[str, str]
_REF = re.compile(r"ref_([0-9]{1,6})")


def kept_results(value: Any) -> list[Source] | None:
    """The results worth keeping from whatever arrived (the provider, an import, a database
    edited by hand): objects only, string fields only, each cut to its length; None for none.
    An object with none of the fields is kept as an empty one: it still holds its number."""
    if not isinstance(value, list | tuple):
        return None
    out: list[Source] = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        kept: Source = {}
        for name in KEPT_FIELDS:
            text = item.get(name)
            if isinstance(text, str) and text:
                limit = CONTENT_MAX if name == "content" else FIELD_MAX
                kept[name] = text if len(text) <= limit else text[: limit - 1] + "…"
        out.append(kept)
        if len(out) == RESULTS_MAX:
            break
    return _in_named_order(out) or None


def _in_named_order(results: list[Source]) -> list[Source]:
    """Results named `ref_1` to `ref_N` in another order are put in that order: Z.ai names its
    Nth result `ref_N`, and `ask` numbers a citation printed before its results arrive by its
    name, so the list must agree. Any other naming keeps the order received."""
    places: list[int] = []
    for item in results:
        named = _REF.fullmatch(item.get("refer", ""))
        if named is None:
            return results
        places.append(int(named.group(1)))
    if sorted(places) != list(range(1, len(results) + 1)) or places == sorted(places):
        return results
    return [item for _, item in sorted(zip(places, results, strict=True), key=lambda p: p[0])]


def source_numbers(results: Sequence[Mapping[str, Any]], first: int = 1) -> dict[str, int]:
    """Each result's `refer` -> its number (`first`, `first` + 1, ...), in the order received."""
    numbers: dict[str, int] = {}
    for number, item in enumerate(results, first):
        refer = item.get("refer")
        if isinstance(refer, str) and refer not in numbers:
            numbers[refer] = number
    return numbers


def cite(text: str, results: Sequence[Mapping[str, Any]], first: int = 1) -> str:
    """`text` with each `[ref_N]` of a known result written `[N]`; others are left as written."""
    numbers = source_numbers(results, first)
    if not numbers or "ref_" not in text:
        return text

    def number(match: re.Match[str]) -> str:
        if match.group("code") is not None:
            return match.group(0)
        found = numbers.get(match.group(match.lastindex or 0))
        return match.group(0) if found is None else f"[{found}]"

    return _CODE_OR_CITATION.sub(number, text)


def numbered_rounds(
    rounds: Sequence[Sequence[Mapping[str, Any]] | None],
) -> tuple[list[Mapping[str, Any]], list[int]]:
    """An answer's sources from its model calls' results: all of them in order, and the number
    of each call's first (its citations are numbered from there)."""
    sources: list[Mapping[str, Any]] = []
    firsts: list[int] = []
    for results in rounds:
        firsts.append(len(sources) + 1)
        sources.extend(results or ())
    return sources, firsts


def source_title(item: Mapping[str, Any]) -> str:
    """A result's title on one line (its site's name if it has none)."""
    return _one_line(item, "title") or _one_line(item, "media") or "(untitled)"


def source_link(item: Mapping[str, Any]) -> str:
    return _one_line(item, "link")


def _one_line(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    return " ".join(value.split()) if isinstance(value, str) else ""
