"""Tripwires for glmchat/tui/compat: each test checks one thing a shim relies on in Textual, rich
or markdown-it, and fails loudly (saying which reliance broke) when an upgrade changes it.

After an upgrade that trips one of these, fix the shim in glmchat/tui/compat (nothing else in
glmchat touches those internals), then update the pin in pyproject.toml.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import inspect
import io
import json
import json.scanner
import pathlib
import pkgutil
import re
import textwrap
from typing import Any

import pytest
from markdown_it.rules_core import StateCore
from rich.console import Console
from rich.markdown import CodeBlock, HorizontalRule, Markdown, MarkdownElement, TextElement
from rich.segment import Segment
from rich.syntax import Syntax
from textual.app import App, ComposeResult
from textual.geometry import Region, Size
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

import glmchat
from glmchat.backend import compat_json
from glmchat.tui.compat import rich_markdown
from glmchat.tui.compat.rich_markdown import (
    BLOCK_PARSER,
    PARSER,
    TokenRenderer,
    new_env,
    new_line_after,
    parse_inline,
    references,
    references_ending_by,
)
from glmchat.tui.compat.textual_private import (
    GrowsInPlace,
    HeightStepLayouts,
    SettledBySizing,
    paint_dirty_rows_only,
    relabelled_in_place,
    screen_rows,
)
from glmchat.tui.markdown.blocks import split_blocks

# Every kind of block rich renders, and the inline markup it styles.
SAMPLE = (
    "# Title\n\nSome **bold**, *em*, ~~strike~~, `code` and a [link][ref].\n\n"
    "Setext\n------\n\n- one\n- two\n\n  loose\n\n1. first\n   1. nested\n\n"
    "> quoted\n> > deeper\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n***\n"
    "after the rule\n\n```python\nif x:\n\treturn 1\n```\n\n```nosuchlang\na\tb\n```\n\n"
    "    indented code\n\n<div>html</div>\n\n![img](a.png)\n\n[ref]: https://example.com 'T'\n"
)
WIDTH = 50


def console() -> Console:
    return Console(
        width=80,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        markup=False,
        emoji=False,
    )


def rich_lines(renderable: object, width: int = WIDTH) -> list[list[Segment]]:
    out = console()
    lines = out.render_lines(renderable, out.options.update_width(width), pad=True)  # type: ignore[arg-type]
    return [list(Segment.simplify(line)) for line in lines]


# --- rich and markdown-it (glmchat/tui/compat/rich_markdown.py) ------------------------------


def test_rich_markdown_parses_with_the_same_parser_as_ours() -> None:
    source = inspect.getsource(Markdown.__init__)
    assert 'MarkdownIt().enable("strikethrough").enable("table")' in source, (
        "rich.markdown.Markdown builds its parser differently: make PARSER the same"
    )
    assert Markdown(SAMPLE).parsed == PARSER.parse(SAMPLE)


def test_rich_markdown_renders_from_its_parsed_attribute_alone() -> None:
    """TokenRenderer swaps its tokens into a copy of a Markdown made for other text."""
    template = Markdown("# Something else entirely\n")
    markdown = copy.copy(template)
    markdown.markup = SAMPLE
    markdown.parsed = PARSER.parse(SAMPLE)
    assert rich_lines(markdown) == rich_lines(Markdown(SAMPLE)), (
        "rich's Markdown no longer renders from `parsed`"
    )


def test_rich_markdown_elements_table_and_new_line_flags() -> None:
    elements = Markdown.elements
    assert isinstance(elements, dict), "Markdown.elements is no longer a dict of element classes"
    assert elements["fence"] is CodeBlock and elements["code_block"] is CodeBlock
    for name, element in elements.items():
        assert issubclass(element, MarkdownElement), name
        assert isinstance(element.new_line, bool), f"{name}: no boolean `new_line`"
    assert HorizontalRule.new_line is False, "a rule no longer suppresses the next blank line"
    paragraph = PARSER.parse("text\n")[0]
    rule = PARSER.parse("***\n")[0]
    html = PARSER.parse("<div>x</div>\n")[0]
    assert (new_line_after(paragraph), new_line_after(rule), new_line_after(html)) == (
        True,
        False,
        True,
    )


def test_an_empty_html_block_renders_nothing_but_asks_for_a_blank_line() -> None:
    renderer = TokenRenderer()
    tokens = PARSER.parse("A paragraph.\n")
    plain = renderer.render(console(), "A paragraph.\n", tokens, WIDTH, new_line_before=False)
    flagged = renderer.render(console(), "A paragraph.\n", tokens, WIDTH, new_line_before=True)
    assert "".join(s.text for s in plain[0]).strip() == "A paragraph."
    assert flagged[1:] == plain, "the flag token changed more than the blank line before"
    assert "".join(s.text for s in flagged[0]).strip() == "", "no blank line before the block"


def test_code_block_keeps_what_our_cached_lexer_version_reads() -> None:
    token = PARSER.parse("```python\nx = 1\n```\n")[0]
    block = CodeBlock.create(Markdown("", code_theme="github-dark"), token)
    assert (block.lexer_name, block.theme) == ("python", "github-dark")
    assert issubclass(CodeBlock, TextElement), "CodeBlock no longer collects its text in `text`"
    # rich builds its lexer with these options; our cached one must be built the same way.
    lexer_source = inspect.getsource(Syntax.lexer.fget)  # type: ignore[attr-defined]
    for option in ("stripnl=False", "ensurenl=True", "tabsize=self.tab_size"):
        assert option in lexer_source, f"rich's Syntax no longer builds lexers with {option}"
    assert inspect.signature(Syntax).parameters["tab_size"].default == 4


def test_block_by_block_render_equals_riches_whole_render() -> None:
    """The whole chain: blocks found with BLOCK_PARSER, inline parsed later, rendered one at a
    time with rich's blank-line flag carried over, cached lexers: the lines rich renders."""
    split = split_blocks(SAMPLE, {}, new_line=False, complete=True)
    renderer = TokenRenderer()
    lines: list[list[Segment]] = []
    for block in split.finished:
        assert block.tokens is not None and block.env is not None
        parse_inline(block.tokens, block.env)
        lines += renderer.render(
            console(), block.source, block.tokens, WIDTH, new_line_before=block.new_line_before
        )
    ours = [list(Segment.simplify(Segment.adjust_line_length(line, WIDTH))) for line in lines]
    reference = rich_lines(Markdown(SAMPLE))
    assert [s.text for line in ours for s in line] == [s.text for line in reference for s in line]
    assert ours == reference


