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


class _Block:
    __slots__ = ("fields", "pieces", "settled", "text_only")

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}  # as first sent; pieced fields hold their place
        self.pieces: dict[str, list[str]] = {}
        self.settled: set[str] = set()  # fields that hold a value for good
        # The key set of a piece that adds only text (its other fields all settled): most
        # pieces after the first, read with one comparison.
        self.text_only: frozenset[str] = frozenset()


class ReasoningDetails:
    """Feed it each delta's `reasoning_details`; `blocks()` gives the merged items in the order
    they began. Pure: no I/O. Items that are not objects are skipped (they carry nothing)."""

    __slots__ = ("_blocks",)

    def __init__(self) -> None:
        self._blocks: dict[tuple[Any, Any], _Block] = {}

    def __bool__(self) -> bool:
        return bool(self._blocks)

    def feed(self, items: list[Any]) -> None:
        # Runs once per reasoning token on OpenRouter: the pieces are joined once, at the end.
        for item in items:
            if type(item) is not dict:
                continue
            index = item.get("index")
            key = (index if type(index) is int else None, item.get("type"))
            block = self._blocks.get(key)
            if block is None:
                block = self._blocks[key] = _Block()
            elif item.keys() == block.text_only and type(item["text"]) is str:
                block.pieces["text"].append(item["text"])
                continue
            self._read(block, item)

    @staticmethod
    def _read(block: _Block, item: dict[str, Any]) -> None:
        fields, pieces, settled = block.fields, block.pieces, block.settled
        for name, value in item.items():
            if name in settled:
                continue
            if name in _PIECED and type(value) is str:
                if name not in pieces:
                    pieces[name] = []
                    fields[name] = ""
                pieces[name].append(value)
            elif value is not None and value != "":
                fields[name] = value
                settled.add(name)
            elif name not in fields:
                fields[name] = value
        if "text" in pieces:
            block.text_only = frozenset(settled | {"text"})

    def blocks(self) -> tuple[dict[str, Any], ...]:
        out = []
        for block in self._blocks.values():
            merged = dict(block.fields)
            for name, texts in block.pieces.items():
                merged[name] = "".join(texts)
            out.append(merged)
        return tuple(out)
