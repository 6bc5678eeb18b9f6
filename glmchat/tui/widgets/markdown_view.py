"""Streaming Markdown view: finished blocks are rendered once, only the open tail is re-rendered."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from time import perf_counter
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore, inline, text_join
from markdown_it.token import Token
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Markdown, UnknownElement
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.syntax import Syntax
from textual.geometry import Region, Size
from textual.selection import Selection
from textual.strip import Strip
from textual.timer import Timer
from textual.types import NoActiveAppError
from textual.widget import Widget

from glmchat.tui.compat.textual_private import SettledBySizing

__all__ = ["MarkdownBlocks", "StreamingMarkdown", "sanitize", "warm_up"]

# The same parser rich.markdown.Markdown builds for itself, shared because building one is not free.
_PARSER = MarkdownIt().enable("strikethrough").enable("table")
# The same without inline parsing, to find the blocks of a text: less than half the cost, and
# the inline parsing is done (see `_parse_inline`) only for the blocks rendered.
_BLOCK_PARSER = (
    MarkdownIt().enable("strikethrough").enable("table").disable(["inline", "text_join"])
)

# C0 controls except tab and newline (CR is folded into newlines first), DEL and C1 controls
# (U+009B is a one-character CSI on some terminals) become their visible `\xNN` spelling, so an
# escape sequence shows up as text and can never style or move anything on the screen.
_CONTROL_CODES = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_CONTROL_MAP = {code: f"\\x{code:02x}" for code in _CONTROL_CODES if code not in (0x09, 0x0A)}

# While text arrives faster than a screenful per update, updates are this many times rarer.
BURST_SLOWDOWN = 3

# A rendered line: rich segments. Strips (about 1 KB each, with their caches) are made only for
# the lines Textual asks to paint.
Line = list[Segment]

# How many widths each finished block keeps rendered lines for (a resize and back is free).
_WIDTHS_KEPT = 2


class _Unrendered(list):  # type: ignore[type-arg]
    """The rows of a finished block not rendered yet (blank; `index` is its place in the text).

    One object stands for every row of its block, as many rows as the block is estimated to
    take; asking for one of them renders the block (see `MarkdownBlocks.segments`)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index


def sanitize(text: str) -> str:
    r"""Make untrusted text safe to render: CRLF and CR become LF; other controls become `\xNN`."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL_MAP)


class _Sanitizer:
    """`sanitize` for a text that arrives in pieces: a CRLF may be split between two pieces."""

    def __init__(self) -> None:
        self._after_cr = False

    def feed(self, text: str) -> str:
        if not text:
            return ""
        if self._after_cr and text[0] == "\n":
            text = text[1:]  # the CR before it already produced the newline
        self._after_cr = text.endswith("\r")
        return sanitize(text)


@dataclass(eq=False, slots=True)
class _Block:
    """One top-level Markdown block (paragraph, list, fence, table...)."""

    source: str
    # rich's `new_line` flag as this block starts (set by the block before it) and as it ends.
    new_line_before: bool
    new_line_after: bool
    # Kept only until the first render: re-parsing one block on resize is cheaper than holding
    # every token of a long history in memory.
    tokens: list[Token] | None
    # Which link reference definitions the tokens were parsed with (see `_refs_key`).
    refs_key: int
    # The parse environment (link references) the tokens' inline parts are still to be parsed
    # with; None once they are (or when `tokens` is None).
    env: dict[str, Any] | None = None
    lines: dict[int, list[Line]] = field(default_factory=dict)
    placeholder: _Unrendered | None = None


def _parse_inline(tokens: list[Token], env: dict[str, Any]) -> None:
    """The inline part of a parse by `_BLOCK_PARSER`: afterwards the tokens are `_PARSER`'s."""
    state = StateCore("", _PARSER, env, tokens)
    inline(state)
    text_join(state)


