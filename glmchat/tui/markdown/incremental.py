"""Streamed Markdown rendered to lines: finished blocks once per width, only the open tail again."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from markdown_it.token import Token
from rich.console import Console

from glmchat.terminal_text import StreamNeutralizer
from glmchat.tui.compat.rich_markdown import (
    PARSER,
    Line,
    TokenRenderer,
    new_env,
    parse_inline,
    references_key,
)
from glmchat.tui.markdown.blocks import Block, split_blocks
from glmchat.tui.markdown.finished_rows import FinishedRows, Unrendered
from glmchat.tui.markdown.open_fence import OpenFence

__all__ = ["Line", "MarkdownBlocks"]


class MarkdownBlocks:
    """Markdown text that grows at the end, rendered to lines the way rich renders the whole.

    Finished blocks are rendered once per width and cached; only the open blocks at the end (the
    last block, or the last two while the first line of the newest one is incomplete) are parsed
    and rendered again when more text arrives. A block is finished once the next block has
    started and that block's first line is complete, as decided by markdown-it's token maps.

    Finished blocks can wait: a render given a budget renders the newest ones first (those next
    to the open tail, where a chat log is looking) and leaves the rest as blank rows of an
    estimated count, rendered by later calls, or at once when a line of theirs is asked for.
    The cost of showing the end of a long burst of text is then that of the rows near the end.
    """

    def __init__(
        self,
        *,
        code_theme: str = "monokai",
        console: Console | None = None,
        clock: Callable[[], float] = perf_counter,
    ) -> None:
        self.code_theme = code_theme
        self.clock = clock
        """Seconds, for the render budget and `open_cost` (tests drive it by hand)."""
        self.console = console or Console(
            width=80, force_terminal=True, color_system="truecolor", markup=False, emoji=False
        )
        self.on_render: Callable[[str], None] | None = None
        """Called with a block's source every time a block is rendered (tests, benchmarks)."""
        self.renders = 0
        """Number of block renders so far."""
        self.open_cost = 0.0
        """Seconds the last render of the open blocks took."""
        self.reflowed = False
        """Set when asking for a line rendered a waiting block, changing the line count."""
        self._renderer = TokenRenderer(code_theme)
        self.reset()

    def reset(self) -> None:
        """Forget all text."""
        self._raw: list[str] = []
        # Cleaned as it arrives, by the same rule as every other text on the screen.
        self._neutralizer = StreamNeutralizer()
        self._incoming: list[str] = []
        self._tail = ""  # neutralized source of the open blocks, parsed again on every render
        self._needs_parse = False
        self._finished = False
        self._check_references = False
        self._finished_rows = FinishedRows(self._render_finished, self._recent_lines)
        self._open: list[Block] = []
        self._refs: dict[str, Any] = {}
        self._width: int | None = None
        self._open_rows: list[Line] = []
        self._open_cache: dict[tuple[str, int, int, bool], list[Line]] = {}
        self._open_fence = OpenFence()

    @property
    def text(self) -> str:
        """Everything appended so far, as given (before neutralizing)."""
        if len(self._raw) > 1:
            self._raw[:] = ["".join(self._raw)]
        return self._raw[0] if self._raw else ""

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def width(self) -> int | None:
        """The width of the lines currently held, or None before the first render."""
        return self._width

    @property
    def line_count(self) -> int:
        """Number of lines at the last rendered width (waiting blocks count as estimated)."""
        return len(self._finished_rows.rows) + len(self._open_rows)

    @property
    def frozen_block_count(self) -> int:
        return len(self._finished_rows.blocks)

    @property
    def frozen_blocks(self) -> tuple[str, ...]:
        """Sources of the finished blocks."""
        return tuple(block.source for block in self._finished_rows.blocks)

    @property
    def open_blocks(self) -> tuple[str, ...]:
        """Sources of the blocks still open at the last render."""
        return tuple(block.source for block in self._open)

    @property
    def dirty(self) -> bool:
        """True when text has arrived since the last render."""
        return self._needs_parse

    @property
    def waiting(self) -> bool:
        """True when some finished blocks wait to be rendered at the current width."""
        self._finished_rows.prune_waiting(self._width)
        return bool(self._finished_rows.waiting)

    def append(self, text: str) -> None:
        """Add text at the end; costs O(len(text)), the work is done by the next `render`."""
        if not text:
            return
        if self._finished:
            self._reopen()
        self._raw.append(text)
        clean = self._neutralizer.feed(text)
        if clean:
            self._incoming.append(clean)
            self._needs_parse = True

    def finish(self) -> None:
        """Declare the text complete: the next `render` finishes every block."""
        if not self._finished:
            self._finished = True
            held = self._neutralizer.end()  # a CR at the very end of the text
            if held:
                self._incoming.append(held)
            self._needs_parse = True

    def segments(self, y: int) -> Line:
        """The segments of line `y` at the last rendered width (none past the end).

        A line of a block still waiting is rendered now; if that changes the line count,
        `reflowed` is set (the lines after it moved)."""
        frozen = self._finished_rows.rows
        if y < len(frozen):
            row = frozen[y]
            while type(row) is Unrendered:
                assert self._width is not None  # rows exist once rendered at a width
                self._finished_rows.render_waiting(row.block, self._width)
                self.reflowed = True
                row = frozen[y] if y < len(frozen) else self.segments(y)
            return row
        try:
            return self._open_rows[y - len(frozen)]
        except IndexError:
            return []

    def lines(self) -> list[Line]:
        """All lines at the last rendered width (renders every waiting block first)."""
        if self._width is not None:
            self._fill(self._width, None, None)
        return [*self._finished_rows.rows, *self._open_rows]

    def render(
        self, width: int, budget: float | None = None, *, exact_rows: int | None = None
    ) -> int:
        """Bring the lines up to date at `width`; return the first line that changed.

        Without a `budget` (seconds) every finished block is rendered. With one, the newest
        finished blocks not rendered yet are rendered first, until the budget is spent and the
        last `exact_rows` rows are exact; the others wait (see `waiting`). The open blocks
        are always rendered. Returns `line_count` when nothing changed.
        """
        width = max(1, width)
        finished = self._finished_rows
        if width == self._width and not self._needs_parse and not finished.waiting:
            return self.line_count
        deadline = None if budget is None else self.clock() + budget
        old_frozen = len(finished.rows)
        old_open = self._open_rows
        finished.changed_from = old_frozen
        resized = width != self._width
        if resized:
            self._width = width
            finished.relayout(width)
            self._open_rows = []
        if self._needs_parse:
            self._parse(width)
        self._render_open(width)
        self._fill(width, deadline, exact_rows)
        if self._check_references:
            self._apply_late_references(width)
        if resized:
            return 0
        if finished.changed_from < old_frozen:
            return finished.changed_from
        new_lines = [*finished.rows[old_frozen:], *self._open_rows]
        for index, (old, new) in enumerate(zip(old_open, new_lines, strict=False)):
            if old is not new and old != new:
                return old_frozen + index
        if len(old_open) != len(new_lines):
            return old_frozen + min(len(old_open), len(new_lines))
        return self.line_count

    # Internals

    def _reopen(self) -> None:
        # Appending to a finished text is rare (a resumed reply): start over from the raw text
        # once rather than trying to un-finish the last block.
        text = self.text
        self.reset()
        self.append(text)

    def _render(self, block: Block, tokens: list[Token], width: int) -> list[Line]:
        self.renders += 1
        if self.on_render is not None:
            self.on_render(block.source)
        return self._renderer.render(
            self.console, block.source, tokens, width, new_line_before=block.new_line_before
        )

    def _parse_block(self, block: Block) -> list[Token]:
        if block.tokens is not None:
            if block.env is not None:
                parse_inline(block.tokens, block.env)
                block.env = None
            return block.tokens
        block.refs_key = references_key(self._refs)
        return PARSER.parse(block.source, new_env(self._refs))

    def _render_finished(self, block: Block, width: int) -> list[Line]:
        return self._render(block, self._parse_block(block), width)

    def _recent_lines(self, block: Block, width: int) -> list[Line] | None:
        """The lines a just finished block had at the last render of the open blocks."""
        return self._open_cache.get(self._open_key(block, width))

    def _fill(self, width: int, deadline: float | None, exact_rows: int | None) -> None:
        below = len(self._open_rows)
        self._finished_rows.fill(width, deadline, exact_rows, below=below, clock=self.clock)

    @staticmethod
    def _open_key(block: Block, width: int) -> tuple[str, int, int, bool]:
        # Later link definitions can change a block with the same source.
        return (block.source, width, block.refs_key, block.new_line_before)

    def _parse(self, width: int) -> None:
        """Parse the open tail; add the blocks that can no longer change to the finished ones."""
        self._needs_parse = False
        if self._incoming:
            # Joining is O(tail) per render, and renders are rate limited by the caller.
            self._tail += "".join(self._incoming)
            self._incoming.clear()
        blocks = self._finished_rows.blocks
        previous = blocks[-1] if blocks else None
        split = split_blocks(
            self._tail,
            self._refs,
            new_line=previous.new_line_after if previous is not None else False,
            complete=self._finished,
        )
        if self._finished:
            self._check_references = True
        for block in split.finished:
            self._finished_rows.add(block, width)
        for label, ref in split.references.items():
            self._refs.setdefault(label, ref)
        self._tail = split.rest
        self._open = split.open

    def _render_open(self, width: int) -> None:
        started = self.clock()
        rows: list[Line] = []
        cache: dict[tuple[str, int, int, bool], list[Line]] = {}
        for block in self._open:
            key = self._open_key(block, width)
            lines = self._open_cache.get(key)
            if lines is None:
                tokens = self._parse_block(block)
                pieces = self._fence_rows(block, tokens, width)
                if pieces is None:
                    lines = cache[key] = self._render(block, tokens, width)
                else:
                    # Not kept: the block, once finished, takes what the open render of its
                    # source had (`_recent_lines`), and pieces may be coloured otherwise than
                    # the whole (open_fence.py; found by the tests: an unclosed fence at the
                    # end of an answer kept them).
                    lines = pieces
            else:
                cache[key] = lines
            rows.extend(lines)
        # Only the blocks still open are worth remembering.
        self._open_cache = cache
        self._open_rows = rows
        self.open_cost = self.clock() - started

    def _fence_rows(self, block: Block, tokens: list[Token], width: int) -> list[Line] | None:
        """A long code fence still streaming, rendered in pieces (see open_fence.py)."""
        if len(tokens) != 1 or tokens[0].type != "fence":
            return None
        return self._open_fence.lines(
            tokens[0],
            width,
            block.new_line_before,
            lambda piece, at: self._render(block, [piece], at),
        )

    def _apply_late_references(self, width: int) -> None:
        # A link definition may come after a block that uses it was finished; rich resolves it
        # against the whole text, so re-render those blocks once the text is complete.
        self._check_references = False
        final = references_key(self._refs)
        blocks = self._finished_rows.blocks
        stale = [i for i, b in enumerate(blocks) if b.refs_key != final and "[" in b.source]
        self._finished_rows.render_again(stale, width)