def test_markdown_it_core_rules_after_the_block_rules_are_inline_and_text_join() -> None:
    assert PARSER.get_active_rules()["core"] == [
        "normalize",
        "block",
        "inline",
        "text_join",
        "line_breaks_kept",
    ], "markdown-it's core rules changed: parse_inline runs `inline` and `text_join` only"
    assert BLOCK_PARSER.get_active_rules()["core"] == ["normalize", "block"]
    assert list(inspect.signature(StateCore).parameters) == ["src", "md", "env", "tokens"]
    env = new_env({})
    tokens = BLOCK_PARSER.parse(SAMPLE, env)
    parse_inline(tokens, env)
    assert tokens == PARSER.parse(SAMPLE)


def test_markdown_it_keeps_link_references_in_env_with_their_lines() -> None:
    env = new_env({})
    BLOCK_PARSER.parse("para\n\n[Label]: https://example.com 'Title'\n\nmore\n", env)
    found = references(env)
    assert set(found) == {"LABEL"}, "env['references'] no longer holds definitions by label"
    assert (found["LABEL"]["href"], found["LABEL"]["title"]) == ("https://example.com", "Title")
    assert found["LABEL"]["map"] == [2, 3], "a definition no longer records its source lines"
    assert references_ending_by(env, 3) == found and references_ending_by(env, 2) == {}
    # A definition known from earlier text resolves a link in a later parse.
    later = new_env(found)
    tokens = BLOCK_PARSER.parse("see [label]\n", later)
    parse_inline(tokens, later)
    link = next(t for t in tokens[1].children or [] if t.type == "link_open")
    assert link.attrs["href"] == "https://example.com"


def test_the_lexer_cache_renders_code_as_rich_does() -> None:
    for fence in ("```python\nif x:\n\treturn 1\n\n\n```\n", "```nosuchlang\na\tb\n```\n"):
        tokens = PARSER.parse(fence)
        ours = TokenRenderer().render(console(), fence, tokens, WIDTH, new_line_before=False)
        ours = [list(Segment.simplify(Segment.adjust_line_length(x, WIDTH))) for x in ours]
        assert ours == rich_lines(Markdown(fence)), fence
    assert rich_markdown._lexer("python") is rich_markdown._lexer("python")


# --- Textual (glmchat/tui/compat/textual_private.py) -----------------------------------------


def test_screen_sizes_widgets_through_size_updated() -> None:
    from glmchat.tui.compat import textual_private

    # Textual's own, whether or not a screen of the app's has settled sizes in this process.
    parameters = inspect.signature(textual_private._textual_size_updated).parameters
    assert list(parameters) == ["self", "size", "virtual_size", "container_size", "layout"], (
        "Widget._size_updated changed its signature: SettledBySizing overrides it"
    )
    assert parameters["layout"].default is True
    assert "._size_updated(" in inspect.getsource(Screen), (
        "the screen no longer sizes widgets through Widget._size_updated"
    )


class Watched(Widget):
    def __init__(self) -> None:
        super().__init__()
        self.watched: list[Size] = []
        self.settled: list[Size] = []

    def watch_virtual_size(self, size: Size) -> None:
        self.watched.append(size)


