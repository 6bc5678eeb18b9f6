"""Streaming Markdown widget: draws a MarkdownBlocks with the Line API, at a bounded rate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter
from typing import Any

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.app import App
from textual.filter import LineFilter
from textual.geometry import Region, Size
from textual.selection import Selection
from textual.strip import Strip
from textual.types import NoActiveAppError
from textual.widget import Widget

from glmchat.tui.compat.textual_private import GrowsInPlace, SettledBySizing
from glmchat.tui.markdown.incremental import Line, MarkdownBlocks

__all__ = ["BURST_SLOWDOWN", "StreamingMarkdown", "warm_up"]

# While text arrives faster than a screenful per update, updates are this many times rarer.
BURST_SLOWDOWN = 3

_WARM_UP_SAMPLE = (
    "# Title\n\nSome **bold**, *em*, `code` and a [link](https://example.com).\n\n"
    "- one\n- two\n\n1. first\n\n> quoted\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n---\n\n"
    "```python\ndef f(x: int) -> int:\n    return x + 1\n```\n"
)


def warm_up() -> None:
    """Do the one-time work of the first render now: render a sample with a Python fence (a
    pygments lexer compiles its regular expressions when first built, about 15 ms for Python;
    rich's Markdown and Syntax have first-use costs too). Meant for an idle moment at
    start-up, so the first answer does not pay for it; importing this module (the block model,
    rich's Markdown, markdown-it, pygments) is part of that work."""
    blocks = MarkdownBlocks()
    blocks.append(_WARM_UP_SAMPLE)
    blocks.finish()
    blocks.render(80)


class StreamingMarkdown(GrowsInPlace, SettledBySizing, Widget):
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
        self._timer: asyncio.TimerHandle | None = None
        self._next_update = 0.0
        self._painted = False
        self._width = 0  # the content width the last layout gave (size_settled)
        self._painted_lines: dict[int, tuple[Line, RichStyle, Strip]] = {}
        self._stale_while_hidden = False
        self._after_update: list[Callable[[], None]] = []
        self._after_update_timer: asyncio.TimerHandle | None = None  # the `wait` of that
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

    def after_next_update(self, callback: Callable[[], None], wait: float = 0.0) -> bool:
        """Run `callback` right after the next update, so that what it changes on screen is
        painted in the same frame. Without `wait`: only if an update is due (False, and not
        kept, if none is). With it: the next update, due or not, or after `wait` seconds if
        none comes by then (text arrives in reads, and between two reads no update is due:
        a status tick of its own there was a frame of its own)."""
        if self._timer is None:
            if wait <= 0 or not self.is_mounted:
                return False
            if self._after_update_timer is None:
                loop = asyncio.get_running_loop()
                self._after_update_timer = loop.call_later(wait, self._after_update_due)
        self._after_update.append(callback)
        return True

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
        # What waits for the next update (the status bar's tick) is the pane's, which is
        # going too: run now, it found the status bar already gone (found by CI, on quit).
        self._after_update.clear()
        self._stop_timer()

    def get_line_filters(self) -> list[LineFilter]:
        # Textual's own filters, not the app's control-character fence (tui/literal.py): this
        # text is cleaned as it arrives (MarkdownBlocks), and the fence would check every line
        # of a streaming answer again, each new line a new strip (4 % of a stream's CPU).
        return list(App.get_line_filters(self.app))

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

    def size_settled(self, virtual_size: Size) -> None:
        # Kept for render_line: `size` looks the widget up on its screen (a walk up the DOM).
        self._width = self.size.width

    def render_line(self, y: int) -> Strip:
        self._painted = True
        width = self._width
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
        lines = self._blocks.lines()
        text = "\n".join("".join(segment.text for segment in line).rstrip() for line in lines)
        return selection.extract(text), "\n"

    # Internals

    def _schedule(self) -> None:
        if self._timer is not None or self._stale_while_hidden or not self.is_mounted:
            # Hidden, text only accumulates: the layout that shows the widget again renders it
            # (get_content_height). Scheduling per token would run a timer per token.
            return
        delay = max(0.002, self._next_update - self._clock())
        # A bare event-loop timer that hands over to the widget's message loop: Textual's
        # set_timer starts a task and wraps the callback in a new partial, whose signature
        # Textual inspects every time: several times the cost of the update it runs.
        self._timer = asyncio.get_running_loop().call_later(delay, self._timer_due)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._run_after_update()

    def _timer_due(self) -> None:
        if self._timer is not None and self.is_mounted:
            self.call_next(self._timer_fired)

    def _timer_fired(self) -> None:
        if self._timer is None:
            return  # stopped after it was due
        self._timer = None
        self._update()
        self._run_after_update()

    def _run_after_update(self) -> None:
        if self._after_update_timer is not None:
            self._after_update_timer.cancel()
            self._after_update_timer = None
        callbacks, self._after_update = self._after_update, []
        for callback in callbacks:
            callback()

    def _after_update_due(self) -> None:
        self._after_update_timer = None
        if self.is_mounted:
            self.call_next(self._run_after_update)

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
            if not self._is_displayed() or self.size.width <= 0:
                # Hidden (a collapsed panel, a background tab), or shown but not laid out
                # again yet: render nothing now. One layout request makes the layout after it
                # is shown ask for our height (not the height Textual kept from before), and
                # get_content_height catches up then.
                if not self._stale_while_hidden:
                    self._stale_while_hidden = True
                    self.refresh(layout=True)
                return
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
            # The rows above `changed_from` are kept (GrowsInPlace); the layout moves them, and
            # maps only what is in view (HeightStepLayouts).
            rows = max(1, height - changed_from, lines - changed_from)
            self.refresh_height_step(Region(0, changed_from, width, rows))
        else:
            self.refresh(Region(0, changed_from, width, max(1, lines - changed_from)))