def _estimated_rows(block: _Block, width: int) -> int:
    """About how many rows a block takes at `width` (its lines, wrapped, and the gap before)."""
    rows = 1 if block.new_line_before else 0
    for line in block.source.rstrip("\n").split("\n"):
        rows += max(1, -(-len(line) // width))
    return rows


@lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer:
    # rich's Syntax looks a lexer up by name (and builds a new one) on every render; a 30 Hz
    # re-render of an open code block spent a fifth of its time there. Same options as rich
    # (Syntax's default tab size is 4).
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=True, tabsize=4)
    except ClassNotFound:
        return get_lexer_by_name("text", stripnl=False, ensurenl=True, tabsize=4)


_WARM_UP_SAMPLE = (
    "# Title\n\nSome **bold**, *em*, `code` and a [link](https://example.com).\n\n"
    "- one\n- two\n\n1. first\n\n> quoted\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n---\n\n"
    "```python\ndef f(x: int) -> int:\n    return x + 1\n```\n"
)


def warm_up() -> None:
    """Do the one-time work of the first render now: render a sample with a Python fence (a
    pygments lexer compiles its regular expressions when first built, about 15 ms for Python;
    rich's Markdown and Syntax have first-use costs too). Meant for an idle moment at
    start-up, so the first answer does not pay for it."""
    blocks = MarkdownBlocks()
    blocks.append(_WARM_UP_SAMPLE)
    blocks.finish()
    blocks.render(80)


class _CodeBlock(CodeBlock):
    """rich's code block, with a cached lexer."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip()
        yield Syntax(code, _lexer(self.lexer_name), theme=self.theme, word_wrap=True, padding=1)


class _BlockMarkdown(Markdown):
    """rich's Markdown renderable, fed with tokens parsed elsewhere."""

    elements = {**Markdown.elements, "fence": _CodeBlock, "code_block": _CodeBlock}


def _top_level_groups(tokens: list[Token]) -> list[list[Token]]:
    """Split a token stream into its top-level blocks."""
    groups: list[list[Token]] = []
    start = 0
    for index, token in enumerate(tokens):
        if token.level == 0 and token.nesting != 1:
            groups.append(tokens[start : index + 1])
            start = index + 1
    return groups


def _refs_key(references: dict[str, Any]) -> int:
    """Fingerprint of a set of link reference definitions."""
    if not references:
        return 0
    return hash(tuple(sorted((k, v["href"], v["title"]) for k, v in references.items())))


def _line_offsets(text: str) -> list[int]:
    """Character offset of the start of every line (plus one past the last newline)."""
    offsets = [0]
    find = text.find
    position = find("\n")
    while position != -1:
        offsets.append(position + 1)
        position = find("\n", position + 1)
    return offsets


def _new_line_after(group: list[Token]) -> bool:
    # After a block, rich's flag is that of the block's own element (False only for a rule).
    element = Markdown.elements.get(group[0].type) or UnknownElement
    return element.new_line


# rich decides the blank line before a block from a `new_line` flag left by the last element it
# closed, which may be the previous block or an element nested inside this one (so a quote, list or
# table brings its own blank line, even first in the document, and a rule suppresses the next
# one). Rendering a block alone starts with the flag off; this invisible top-level token (an HTML
# block, which rich renders as nothing) turns it on, so each block is rendered exactly as it is
# inside the whole document.
_FLAG_ON = Token("html_block", "", 0, content="", block=True)


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
        self._template = _BlockMarkdown("", code_theme=code_theme)
        self.reset()

    def reset(self) -> None:
        """Forget all text."""
        self._raw: list[str] = []
        self._sanitizer = _Sanitizer()
        self._incoming: list[str] = []
        self._tail = ""  # sanitized source of the open blocks, parsed again on every render
        self._needs_parse = False
        self._finished = False
        self._check_references = False
        self._frozen: list[_Block] = []
        # The first row of each finished block, and the finished blocks' rows in one list.
        self._starts: list[int] = []
        self._frozen_rows: list[Line] = []
        # Indexes of finished blocks not rendered at the current width, oldest first (some may
        # have been rendered since, when a line of theirs was asked for).
        self._waiting: list[int] = []
        self._open: list[_Block] = []
        self._refs: dict[str, Any] = {}
        self._width: int | None = None
        self._open_rows: list[Line] = []
        self._open_cache: dict[tuple[str, int, int, bool], list[Line]] = {}
        self._changed_from = 0

    @property
    def text(self) -> str:
        """Everything appended so far, as given (before sanitizing)."""
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
        return len(self._frozen_rows) + len(self._open_rows)

    @property
    def frozen_block_count(self) -> int:
        return len(self._frozen)

    @property
    def frozen_blocks(self) -> tuple[str, ...]:
        """Sources of the finished blocks."""
        return tuple(block.source for block in self._frozen)

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
        self._prune_waiting()
        return bool(self._waiting)

    def append(self, text: str) -> None:
        """Add text at the end; costs O(len(text)), the work is done by the next `render`."""
        if not text:
            return
        if self._finished:
            self._reopen()
        self._raw.append(text)
        clean = self._sanitizer.feed(text)
        if clean:
            self._incoming.append(clean)
            self._needs_parse = True

    def finish(self) -> None:
        """Declare the text complete: the next `render` finishes every block."""
        if not self._finished:
            self._finished = True
            self._needs_parse = True

    def segments(self, y: int) -> Line:
        """The segments of line `y` at the last rendered width (none past the end).

        A line of a block still waiting is rendered now; if that changes the line count,
        `reflowed` is set (the lines after it moved)."""
        frozen = self._frozen_rows
        if y < len(frozen):
            row = frozen[y]
            while type(row) is _Unrendered:
                self._render_waiting(row.index)
                self.reflowed = True
                row = frozen[y] if y < len(frozen) else self.segments(y)
            return row
        try:
            return self._open_rows[y - len(frozen)]
        except IndexError:
            return []

    def line(self, y: int) -> Strip:
        """Line `y` at the last rendered width (blank past the end)."""
        return Strip(self.segments(y))

    def lines(self) -> list[Strip]:
        """All lines at the last rendered width (renders every waiting block first)."""
        if self._width is not None:
            self._fill(self._width, None, None)
        return [Strip(line) for line in (*self._frozen_rows, *self._open_rows)]

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
        if width == self._width and not self._needs_parse and not self._waiting:
            return self.line_count
        deadline = None if budget is None else self.clock() + budget
        old_frozen = len(self._frozen_rows)
        old_open = self._open_rows
        self._changed_from = old_frozen
        resized = width != self._width
        if resized:
            self._width = width
            self._relayout(width)
        if self._needs_parse:
            self._parse(width)
        self._render_open(width)
        self._fill(width, deadline, exact_rows)
        if self._check_references:
            self._apply_late_references(width)
        if resized:
            return 0
        if self._changed_from < old_frozen:
            return self._changed_from
        new_lines = [*self._frozen_rows[old_frozen:], *self._open_rows]
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

    def _render(self, block: _Block, tokens: list[Token], width: int) -> list[Line]:
        self.renders += 1
        if self.on_render is not None:
            self.on_render(block.source)
        # A copy of a prepared Markdown with our tokens swapped in: Markdown() would re-parse.
        markdown = copy.copy(self._template)
        markdown.markup = block.source
        markdown.parsed = [_FLAG_ON, *tokens] if block.new_line_before else tokens
        console = self.console
        options = console.options.update_width(width).update(height=None)
        segments = console.render(markdown, options)
        return list(
            Segment.split_and_crop_lines(segments, width, include_new_lines=False, pad=False)
        )

    def _parse_block(self, block: _Block) -> list[Token]:
        if block.tokens is not None:
            if block.env is not None:
                _parse_inline(block.tokens, block.env)
                block.env = None
            return block.tokens
        block.refs_key = _refs_key(self._refs)
        return _PARSER.parse(block.source, {"references": dict(self._refs)})

    def _frozen_lines(self, block: _Block, width: int) -> list[Line]:
        lines = block.lines.get(width)
        if lines is None:
            lines = self._open_cache.get(self._open_key(block, width))
            if lines is None:
                lines = self._render(block, self._parse_block(block), width)
            self._keep(block, width, lines)
        return lines

    @staticmethod
    def _keep(block: _Block, width: int, lines: list[Line]) -> None:
        block.tokens = None
        block.env = None
        if len(block.lines) >= _WIDTHS_KEPT:
            del block.lines[next(iter(block.lines))]
        block.lines[width] = lines

    def _rows_of(self, index: int, width: int) -> list[Line]:
        """A finished block's rows: rendered, or placeholders (the block is then waiting)."""
        block = self._frozen[index]
        lines = block.lines.get(width)
        if lines is None:
            # Just finished: the open blocks' last render is usually its final one.
            lines = self._open_cache.get(self._open_key(block, width))
            if lines is not None:
                self._keep(block, width, lines)
                return lines
            if block.placeholder is None:
                block.placeholder = _Unrendered(index)
            return [block.placeholder] * _estimated_rows(block, width)
        return lines

    def _add_frozen(self, block: _Block, width: int) -> None:
        index = len(self._frozen)
        self._frozen.append(block)
        self._starts.append(len(self._frozen_rows))
        rows = self._rows_of(index, width)
        if rows and type(rows[0]) is _Unrendered:
            self._waiting.append(index)
        self._frozen_rows.extend(rows)

    def _relayout(self, width: int) -> None:
        """Rows for a new width: cached lines where there are some, placeholders elsewhere."""
        self._starts = []
        self._frozen_rows = []
        self._waiting = []
        blocks, self._frozen = self._frozen, []
        for block in blocks:
            self._add_frozen(block, width)
        self._open_rows = []
        self._changed_from = 0

    def _restack(self, first: int, width: int) -> None:
        """Rebuild the rows from finished block `first` on (after some were rendered)."""
        start = self._starts[first]
        rows = self._frozen_rows
        del rows[start:]
        starts = self._starts
        del starts[first:]
        for index in range(first, len(self._frozen)):
            starts.append(len(rows))
            rows.extend(self._rows_of(index, width))
        self._changed_from = min(self._changed_from, start)

    def _prune_waiting(self) -> None:
        waiting, frozen, width = self._waiting, self._frozen, self._width
        while waiting and width in frozen[waiting[-1]].lines:
            waiting.pop()

    def _fill(self, width: int, deadline: float | None, exact_rows: int | None) -> None:
        """Render waiting blocks, newest first (see `render`)."""
        waiting, frozen = self._waiting, self._frozen
        below = len(self._open_rows)  # rows after the block at `cursor`
        cursor = len(frozen)
        first = None
        while waiting:
            index = waiting[-1]
            for later in range(index + 1, cursor):
                lines = frozen[later].lines.get(width)
                below += len(lines) if lines is not None else 0
            block = frozen[index]
            if width not in block.lines:
                if deadline is not None and self.clock() > deadline:
                    if exact_rows is None or below >= exact_rows:
                        break  # out of time, and not among the last `exact_rows` rows
                self._frozen_lines(block, width)
                first = index
            below += len(block.lines[width])
            cursor = index
            waiting.pop()
        if first is not None:
            self._restack(first, width)

    def _render_waiting(self, index: int) -> None:
        width = self._width
        assert width is not None
        self._frozen_lines(self._frozen[index], width)
        self._restack(index, width)

    def _open_key(self, block: _Block, width: int) -> tuple[str, int, int, bool]:
        # Later link definitions can change a block with the same source.
        return (block.source, width, block.refs_key, block.new_line_before)

    def _parse(self, width: int) -> None:
        """Parse the open tail; add the blocks that can no longer change to the finished ones."""
        self._needs_parse = False
        if self._incoming:
            # Joining is O(tail) per render, and renders are rate limited by the caller.
            self._tail += "".join(self._incoming)
            self._incoming.clear()
        tail = self._tail
        env: dict[str, Any] = {"references": dict(self._refs)}
        groups = _top_level_groups(_BLOCK_PARSER.parse(tail, env)) if tail else []
        offsets = _line_offsets(tail)

        def offset(line: int) -> int:
            return offsets[line] if line < len(offsets) else len(tail)

        blocks: list[_Block] = []
        previous = self._frozen[-1] if self._frozen else None
        new_line = previous.new_line_after if previous is not None else False
        refs_key = _refs_key(env["references"])
        for group in groups:
            start, end = group[0].map  # type: ignore[misc]
            after = _new_line_after(group)
            source = tail[offset(start) : offset(end)]
            blocks.append(_Block(source, new_line, after, group, refs_key, env))
            new_line = after

        if self._finished:
            keep = len(blocks)
            self._check_references = True
        else:
            # Block i is finished once block i+1 has a complete first line: before that, the next
            # characters can still turn block i into something else (a setext heading, a table,
            # a list that continues after a blank line).
            complete_lines = len(offsets) - 1
            keep = 0
            for index in range(len(groups) - 1, 0, -1):
                if groups[index][0].map[0] < complete_lines:  # type: ignore[index]
                    keep = index
                    break
        for block in blocks[:keep]:
            self._add_frozen(block, width)
        if keep:
            boundary = groups[keep][0].map[0] if keep < len(groups) else len(offsets)  # type: ignore[index]
            for label, ref in env["references"].items():
                if label not in self._refs and ref["map"][1] <= boundary:
                    self._refs[label] = ref
            self._tail = tail[offset(boundary) :] if keep < len(groups) else ""
        self._open = blocks[keep:]

    def _render_open(self, width: int) -> None:
        started = self.clock()
        rows: list[Line] = []
        cache: dict[tuple[str, int, int, bool], list[Line]] = {}
        for block in self._open:
            key = self._open_key(block, width)
            lines = self._open_cache.get(key)
            if lines is None:
                lines = self._render(block, self._parse_block(block), width)
            cache[key] = lines
            rows.extend(lines)
        # Only the blocks still open are worth remembering.
        self._open_cache = cache
        self._open_rows = rows
        self.open_cost = self.clock() - started

    def _apply_late_references(self, width: int) -> None:
        # A link definition may come after a block that uses it was finished; rich resolves it
        # against the whole text, so re-render those blocks once the text is complete.
        self._check_references = False
        final = _refs_key(self._refs)
        stale = [i for i, b in enumerate(self._frozen) if b.refs_key != final and "[" in b.source]
        for index in stale:
            block = self._frozen[index]
            block.lines.clear()
            block.tokens = block.env = None
            self._frozen_lines(block, width)
        if stale:
            self._restack(stale[0], width)


class StreamingMarkdown(SettledBySizing, Widget):
    """Markdown that can grow token by token, drawn with the Line API.

    `append` only buffers; a timer renders at most `refresh_rate` times a second (slower when
    rendering the open block gets expensive) and repaints only what changed. Nothing is rendered
    while the widget is hidden, and a finished widget holds cached lines and no timer.

    Text is shown literally: Rich/Textual markup is never interpreted, and terminal control
    characters (ESC, C1 controls, other C0 controls except tab and newline) are shown as their
    `\\xNN` spelling.
    """

    render_budget: float = 0.025
    """Seconds of rendering per update before the rest waits for the next one (keeps the app
    responsive when a lot of text arrives at once)."""

    DEFAULT_CSS = """
    StreamingMarkdown {
        width: 1fr;
        height: auto;
    }
    """

    def __init__(
        self,
        text: str = "",
        *,
        refresh_rate: float = 30.0,
        code_theme: str = "monokai",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        clock: Callable[[], float] = perf_counter,
    ) -> None:
        """Create the view; a non-empty `text` is shown as a finished message. `clock` paces
        the updates and times the rendering (a test passes one it moves by hand)."""
        super().__init__(name=name, id=id, classes=classes)
        if refresh_rate <= 0:
            raise ValueError(f"refresh_rate must be positive, not {refresh_rate!r}")
        self.refresh_rate = refresh_rate
        self.height_step = 1
        """While streaming, the height grows in steps of this many lines (blank until filled).

        Every change of height makes Textual lay out and repaint the whole screen, and the
        chat log scroll; growing in steps turns most new lines into a repaint of those lines
        alone. A finished widget is exactly as tall as its text."""
        self.refresh_count = 0
        """How many times the widget asked Textual to repaint (tests, benchmarks)."""
        self._clock = clock
        self._blocks = MarkdownBlocks(code_theme=code_theme, clock=clock)
        self._timer: Timer | None = None
        self._next_update = 0.0
        self._painted = False
        self._painted_lines: dict[int, tuple[Line, RichStyle, Strip]] = {}
        self._stale_while_hidden = False
        if text:
            self._blocks.append(text)
            self._blocks.finish()

    @property
    def text(self) -> str:
        """The Markdown source shown, as appended."""
        return self._blocks.text

    @property
    def blocks(self) -> MarkdownBlocks:
        """The renderer behind the widget."""
        return self._blocks

    @property
    def next_update_at(self) -> float:
        """The clock time before which newly appended text waits (the pace of updates)."""
        return self._next_update

    def append(self, text: str) -> None:
        """Add text at the end; the screen catches up on the next timer tick."""
        if not text:
            return
        self._blocks.append(text)
        self._schedule()

    def finish(self) -> None:
        """Show everything now, finish the last block and stop the timer."""
        self._blocks.finish()
        self._stop_timer()
        self._painted_lines.clear()
        self._update(streamed=True)

    def set_text(self, text: str) -> None:
        """Replace the text with a finished message."""
        self._stop_timer()
        self._painted_lines.clear()
        self._blocks.reset()
        self._blocks.append(text)
        self._blocks.finish()
        self._update()

    def on_mount(self) -> None:
        if self._blocks.dirty:
            self.refresh(layout=True)

    def on_unmount(self) -> None:
        self._stop_timer()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width <= 0:
            return 0  # not laid out yet: rendering at width 1 would be wasted
        # New text is rendered by the timer, at the widget's own rate. Rendering it here too
        # would let layouts pace the widget: each catch-up changes the height, which asks for
        # another layout, which catches up again, so the refresh rate would stop limiting.
        blocks = self._blocks
        if width != blocks.width or self._stale_while_hidden:
            self._update(width, in_layout=True)
        elif (blocks.dirty or blocks.waiting) and self._timer is None:
            self._schedule()
        return self._height(blocks.line_count)

    def _height(self, lines: int) -> int:
        step = self.height_step
        if step <= 1 or self._blocks.finished:
            return lines
        return -(-lines // step) * step

    def render_line(self, y: int) -> Strip:
        self._painted = True
        width = self.size.width
        if width != self._blocks.width and width > 0:
            self._update(width, in_layout=True)
        blocks = self._blocks
        row = blocks.segments(y)
        if blocks.reflowed:
            # A block that was waiting (see MarkdownBlocks.render) turned out taller or shorter
            # than estimated: lay out again once this paint is over.
            blocks.reflowed = False
            self.call_later(self.refresh, layout=True)
        # visual_style is cached between style changes (rich_style walks the ancestors).
        base = self.visual_style.rich_style
        selection = self.text_selection
        if selection is None:
            cached = self._painted_lines.get(y)
            if cached is not None and cached[0] is row and cached[1] == base:
                return cached[2]
        strip = Strip(Segment.apply_style(row, base))
        if selection is not None and (span := selection.get_span(y)) is not None:
            strip = self._highlight(strip, *span)
        strip = strip.apply_offsets(0, y)  # lets the screen map the mouse to text for selection
        if selection is None and not self._blocks.finished:
            # While streaming, every new line moves the log and Textual asks for all visible
            # lines again; the finished ones are the same objects, so keep their strips.
            if len(self._painted_lines) > 256:
                self._painted_lines.clear()
            self._painted_lines[y] = (row, base, strip)
        return strip

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        text = "\n".join(strip.text.rstrip() for strip in self._blocks.lines())
        return selection.extract(text), "\n"

    # Internals

    def _schedule(self) -> None:
        if self._timer is not None or not self.is_mounted:
            return
        # Textual 8.2.8's one-shot timer never fires for a delay of 0 (it divides by the delay,
        # and skips the tick when it starts late), hence the small floor.
        delay = max(0.002, self._next_update - self._clock())
        self._timer = self.set_timer(delay, self._timer_fired, name="markdown-refresh")

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _timer_fired(self) -> None:
        self._timer = None
        self._update()

    def _highlight(self, strip: Strip, start: int, end: int) -> Strip:
        length = strip.cell_length
        end = length if end == -1 else min(end, length)
        start = min(start, end)
        if start == end:
            return strip
        before, selected, after = strip.divide([start, end, length])
        style = self.screen.get_component_rich_style("screen--selection")
        # On top of the text's own colours (a code block has its own background).
        selected = Strip(Segment.apply_style(selected, post_style=style), selected.cell_length)
        return Strip.join([before, selected, after])

    def _is_displayed(self) -> bool:
        node: Any = self
        while isinstance(node, Widget):
            if not node.display:
                return False
            node = node.parent
        return True

    def _update(
        self, width: int | None = None, *, in_layout: bool = False, streamed: bool = False
    ) -> None:
        """Render pending text and ask Textual to repaint the lines that changed.

        `streamed`: the text just finished streaming (render it like streamed text)."""
        if width is None:
            if not self.is_mounted:
                return
            if not self._is_displayed():
                # Hidden (a collapsed panel, a background tab): render nothing now. One layout
                # request makes the layout after it is shown again ask for our height, and
                # get_content_height catches up then.
                if not self._stale_while_hidden:
                    self._stale_while_hidden = True
                    self.refresh(layout=True)
                return
            if self.size.width <= 0:
                return  # not laid out yet; the first layout calls get_content_height
            width = self.size.width
        blocks = self._blocks
        if width == blocks.width and not blocks.dirty and not blocks.waiting:
            return
        try:
            # Render with the app's console, as Textual does for rich renderables.
            blocks.console = self.app.console
        except NoActiveAppError:
            pass
        self._stale_while_hidden = False
        started = self._clock()
        old_lines = blocks.line_count
        old_height = self._height(old_lines) if not blocks.finished else -1
        # Streamed text is shown first: render only what the screen can show, the open blocks
        # and the finished ones among the last rows. The rest waits (or renders as soon as a
        # line of it is painted), so a burst costs what the screen shows; once the text is
        # complete and shown, later updates fill in the waiting blocks, a budget's worth at a
        # time. A finished message shown whole (a resumed one) is rendered within the budget.
        budget = 0.0 if streamed or not blocks.finished else self.render_budget
        exact_rows = max(24, self.app.size.height)  # no more rows than the terminal has can show
        changed_from = blocks.render(width, budget, exact_rows=exact_rows)
        lines = blocks.line_count
        height = self._height(lines)
        if blocks.finished and blocks.waiting:
            # Out of budget with finished blocks left: show what is done and go on right after
            # the screen had a chance to update.
            self._next_update = 0.0
            self._schedule()
        else:
            interval = 1.0 / self.refresh_rate
            if lines - old_lines > exact_rows:
                # More than a screenful since the last update: text is arriving faster than
                # anyone reads, and each update scrolls and repaints the whole log. Update
                # less often until the burst is over; the end is shown the moment it arrives.
                interval *= BURST_SLOWDOWN
            # Keep re-rendering a huge open block (a long fence) to a third of the time at most.
            # An update for a new width (a scrollbar came) must not cut a burst's pause short.
            self._next_update = max(
                self._next_update, started + max(interval, 3.0 * blocks.open_cost)
            )
        if not self.is_mounted or (
            changed_from >= lines and lines == old_lines and height == old_height
        ):
            return
        self.refresh_count += 1
        if in_layout:
            # The layout in progress already gets the new height; a first paint or a new width
            # repaints everything anyway. Otherwise repaint after the layout (refreshing inside
            # it would rebuild the compositor's map once per widget).
            if self._painted:
                self.call_later(self.refresh)
        elif height != old_height:
            self.refresh(layout=True)  # Textual repaints a widget whose size changed anyway
        else:
            self.refresh(Region(0, changed_from, width, max(1, lines - changed_from)))