class Settled(SettledBySizing, Watched):
    def size_settled(self, virtual_size: Size) -> None:
        self.settled.append(virtual_size)


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Watched()
        yield Settled()


async def test_size_updated_without_layout_skips_the_virtual_size_watcher() -> None:
    """What SettledBySizing relies on: `layout=True` runs the `virtual_size` watchers (each
    asks for another layout); `layout=False` sets the size without them."""
    app = Host()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        plain = app.query_one(Watched)
        size, container = plain.size, plain.container_size
        plain.watched.clear()
        plain._size_updated(size, Size(40, 50), container, layout=True)
        assert plain.watched == [Size(40, 50)], "layout=True no longer runs the watcher"
        plain._size_updated(size, Size(40, 60), container, layout=False)
        assert plain.virtual_size == Size(40, 60)
        assert plain.watched == [Size(40, 50)], "layout=False now runs the watcher"

        settled = app.query_one(Settled)
        settled.watched.clear()
        settled.settled.clear()
        settled._size_updated(size, Size(40, 70), container)  # as the screen calls it
        assert settled.virtual_size == Size(40, 70)
        assert settled.watched == [] and settled.settled == [Size(40, 70)]


async def _rendered(pilot: Pilot[None], view: Widget) -> None:
    """Wait until a StreamingMarkdown has rendered what it holds (a condition, not a delay)."""
    for _ in range(2000):
        if not view.blocks.dirty:  # type: ignore[attr-defined]
            await pilot.pause()
            return
        await pilot.pause(0.002)
    raise AssertionError("the view never rendered its text")


async def test_a_height_change_costs_one_layout_of_the_screen_not_two() -> None:
    """Textual follows every layout that resizes a widget with a second one (its virtual size
    is a reactive that asks for layout); the log, the answer and its message skip that."""
    from glmchat.tui.widgets.message_log import MessageLog
    from glmchat.tui.widgets.messages import AssistantMessage

    class Chat(App[None]):
        def compose(self) -> ComposeResult:
            with MessageLog():
                yield AssistantMessage(streaming=True, refresh_rate=1000)

    app = Chat()
    async with app.run_test(size=(80, 20)) as pilot:
        app.query_one(MessageLog).follow()
        message = app.query_one(AssistantMessage)
        await pilot.pause()
        screen = app.screen
        real = screen._refresh_layout
        layouts = 0

        def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal layouts
            layouts += 1
            return real(*args, **kwargs)

        screen._refresh_layout = counting  # type: ignore[method-assign]
        answer = message.answer
        steps = 0
        for i in range(80):
            before = answer.get_content_height(answer.size, answer.size, answer.size.width)
            message.add_content(f"- item {i} of the list\n", fold_thinking=True)
            await _rendered(pilot, answer)
            after = answer.get_content_height(answer.size, answer.size, answer.size.width)
            steps += after != before
        assert steps >= 8
        # Two layouts per step without SettledBySizing (and the few of the first paint).
        assert layouts <= steps + 2


async def test_a_following_log_sticks_to_the_bottom_as_it_grows() -> None:
    """The log follows its size through `size_settled` (its `virtual_size` watcher no longer
    runs for the sizes a layout gives it)."""
    from textual.widgets import Static

    from glmchat.tui.widgets.message_log import MessageLog

    class Chat(App[None]):
        def compose(self) -> ComposeResult:
            yield MessageLog()

    app = Chat()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(MessageLog)
        log.follow()
        for n in range(30):
            await log.mount(Static(f"line {n}"))
            await pilot.pause()
        assert log.is_anchored and log.scroll_y == log.max_scroll_y > 0
        await log.query(Static).remove()
        await pilot.pause()
        assert not log.is_anchored and log.scroll_y == 0


async def test_screen_rows_reads_a_modal_over_the_screen_under_it() -> None:
    """tests/tui_helpers.py and the benchmarks read the screen through `screen_rows`: the rows
    the compositor would paint, a modal screen drawn over its background."""
    from textual.screen import ModalScreen
    from textual.widgets import Label

    class Dialog(ModalScreen[None]):
        DEFAULT_CSS = "Dialog { align: center middle; } Dialog Label { width: 12; }"

        def compose(self) -> ComposeResult:
            yield Label("in the modal")

    class Behind(App[None]):
        def compose(self) -> ComposeResult:
            yield Label("under it all")

    app = Behind()
    async with app.run_test(size=(40, 5)) as pilot:
        assert screen_rows(app)[0].startswith("under it all")
        await app.push_screen(Dialog())
        await pilot.pause()
        rows = screen_rows(app)
        assert len(rows) == 5 and all(len(row) == 40 for row in rows)
        assert rows[0].startswith("under it all"), rows  # the background shows through
        assert any("in the modal" in row for row in rows), rows


