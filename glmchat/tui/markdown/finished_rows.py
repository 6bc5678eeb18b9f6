"""The rows of streamed Markdown's finished blocks: rendered once per width, or waiting to be."""

from __future__ import annotations

from collections.abc import Callable

from glmchat.tui.compat.rich_markdown import Line
from glmchat.tui.markdown.blocks import Block

__all__ = ["FinishedRows", "Unrendered"]

# How many widths each finished block keeps rendered lines for (a resize and back is free).
_WIDTHS_KEPT = 2


class Unrendered(Line):
    """The rows of a finished block not rendered yet (blank; `block` is its place in the text).

    One object stands for every row of its block, as many rows as the block is estimated to
    take; asking for one of them renders the block (see `MarkdownBlocks.segments`)."""

    # Not `index`: that would hide list.index.
    __slots__ = ("block",)

    def __init__(self, block: int) -> None:
        super().__init__()
        self.block = block


def _estimated_rows(block: Block, width: int) -> int:
    """About how many rows a block takes at `width` (its lines, wrapped, and the gap before)."""
    rows = 1 if block.new_line_before else 0
    for line in block.source.rstrip("\n").split("\n"):
        rows += max(1, -(-len(line) // width))
    return rows


class FinishedRows:
    """The finished blocks of one text and their rows at the current width, in one list.

    A block's rows are its rendered lines, or placeholders (`Unrendered`) while it waits to be
    rendered: `fill` renders waiting blocks newest first within a deadline, `render_waiting`
    one block whose line is asked for. `render` renders a block (parsing it as needed);
    `recent` gives the lines the block last had while it was open, if they are still good."""

    def __init__(
        self,
        render: Callable[[Block, int], list[Line]],
        recent: Callable[[Block, int], list[Line] | None],
    ) -> None:
        self._render = render
        self._recent = recent
        self.blocks: list[Block] = []
        # The first row of each finished block, and the finished blocks' rows in one list.
        self.starts: list[int] = []
        self.rows: list[Line] = []
        # Indexes of finished blocks not rendered at the current width, oldest first (some may
        # have been rendered since, when a line of theirs was asked for).
        self.waiting: list[int] = []
        # The first row that changed since the owner last set it (see MarkdownBlocks.render).
        self.changed_from = 0

    def lines_of(self, block: Block, width: int) -> list[Line]:
        """A finished block's lines at `width`, rendered now if they are not kept."""
        lines = block.lines.get(width)
        if lines is None:
            lines = self._recent(block, width)
            if lines is None:
                lines = self._render(block, width)
            self._keep(block, width, lines)
        return lines

    @staticmethod
    def _keep(block: Block, width: int, lines: list[Line]) -> None:
        block.tokens = None
        block.env = None
        if len(block.lines) >= _WIDTHS_KEPT:
            del block.lines[next(iter(block.lines))]
        block.lines[width] = lines

    def _rows_of(self, index: int, width: int) -> list[Line]:
        """A finished block's rows: rendered, or placeholders (the block is then waiting)."""
        block = self.blocks[index]
        lines = block.lines.get(width)
        if lines is None:
            # Just finished: the open blocks' last render is usually its final one.
            lines = self._recent(block, width)
            if lines is not None:
                self._keep(block, width, lines)
                return lines
            if block.placeholder is None:
                block.placeholder = Unrendered(index)
            return [block.placeholder] * _estimated_rows(block, width)
        return lines

    def add(self, block: Block, width: int) -> None:
        index = len(self.blocks)
        self.blocks.append(block)
        self.starts.append(len(self.rows))
        rows = self._rows_of(index, width)
        if rows and type(rows[0]) is Unrendered:
            self.waiting.append(index)
        self.rows.extend(rows)

    def relayout(self, width: int) -> None:
        """Rows for a new width: cached lines where there are some, placeholders elsewhere."""
        self.starts = []
        self.rows = []
        self.waiting = []
        blocks, self.blocks = self.blocks, []
        for block in blocks:
            self.add(block, width)
        self.changed_from = 0

    def restack(self, first: int, width: int) -> None:
        """Rebuild the rows from finished block `first` on (after some were rendered)."""
        start = self.starts[first]
        rows = self.rows
        del rows[start:]
        starts = self.starts
        del starts[first:]
        for index in range(first, len(self.blocks)):
            starts.append(len(rows))
            rows.extend(self._rows_of(index, width))
        self.changed_from = min(self.changed_from, start)

    def prune_waiting(self, width: int | None) -> None:
        waiting, blocks = self.waiting, self.blocks
        while waiting and width in blocks[waiting[-1]].lines:
            waiting.pop()

    def fill(
        self,
        width: int,
        deadline: float | None,
        exact_rows: int | None,
        *,
        below: int,
        clock: Callable[[], float],
    ) -> None:
        """Render waiting blocks, newest first, until `clock()` passes `deadline` and the last
        `exact_rows` rows are exact; `below` is how many rows follow the finished ones."""
        waiting, blocks = self.waiting, self.blocks
        cursor = len(blocks)  # `below` counts the rows after the block at `cursor`
        first = None
        while waiting:
            index = waiting[-1]
            for later in range(index + 1, cursor):
                lines = blocks[later].lines.get(width)
                below += len(lines) if lines is not None else 0
            block = blocks[index]
            if width not in block.lines:
                if deadline is not None and clock() > deadline:
                    if exact_rows is None or below >= exact_rows:
                        break  # out of time, and not among the last `exact_rows` rows
                self.lines_of(block, width)
                first = index
            below += len(block.lines[width])
            cursor = index
            waiting.pop()
        if first is not None:
            self.restack(first, width)

    def render_waiting(self, index: int, width: int) -> None:
        self.lines_of(self.blocks[index], width)
        self.restack(index, width)

    def render_again(self, indexes: list[int], width: int) -> None:
        """Forget and render these blocks again (oldest first), then restack their rows."""
        for index in indexes:
            block = self.blocks[index]
            block.lines.clear()
            block.tokens = block.env = None
            self.lines_of(block, width)
        if indexes:
            self.restack(indexes[0], width)
