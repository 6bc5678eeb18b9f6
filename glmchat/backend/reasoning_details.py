"""OpenRouter's `reasoning_details`, put back together from the pieces a stream sends.

Each chunk carries items like `{"type": "reasoning.text", "text": " user", "format": "unknown",
"index": 0}`; the items of one index and type are one block whose text arrived in pieces.
Inside a tool loop the whole blocks go back verbatim (wire/TOOLS.md 2.2): every piece, the
first included, with its signature, encrypted data and format as sent."""

from __future__ import annotations

from typing import Any

# The fields whose pieces add up to the block's text; every other field is kept as first sent
# (a signature or encrypted `data` arrives once, often on a later piece with empty text).
_PIECED = ("text", "summary")


class ReasoningDetails:
    """Feed it each delta's `reasoning_details`; `blocks()` gives the merged items in the order
    they began. Pure: no I/O. Items that are not objects are skipped (they carry nothing)."""

    __slots__ = ("_blocks", "_pieces")

    def __init__(self) -> None:
        self._blocks: dict[tuple[Any, Any], dict[str, Any]] = {}
        self._pieces: dict[tuple[Any, Any], dict[str, list[str]]] = {}

    def __bool__(self) -> bool:
        return bool(self._blocks)

    def feed(self, items: list[Any]) -> None:
        # Runs once per reasoning token on OpenRouter: plain lookups, pieces joined at the end.
        for item in items:
            if type(item) is not dict:
                continue
            index = item.get("index")
            key = (index if type(index) is int else None, item.get("type"))
            block = self._blocks.get(key)
            if block is None:
                block = self._blocks[key] = {}
                self._pieces[key] = {}
            pieces = self._pieces[key]
            for name, value in item.items():
                if name in _PIECED and type(value) is str:
                    if name not in pieces:
                        pieces[name] = []
                        block[name] = ""  # holds the key's place: the block keeps its order
                    pieces[name].append(value)
                elif block.get(name) in (None, ""):
                    block[name] = value

    def blocks(self) -> tuple[dict[str, Any], ...]:
        out = []
        for key, block in self._blocks.items():
            merged = dict(block)
            for name, pieces in self._pieces[key].items():
                merged[name] = "".join(pieces)
            out.append(merged)
        return tuple(out)
