"""Streamed Markdown's source side: find the top-level blocks of the text parsed so far."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markdown_it.token import Token

from glmchat.tui.compat.rich_markdown import (
    BLOCK_PARSER,
    Env,
    Line,
    new_env,
    new_line_after,
    references,
    references_ending_by,
    references_key,
)

__all__ = ["Block", "Split", "split_blocks"]


@dataclass(eq=False, slots=True)
class Block:
    """One top-level Markdown block (paragraph, list, fence, table...)."""

    source: str
    # rich's `new_line` flag as this block starts (set by the block before it) and as it ends.
    new_line_before: bool
    new_line_after: bool
    # Kept only until the first render: re-parsing one block on resize is cheaper than holding
    # every token of a long history in memory.
    tokens: list[Token] | None
    # Which link reference definitions the tokens were parsed with (see `references_key`).
    refs_key: int
    # The parse environment (link references) the tokens' inline parts are still to be parsed
    # with; None once they are (or when `tokens` is None).
    env: Env | None = None
    # Rendered lines by width (see MarkdownBlocks), and the one row object that stands for all
    # of the block's rows while it waits to be rendered.
    lines: dict[int, list[Line]] = field(default_factory=dict)
    placeholder: Line | None = None


@dataclass(frozen=True, slots=True)
class Split:
    """Where the text parsed so far stands: the blocks that can no longer change, the rest."""

    finished: list[Block]
    open: list[Block]
    # The source of the open blocks, to parse again with the next text.
    rest: str
    # Link reference definitions found in the finished part.
    references: dict[str, Any]


def split_blocks(text: str, known: Mapping[str, Any], *, new_line: bool, complete: bool) -> Split:
    """Find the top-level blocks of `text` and which of them are finished.

    `known`: the link reference definitions found before `text`; `new_line`: rich's blank-line
    flag where `text` starts; `complete`: no more text will follow, every block is finished.

    Block i is finished once block i+1 has a complete first line: before that, the next
    characters can still turn block i into something else (a setext heading, a table, a list
    that continues after a blank line). Blank lines alone decide nothing: a loose list or a list
    item of two paragraphs spans them.
    """
    env = new_env(known)
    groups = _top_level_groups(BLOCK_PARSER.parse(text, env)) if text else []
    offsets = _line_offsets(text)

    def offset(line: int) -> int:
        return offsets[line] if line < len(offsets) else len(text)

    blocks: list[Block] = []
    refs_key = references_key(references(env))
    for group in groups:
        start, end = group[0].map  # type: ignore[misc]
        after = new_line_after(group[0])
        source = text[offset(start) : offset(end)]
        blocks.append(Block(source, new_line, after, group, refs_key, env))
        new_line = after

    if complete:
        keep = len(blocks)
    else:
        complete_lines = len(offsets) - 1
        keep = 0
        for index in range(len(groups) - 1, 0, -1):
            if groups[index][0].map[0] < complete_lines:  # type: ignore[index]
                keep = index
                break
    if not keep:
        return Split([], blocks, text, {})
    boundary = groups[keep][0].map[0] if keep < len(groups) else len(offsets)  # type: ignore[index]
    rest = text[offset(boundary) :] if keep < len(groups) else ""
    return Split(blocks[:keep], blocks[keep:], rest, references_ending_by(env, boundary))


def _top_level_groups(tokens: list[Token]) -> list[list[Token]]:
    """Split a token stream into its top-level blocks."""
    groups: list[list[Token]] = []
    start = 0
    for index, token in enumerate(tokens):
        if token.level == 0 and token.nesting != 1:
            groups.append(tokens[start : index + 1])
            start = index + 1
    return groups


def _line_offsets(text: str) -> list[int]:
    """Character offset of the start of every line (plus one past the last newline)."""
    offsets = [0]
    find = text.find
    position = find("\n")
    while position != -1:
        offsets.append(position + 1)
        position = find("\n", position + 1)
    return offsets