class _Nested(App[None]):
    """Containers inside containers, a scrolled log with borders and padding, a widget cut by
    the log's edge, a docked bar: what the chat screen is made of."""

    CSS = """
    #log { height: 1fr; border: round $primary; padding: 0 1; }
    .item { height: 3; border: solid $secondary; }
    #bar { dock: bottom; height: 1; background: $panel; }
    """

    def get_default_screen(self) -> Screen[None]:
        screen: Screen[None] = Screen()
        paint_dirty_rows_only(screen)
        return screen

    def compose(self) -> ComposeResult:
        from textual.containers import Vertical, VerticalScroll
        from textual.widgets import Static

        with Vertical():
            yield Static("top line", id="top")
            with VerticalScroll(id="log"):
                for i in range(30):
                    yield Static(f"item {i} " * 3, classes="item")
        yield Static("the bar", id="bar")


def _chops(compositor: Any, crop: Any, rows: set[int], cls: type) -> list[Any]:
    """What a partial update rendered through `cls`'s `_render_chops` writes: for each dirty
    row, the pieces that reach into the dirty columns (the others are never written)."""
    own = compositor.__class__
    compositor.__class__ = cls
    try:
        chops = compositor._render_chops(crop, rows.__contains__)
    finally:
        compositor.__class__ = own
    written = []
    for y in sorted(rows):
        cuts = compositor.cuts[y]
        ends = dict(zip(cuts, cuts[1:], strict=False))
        written.append(
            {
                cut: list(strip) if strip else None
                for cut, strip in chops[y].items()
                if cut < crop.right and ends[cut] > crop.x
            }
        )
    return written


async def test_painting_only_the_dirty_rows_paints_what_textual_paints() -> None:
    """ChatScreen's compositor asks widgets only for the dirty rows: the rows painted must be
    exactly those Textual's own compositor paints, for every kind of dirty area."""
    from textual._compositor import Compositor
    from textual.geometry import Region

    app = _Nested()
    async with app.run_test(size=(50, 16)) as pilot:
        log = app.query_one("#log")
        log.scroll_to(y=7, animate=False)  # the first item shown is cut by the log's edge
        await pilot.pause()
        compositor = app.screen._compositor
        assert type(compositor) is not Compositor
        for crop in (
            Region(0, 5, 50, 1),  # one row inside the log
            Region(3, 2, 10, 1),  # part of the log's top border
            Region(0, 4, 50, 6),  # a band across items
            Region(0, 0, 50, 16),  # everything
            Region(0, 15, 50, 1),  # the docked bar
            Region(20, 8, 5, 3),  # a small box in the middle
        ):
            rows = set(range(crop.y, crop.bottom))
            ours = _chops(compositor, crop, rows, type(compositor))
            theirs = _chops(compositor, crop, rows, Compositor)
            assert ours == theirs, crop


def _asked(app: App[Any]) -> list[tuple[Widget, Region]]:
    """From now on, each widget of the screen asked for lines, and the crop it was asked for."""
    asked: list[tuple[Widget, Region]] = []
    for widget in app.screen.walk_children(Widget, with_self=True):
        original = widget.render_lines

        def counting(crop: Region, widget: Widget = widget, original: Any = original) -> Any:
            asked.append((widget, crop))
            return original(crop)

        widget.render_lines = counting  # type: ignore[method-assign]
    return asked


async def test_painting_a_dirty_row_asks_each_widget_for_that_row_only() -> None:
    from textual.geometry import Region

    app = _Nested()
    async with app.run_test(size=(50, 16)) as pilot:
        await pilot.pause()
        asked = _asked(app)
        _chops(app.screen._compositor, Region(0, 5, 50, 1), {5}, type(app.screen._compositor))
        heights = [crop.height for _, crop in asked]
        assert heights and max(heights) == 1, heights  # Textual asks the screen for all 16 rows


async def test_painting_asks_only_the_widgets_that_show_in_the_dirty_area() -> None:
    """A widget wholly behind others in the dirty area (the screen, the containers behind a
    message), or beside it (the log's border beside a dirty word), is not rendered: its
    pieces would be thrown away."""
    from textual.geometry import Region

    app = _Nested()
    async with app.run_test(size=(50, 16)) as pilot:
        await pilot.pause()
        recorded = _asked(app)
        compositor = app.screen._compositor
        item = app.query(".item").first()
        inside = item.content_region  # the item's text, inside its border
        word = Region(inside.x + 1, inside.y, 6, 1)
        _chops(compositor, word, {word.y}, type(compositor))
        asked = [widget for widget, _ in recorded]
        assert asked == [item], asked  # Textual: the screen, the Vertical, the log, the item
        recorded.clear()
        # A dirty row across the whole screen: every widget with a cell in it, once.
        row = Region(0, word.y, 50, 1)
        _chops(compositor, row, {row.y}, type(compositor))
        # The log's border and padding beside the item show; the screen and the Vertical
        # are wholly behind the log.
        asked = [widget for widget, _ in recorded]
        assert asked == [item, app.query_one("#log")], asked


def _written(update: Any) -> list[tuple[int, int, int, list[Any]]]:
    """What a partial update writes: per dirty span, the segments of each piece in it."""
    out = []
    for y, x1, x2 in update.spans:
        ends = dict(zip(update.chops[y], update.chop_ends[y], strict=False))
        for x, strip in update.chops[y].items():
            if x < x2 and ends[x] > x1:
                assert strip is not None, (y, x)  # a piece written must have been painted
                out.append((y, x1, x2, list(strip)))
    return out


async def test_a_partial_update_of_two_areas_writes_what_textual_writes() -> None:
    """A word in the log and the docked bar's whole row: each row is judged by its own dirty
    columns, so the log's border beside the word is not asked for, and what is written is
    what Textual's compositor writes."""
    from textual._compositor import Compositor

    app = _Nested()
    async with app.run_test(size=(50, 16)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        item = app.query(".item").first()
        inside = item.content_region
        areas = [Region(inside.x + 1, inside.y, 6, 1), Region(0, 15, 50, 1)]
        recorded = _asked(app)
        own = compositor.__class__
        compositor._dirty_regions.update(areas)
        ours = _written(compositor.render_update())
        asked = [widget for widget, _ in recorded]
        assert sorted(map(id, asked)) == sorted(map(id, [item, app.query_one("#bar")])), asked
        compositor.__class__ = Compositor
        try:
            compositor._dirty_regions.update(areas)
            theirs = _written(compositor.render_update())
        finally:
            compositor.__class__ = own
        assert ours == theirs
        # The columns are for that update only: a later render (a modal's background, a
        # screenshot) is asked of every widget again.
        assert compositor._dirty_columns is None
        whole = compositor._render_chops(compositor.size.region, lambda y: True)
        assert all(None not in line.values() for line in whole)


class _Terminal:
    """What a terminal shows after the updates the app wrote: every cell's text and style."""

    def __init__(self, width: int, height: int) -> None:
        self.cells: list[list[tuple[str, Any]]] = [[(" ", None)] * width for _ in range(height)]
        self.frames: list[set[int]] = []  # the rows each update wrote

    def apply(self, update: Any) -> None:
        from rich.segment import ControlType

        if update is None:
            return
        console = Console(width=len(self.cells[0]), file=io.StringIO(), force_terminal=True)
        x = y = 0
        rows: set[int] = set()
        for segment in update.__rich_console__(console, console.options):
            if segment.control:
                for code in segment.control:
                    if code[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = code[1], code[2]
                continue
            if segment.text == "\n":
                continue
            for char in segment.text:
                self.cells[y][x] = (char, segment.style)
                rows.add(y)
                x += 1
        self.frames.append(rows)


def _recorded(app: Any, width: int, height: int) -> _Terminal:
    """A terminal that receives every update the app writes from now on."""
    terminal = _Terminal(width, height)
    display = app._display

    def recording(screen: Any, update: Any) -> None:
        terminal.apply(update)
        display(screen, update)

    app._display = recording
    return terminal


class _Growing(GrowsInPlace, SettledBySizing, Widget):
    DEFAULT_CSS = "_Growing { height: auto; }"

    def __init__(self) -> None:
        super().__init__()
        self.rows = ["answer row 0"]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.rows)

    def render_line(self, y: int) -> Any:
        from rich.segment import Segment
        from textual.strip import Strip

        return Strip([Segment(self.rows[y] if y < len(self.rows) else "")])

    def grow(self, count: int) -> None:
        from textual.geometry import Region

        old = len(self.rows)
        self.rows += [f"answer row {i}" for i in range(old, old + count)]
        self.refresh_height_step(Region(0, old, self.size.width, count))


class _StepScreen(HeightStepLayouts, Screen[None]):
    pass


class _Log(App[None]):
    """A chat log that follows a growing answer under finished messages, as glmchat's does."""

    def __init__(self, finished: int = 6, screen: type[Screen[None]] = Screen) -> None:
        super().__init__()
        self.finished = finished
        self.screen_type = screen

    def get_default_screen(self) -> Screen[None]:
        screen = self.screen_type()
        paint_dirty_rows_only(screen)
        return screen

    def compose(self) -> ComposeResult:
        from textual.widgets import Static

        from glmchat.tui.widgets.message_log import MessageLog

        with MessageLog():
            for i in range(self.finished):
                yield Static(f"finished message {i}\nits second line", classes="done")
            yield _Growing()
        yield Static("status bar", id="bar")


async def test_a_layout_frame_serves_the_repaints_of_what_it_paints() -> None:
    """A height step lays out, and the layout's frame paints the log (the rows moved); the
    grown widget and the log's scrollbar asked for a repaint of all of themselves while being
    resized, which Textual painted again, the scrollbar in a frame of its own. The screen
    must end exactly as Textual's own full render, in one frame per step."""
    from glmchat.tui.widgets.message_log import MessageLog

    app = _Log()
    async with app.run_test(size=(40, 12)) as pilot:
        terminal = _recorded(app, 40, 12)
        app.screen.refresh()
        await pilot.pause()
        log, growing = app.query_one(MessageLog), app.query_one(_Growing)
        log.follow()
        await pilot.pause()
        for step in range(6):
            terminal.frames.clear()
            growing.grow(4)
            for _ in range(4):
                await pilot.pause(0.02)
            assert log.is_anchored and log.scroll_y == log.max_scroll_y > 0
            shown = ["".join(char for char, _ in row) for row in terminal.cells]
            assert shown == screen_rows(app), step  # what the terminal shows is the screen
            assert len([rows for rows in terminal.frames if rows]) == 1, terminal.frames
            growing.rows[-1] += " and more"  # the next update of the answer: its last row
            growing.refresh(Region(0, len(growing.rows) - 1, 40, 1))
            terminal.frames.clear()
            await pilot.pause(0.02)
            assert terminal.frames == [{10}], terminal.frames
        # Cell by cell, styles too, against a full render from scratch.
        app.screen._compositor._dirty_regions.add(app.screen.region)
        fresh = _Terminal(40, 12)
        fresh.apply(app.screen._compositor.render_update(full=True))
        assert terminal.cells == fresh.cells


async def test_a_layout_of_height_steps_alone_maps_what_is_in_view_as_textual_would() -> None:
    """HeightStepLayouts: a layout asked for by height steps alone maps only what is in view
    (Textual's path after a scroll); the widgets in view must get the places Textual's full
    layout gives them, and the terminal must show the screen. Any other request with it lays
    out everything."""
    from textual._compositor import Compositor
    from textual.widgets import Static

    from glmchat.tui.widgets.message_log import MessageLog

    app = _Log(finished=40, screen=_StepScreen)
    async with app.run_test(size=(40, 12)) as pilot:
        terminal = _recorded(app, 40, 12)
        app.screen.refresh()
        await pilot.pause()
        log, growing = app.query_one(MessageLog), app.query_one(_Growing)
        compositor = app.screen._compositor
        log.follow()
        await pilot.pause()

        def check(step: int) -> None:
            shown = ["".join(char for char, _ in row) for row in terminal.cells]
            assert shown == screen_rows(app), step
            ours = dict(compositor.visible_widgets)
            Compositor.reflow(compositor, app.screen, compositor.size)  # Textual's own
            assert dict(compositor.visible_widgets) == ours, step

        for step in range(6):
            growing.grow(4)
            for _ in range(4):
                await pilot.pause(0.02)
            assert log.scroll_y == log.max_scroll_y > 0
            assert compositor._visible_map is not None  # mapped in view only
            assert len(compositor._visible_map) < 20  # of 40 finished messages and the rest
            assert growing.size.height == len(growing.rows)
            check(step)
        # A step together with another change: everything is laid out.
        app.query(".done").last().display = False
        growing.grow(4)
        for _ in range(4):
            await pilot.pause(0.02)
        assert compositor._visible_map is None
        check(6)
        assert len(app.query(Static)) == 41


async def test_a_whole_layout_after_one_in_view_arranges_every_widget_once() -> None:
    """After layouts of what is in view, a whole layout makes a new full map; asking where a
    widget is (each widget it resizes asks, in that very layout) must read that map, not
    arrange the whole screen again. Textual left the map marked stale: two arrangements of
    every widget per layout while an answer streamed, and a third for each later question."""
    from textual._compositor import Compositor
    from textual.widgets import Static

    app = _Log(finished=40, screen=_StepScreen)
    async with app.run_test(size=(40, 12)) as pilot:
        app.screen.refresh()
        await pilot.pause()
        growing = app.query_one(_Growing)
        compositor = app.screen._compositor
        app.query_one("MessageLog").follow()  # type: ignore[attr-defined]
        await pilot.pause()
        growing.grow(4)
        for _ in range(4):
            await pilot.pause(0.02)
        assert compositor._visible_map is not None  # the step mapped what is in view only
        whole: list[int] = []
        real = Compositor._arrange_root

        def counting(self: Compositor, root: Any, size: Any, visible_only: bool = True) -> Any:
            if not visible_only:
                whole.append(len(whole))
            return real(self, root, size, visible_only=visible_only)

        Compositor._arrange_root = counting  # type: ignore[method-assign]
        try:
            app.query(".done").last().display = False  # with the next step: a whole layout
            growing.grow(4)
            for _ in range(4):
                await pilot.pause(0.02)
            assert len(whole) == 1  # the layout's own
            shown = [widget for widget in app.query(Static) if widget.display]
            assert len(shown) == 40
            for widget in shown:
                assert widget.region == compositor.full_map[widget].region
            assert len(whole) == 1  # read from that map
        finally:
            Compositor._arrange_root = real  # type: ignore[method-assign]


async def test_a_relabelled_title_in_view_lays_out_what_is_in_view_as_textual_would() -> None:
    """A live title (the thinking panel's, a few times a second) asks for a layout at every
    label; said to be relabelled in place, that layout maps what is in view only, and gives
    the places Textual's full layout gives."""
    from textual._compositor import Compositor
    from textual.widgets import Collapsible, Static

    from glmchat.tui.widgets.message_log import MessageLog

    class Panel(_Log):
        def compose(self) -> ComposeResult:
            with MessageLog():
                for i in range(40):
                    yield Static(f"finished message {i}\nits second line", classes="done")
                yield Collapsible(Static("thinking so far"), title="Thinking… 0.0 s")

    app = Panel(screen=_StepScreen)
    async with app.run_test(size=(40, 12)) as pilot:
        log, panel = app.query_one(MessageLog), app.query_one(Collapsible)
        compositor = app.screen._compositor
        log.follow()
        await pilot.pause()
        for tick in range(1, 12):
            panel.title = f"Thinking… {tick * 0.3:.1f} s · ~{tick**3} tokens"
            relabelled_in_place(panel)
            for _ in range(3):
                await pilot.pause(0.02)
            assert compositor._visible_map is not None, tick  # mapped in view only
            assert f"~{tick**3} tokens" in "\n".join(screen_rows(app))
            ours = dict(compositor.visible_widgets)
            Compositor.reflow(compositor, app.screen, compositor.size)  # Textual's own
            assert dict(compositor.visible_widgets) == ours, tick
        panel.title = "Thought for 3.3 s"  # not said to be in place: everything is laid out
        for _ in range(3):
            await pilot.pause(0.02)
        assert compositor._visible_map is None


async def test_a_repaint_outside_what_a_frame_painted_is_kept() -> None:
    from textual.widgets import Static

    app = _Nested()
    async with app.run_test(size=(50, 16)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        top, bar = app.query_one("#top", Static), app.query_one("#bar", Static)
        top.refresh(Region(0, 0, 10, 1))
        bar.refresh(Region(0, 0, 10, 1))
        compositor._dirty_regions.add(top.region)  # a frame that paints the top line only
        compositor.render_update()
        assert not top._repaint_regions and not top._repaint_required  # served
        assert bar._repaint_regions and bar._repaint_required  # still to paint
        # A request made while the frame paints is for what it has not painted.
        render_line = top.render_line

        def asking(y: int) -> Any:
            top.refresh(Region(0, 0, 5, 1))
            return render_line(y)

        top.render_line = asking  # type: ignore[method-assign]
        top.refresh(Region(0, 0, 10, 1))
        compositor._dirty_regions.add(top.region)
        compositor.render_update()
        assert top._repaint_regions and top._repaint_required


async def test_a_widget_that_grows_in_place_keeps_its_rendered_rows() -> None:
    """Textual empties a widget's row cache on any size change; GrowsInPlace keeps the rows
    that are still there, and they are what a render from scratch gives."""
    from rich.segment import Segment
    from textual.geometry import Region
    from textual.strip import Strip

    class Rows(GrowsInPlace, Widget):
        DEFAULT_CSS = "Rows { height: auto; padding: 0 1; border-top: solid red; }"

        def __init__(self) -> None:
            super().__init__()
            self.rows = [f"row {i}" for i in range(5)]
            self.asked: list[int] = []

        def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
            return len(self.rows)

        def render_line(self, y: int) -> Strip:
            self.asked.append(y)
            return Strip([Segment(self.rows[y] if y < len(self.rows) else "")])

        def grow(self, count: int) -> None:
            old = len(self.rows)
            self.rows += [f"row {i}" for i in range(old, old + count)]
            self.refresh(Region(0, old, self.size.width, count), layout=True)

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield Rows()

    app = Host()
    async with app.run_test(size=(40, 20)) as pilot:
        rows = app.query_one(Rows)
        await pilot.pause()
        whole = rows.outer_size.height
        rows.render_lines(Region(0, 0, 40, whole))
        rows.asked.clear()
        rows.grow(3)
        await pilot.pause()
        assert rows.outer_size.height == whole + 3
        kept = rows.render_lines(Region(0, 0, 40, whole + 3))
        assert sorted(rows.asked) == [5, 6, 7]  # only the new rows (content y)
        rows._styles_cache.clear()
        assert kept == rows.render_lines(Region(0, 0, 40, whole + 3))  # as rendered afresh
        rows.styles.padding = (0, 1, 1, 1)  # a bottom padding depends on the height
        await pilot.pause()
        rows.render_lines(Region(0, 0, 40, rows.outer_size.height))
        rows.asked.clear()
        rows.grow(1)
        await pilot.pause()
        rows.render_lines(Region(0, 0, 40, rows.outer_size.height))
        assert 0 in rows.asked  # left to Textual: everything again


def test_no_module_outside_compat_uses_these_internals() -> None:
    """The shims stay the only users: a cheap scan for the private names they wrap and for
    imports of the libraries' private modules."""
    root = pathlib.Path(glmchat.__file__).parent
    private = re.compile(
        r"_size_updated|rules_core|\.parsed\b|\.elements\b|\._bindings\b|_on_key\b"
        r"|^\s*(from|import) (textual|rich|markdown_it)(\.\w+)*\._",
        re.MULTILINE,
    )
    offenders = [
        f"{path.relative_to(root)}: {match.group().strip()}"
        for path in sorted(root.rglob("*.py"))
        if path.parent.name != "compat"
        for match in private.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def _self_attributes(cls: type) -> set[str]:
    """Methods defined in a class body and `self.<name>` used in it."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(cls)))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            names.add(node.attr)
    return names


def test_no_widget_outside_compat_overrides_or_reads_a_private_library_name() -> None:
    """A `_name` of a glmchat class that Textual or rich also defines is an override of, or a
    reach into, their internals (like `_on_key` or `self._bindings` once were): it belongs in
    glmchat/tui/compat. This also catches an upgrade that starts using one of our names."""
    import glmchat.tui

    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(glmchat.tui.__path__, "glmchat.tui.")
        if ".compat" not in info.name
    ]
    found: list[str] = []
    for module in modules:
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            library = [
                base for base in cls.__mro__ if base.__module__.split(".")[0] in ("textual", "rich")
            ]
            if not library:
                continue
            theirs: set[str] = set()
            for base in library:
                theirs |= set(vars(base))
                with contextlib.suppress(OSError, TypeError):
                    theirs |= _self_attributes(base)
            ours = {
                n for n in _self_attributes(cls) if n.startswith("_") and not n.startswith("__")
            }
            found += [f"{module.__name__}.{cls.__name__}.{name}" for name in sorted(ours & theirs)]
    assert found == []


# --- json (glmchat/backend/compat_json.py) ---------------------------------------------------


def test_json_decoder_still_sets_a_scan_once_that_returns_the_document_and_its_end() -> None:
    decoder = json.JSONDecoder()
    assert "scan_once" in vars(decoder), "JSONDecoder no longer sets scan_once: fix compat_json"
    scan_once = vars(decoder)["scan_once"]
    if json.scanner.c_make_scanner is not None:
        # The reason for going around json.loads: the C scanner, one call per document.
        assert type(scan_once) is json.scanner.c_make_scanner
    assert scan_once('{"a": [1, 2.5, "x", null]} tail', 0) == ({"a": [1, 2.5, "x", None]}, 26)
    assert scan_once('"\\u00e9"', 0) == ("é", 8)
    for not_a_document in (" {}", "", "nope", "}"):
        with pytest.raises(StopIteration):
            scan_once(not_a_document, 0)


@pytest.mark.parametrize(
    "data",
    [
        '{"choices": [{"delta": {"content": "hi"}}]}',
        '{"a": 1}  \n',
        '  {"a": 1}',
        "[1, 2, 3]",
        '"text"',
        "1e400",
        "NaN",
        "true",
        "",
        "   ",
        "{",
        '{"a": 1} {"b": 2}',
        '{"a": 1} x',
        '{"a": "\\ud800"}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_compat_json_loads_agrees_with_json_loads(data: str) -> None:
    try:
        expected: object = json.loads(data)
    except (ValueError, RecursionError):
        expected = ValueError
    try:
        got: object = compat_json.loads(data)
    except ValueError:
        got = ValueError
    if isinstance(expected, float) and expected != expected:
        assert isinstance(got, float) and got != got  # NaN equals nothing, itself included
    else:
        assert got == expected


def test_pygments_lexer_state_is_seen_and_taken_as_a_start() -> None:
    """open_fence.py lexes each piece of a streaming fence from the state the whole is in:
    pygments' RegexLexer keeps it in the local `statestack` and takes a start stack."""
    from pygments.lexer import RegexLexer

    from glmchat.tui.compat.rich_markdown import START, fence_lexer, state_at

    python = fence_lexer("python")
    tokens = RegexLexer.get_tokens_unprocessed(python, "x = 1\n")
    next(tokens)
    assert tokens.gi_frame.f_locals["statestack"] == ["root"]
    code = 'def f():\n    """An open\ndocstring\n'
    inside = state_at(python, code, code.index("docstring"))
    assert inside is not None and inside != START  # in the string's state
    assert state_at(python, "x = 1\ny = 2\n", 6) == START
    assert state_at(fence_lexer("c"), "/* a\nb */\n", 5) is None  # inside one token
    assert state_at(fence_lexer("ruby"), "x = 1\n", 0) is None  # its state is not seen
    # A piece lexed from the state its first line is in: the rest of the docstring.
    from pygments.token import String

    started = rich_markdown._started(python, inside)
    assert [t for t, _ in started.get_tokens("docstring\n")][0] in String
