"""The streaming Markdown view renders exactly what rich renders, with bounded work per token."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Offset
from textual.selection import Selection
from textual.strip import Strip
from textual.widgets import Collapsible

from glmchat.terminal_text import neutralize_controls
from glmchat.tui.compat import rich_markdown
from glmchat.tui.compat.rich_markdown import markdown_of
from glmchat.tui.markdown.incremental import MarkdownBlocks
from glmchat.tui.widgets.markdown_view import StreamingMarkdown
from tests.tui_helpers import screen_lines

DOCUMENTS = {
    "headings": "# Title\n\nSome text.\n\n## Sub *title*\n\nMore **text** here.\n###### Six\n",
    "setext": "Setext one\n==========\n\nParagraph\nstill paragraph\n---\n\nafter\n",
    "loose_list": "- one\n\n- two\n\n- three\n\nAfter the list.\n",
    "two_paragraph_item": "1. first\n\n   second paragraph of first\n2. second\n\n   more\n\nend\n",
    "nested_list": "- a\n  - b\n    - c\n  - d\n- e\n\n1. x\n   1. y\n3. z\n",
    "table": "| a | b | c |\n|:--|:-:|--:|\n| 1 | two | 3 |\n| four | 5 | six |\n\nbelow\n",
    "quote": "> quoted *text*\nlazy line\n\n> second quote\n> > nested\n\nafter quote\n",
    "rules": "above\n\n***\n\nbetween\n\n---\n- - -\n\nbelow\n",
    "fences": "Code:\n\n```python\ndef f(x):\n    return x + 1\n```\n\n"
    "~~~\nplain\n~~~\n\n    indented\n",
    "unclosed_fence": "Intro\n\n```js\nconst a = 1;\nconsole.log(a)\n",
    "tabs": "```python\nif x:\n\treturn 1\n```\n\n```nosuchlang\na\tb\n```\n\n\tindented\ttab\n",
    "markup": "[bold]not bold[/] and [link=http://evil]x[/link] and [red]y[/red]\n\n- [b]z[/b]\n",
    "escapes": "ESC \x1b[31mred\x1b[0m, OSC \x1b]0;title\x07, CSI \x9b2J, bell \x07, nul \x00.\r\n"
    "crlf line\r\nlone cr\rend\n",
    "inline": "A [link](http://x.y/z) and ![img](a.png) and ~~strike~~ and `code` "
    "and <kbd>k</kbd>.\n",
    "html": "<div>\nblock\n</div>\n\npara\n\n<!-- comment -->\n",
    "line_breaks": "Roses are red,\nviolets are **blue**\n- item\n  next line\n\n> a\n> b\n\n"
    "two spaces  \nbackslash\\\nend\n",
    "mixed": "# Plan\n\n1. Read\n2. Write:\n   ```python\n   print(1)\n   ```\n3. Done\n\n"
    "> note\n\n| k | v |\n|---|---|\n| a | 1 |\n\n---\nText after rule.\n",
}

WIDTHS = (24, 60, 100)


def make_console() -> Console:
    return Console(
        width=80,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        markup=False,
        emoji=False,
    )


CONSOLE = make_console()


def reference(text: str, width: int, code_theme: str = "monokai") -> list[list[Segment]]:
    """rich's own render of the whole (neutralized) text."""
    markdown = markdown_of(neutralize_controls(text), code_theme=code_theme)
    lines = CONSOLE.render_lines(markdown, CONSOLE.options.update_width(width), pad=True)
    return [list(Segment.simplify(line)) for line in lines]


def reference_text(text: str, width: int) -> list[str]:
    return [line.rstrip() for line in plain(reference(text, width))]


def rendered(blocks: MarkdownBlocks, width: int) -> list[list[Segment]]:
    return [
        list(Segment.simplify(Strip(line).adjust_cell_length(width))) for line in blocks.lines()
    ]


def plain(lines: list[list[Segment]]) -> list[str]:
    return ["".join(segment.text for segment in line) for line in lines]


def feed(text: str, sizes: list[int], renders: list[bool], width: int) -> MarkdownBlocks:
    """Stream `text` in chunks of `sizes`, rendering after the chunks `renders` says."""
    blocks = MarkdownBlocks(console=CONSOLE)
    position = 0
    for index, size in enumerate(sizes):
        blocks.append(text[position : position + size])
        position += size
        if renders[index % len(renders)]:
            blocks.render(width)
    blocks.append(text[position:])
    blocks.render(width)
    blocks.finish()
    blocks.render(width)
    return blocks


def assert_same(blocks: MarkdownBlocks, text: str, width: int) -> None:
    expected = reference(text, width)
    actual = rendered(blocks, width)
    assert plain(actual) == plain(expected)
    assert actual == expected  # styles too (Style equality ignores link ids)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
@pytest.mark.parametrize("width", WIDTHS)
def test_character_by_character_equals_reference(name: str, width: int) -> None:
    text = DOCUMENTS[name]
    blocks = feed(text, [1] * len(text), [True], width)
    assert_same(blocks, text, width)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_open_text_equals_reference_at_every_step(name: str) -> None:
    """Before `finish`, what is shown is rich's render of the text received so far (but for a
    CR at its end: it may start a CRLF, so it waits for the next character)."""
    text = DOCUMENTS[name]
    blocks = MarkdownBlocks(console=CONSOLE)
    for index, char in enumerate(text):
        blocks.append(char)
        blocks.render(60)
        if index % 7 == 0 or index == len(text) - 1 or char == "\r":
            so_far = text[: index + 1].removesuffix("\r")
            assert plain(rendered(blocks, 60)) == plain(reference(so_far, 60))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(DOCUMENTS)),
    sizes=st.lists(st.integers(1, 15), max_size=60),
    renders=st.lists(st.booleans(), min_size=1, max_size=8),
    width=st.sampled_from(WIDTHS),
)
def test_random_chunking_equals_reference(
    name: str, sizes: list[int], renders: list[bool], width: int
) -> None:
    text = DOCUMENTS[name]
    assert_same(feed(text, sizes, renders, width), text, width)


@settings(max_examples=40, deadline=None)
@given(
    parts=st.lists(st.sampled_from(sorted(DOCUMENTS)), min_size=2, max_size=5),
    sizes=st.lists(st.integers(1, 40), max_size=40),
)
def test_concatenated_documents_equal_reference(parts: list[str], sizes: list[int]) -> None:
    text = "\n".join(DOCUMENTS[part] for part in parts)
    assert_same(feed(text, sizes, [True, False], 60), text, 60)


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 30), max_size=40))
def test_resize_rewraps(sizes: list[int]) -> None:
    text = "\n".join(DOCUMENTS.values())
    blocks = feed(text, sizes, [True], 60)
    blocks.render(100)
    assert_same(blocks, text, 100)
    blocks.render(60)
    assert_same(blocks, text, 60)


def test_resize_while_streaming() -> None:
    text = DOCUMENTS["mixed"] + DOCUMENTS["two_paragraph_item"]
    blocks = MarkdownBlocks(console=CONSOLE)
    half = len(text) // 2
    blocks.append(text[:half])
    blocks.render(60)
    blocks.render(30)
    blocks.append(text[half:])
    blocks.render(100)
    assert plain(rendered(blocks, 100)) == plain(reference(text, 100))
    blocks.finish()
    blocks.render(100)
    assert_same(blocks, text, 100)


@given(text=st.text(alphabet="ab\r\n\x1b\x00\x9b\x7f\u202e[]", max_size=40), cut=st.integers(0, 40))
def test_neutralizing_is_the_same_in_pieces(text: str, cut: int) -> None:
    blocks = MarkdownBlocks(console=CONSOLE)
    blocks.append(text[:cut])
    blocks.append(text[cut:])
    blocks.finish()
    blocks.render(40)
    assert plain(rendered(blocks, 40)) == plain(reference(text, 40))
    assert blocks.text == text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.sampled_from(sorted(DOCUMENTS)), min_size=2, max_size=6),
    sizes=st.lists(st.integers(1, 80), max_size=30),
    exact_rows=st.integers(0, 12),
    peeks=st.lists(st.integers(0, 400), max_size=6),
    width=st.sampled_from(WIDTHS),
)
def test_waiting_blocks_end_up_exact(
    parts: list[str], sizes: list[int], exact_rows: int, peeks: list[int], width: int
) -> None:
    """Renders with no budget leave blocks waiting; painting lines of them, later renders and a
    resize in between still end with rich's render of the whole."""
    text = "\n".join(DOCUMENTS[part] for part in parts)
    blocks = MarkdownBlocks(console=CONSOLE)
    position = 0
    for index, size in enumerate(sizes):
        blocks.append(text[position : position + size])
        position += size
        blocks.render(width if index % 7 else 60, 0.0, exact_rows=exact_rows)
        for y in peeks[index % 3 :: 3]:
            blocks.segments(y % max(1, blocks.line_count))
    blocks.append(text[position:])
    blocks.finish()
    blocks.render(width, 0.0, exact_rows=exact_rows)
    # The last rows are exact as soon as the text is complete, whatever waits above them.
    count = min(exact_rows, blocks.line_count)
    if count:
        assert rendered_tail(blocks, count, width) == reference(text, width)[-count:]
    assert_same(blocks, text, width)


def _sections(count: int) -> str:
    return "".join(
        f"## Section {n}\n\nParagraph {n} with **bold** and `code`.\n\n```python\nx = {n}\n```\n\n"
        for n in range(count)
    )


def test_a_burst_renders_the_end_first_and_the_rest_later() -> None:
    text = _sections(100)  # 300 blocks
    blocks = MarkdownBlocks(console=CONSOLE)
    blocks.append(text)
    blocks.finish()
    blocks.render(80, 0.0, exact_rows=20)
    # Only the blocks covering the last 20 rows were rendered, not the 300.
    assert blocks.renders <= 12
    assert blocks.waiting
    assert rendered_tail(blocks, 20, 80) == reference(text, 80)[-20:]
    # Asking for a line of a waiting block renders that block alone, and says the rows moved.
    before = blocks.renders
    blocks.reflowed = False
    blocks.segments(0)
    assert blocks.renders == before + 1
    assert blocks.reflowed
    # Later renders fill in the rest, each block once.
    while blocks.waiting:
        blocks.render(80, 0.001, exact_rows=20)
    assert blocks.renders == blocks.frozen_block_count
    assert_same(blocks, text, 80)


def rendered_tail(blocks: MarkdownBlocks, count: int, width: int) -> list[list[Segment]]:
    """The last `count` lines as painted, before anything renders the blocks above them."""
    total = blocks.line_count
    return [
        list(Segment.simplify(Strip(blocks.segments(y)).adjust_cell_length(width)))
        for y in range(total - count, total)
    ]


def test_blocks_are_found_without_parsing_their_inline_text() -> None:
    """Inline Markdown is parsed only for blocks that get rendered."""
    calls: list[str] = []
    real = rich_markdown.PARSER.inline.parse

    def counting(src, md, env, tokens):  # type: ignore[no-untyped-def]
        calls.append(src)
        return real(src, md, env, tokens)

    rich_markdown.PARSER.inline.parse = counting  # type: ignore[method-assign]
    try:
        blocks = MarkdownBlocks(console=CONSOLE)
        blocks.append(_sections(100))
        blocks.finish()
        blocks.render(80, 0.0, exact_rows=10)
        assert 0 < len(calls) <= 10
    finally:
        rich_markdown.PARSER.inline.parse = real  # type: ignore[method-assign]


def test_a_line_break_in_a_paragraph_is_a_line_break_on_screen() -> None:
    """Models write verse, addresses and steps one per line: a single newline inside a
    paragraph, a list item or a quote shows as a new line (CommonMark would join the lines
    with a space), streamed or finished."""
    text = "Roses are red,\nviolets are blue\n\n- first\n  still first\n\n> one\n> two\n"
    for blocks in (feed(text, [3] * 20, [True], 60), feed(text, [len(text)], [False], 60)):
        shown = [line.rstrip() for line in plain(rendered(blocks, 60))]
        assert shown[:2] == ["Roses are red,", "violets are blue"]
        assert shown[3:5] == [" • first", "   still first"]
        assert [line.strip(" ▌") for line in shown[6:8]] == ["one", "two"]


def test_markdown_shows_controls_as_text() -> None:
    blocks = MarkdownBlocks(console=CONSOLE)
    blocks.append(DOCUMENTS["escapes"] + DOCUMENTS["markup"])
    blocks.finish()
    blocks.render(80)
    screen = "\n".join(plain(rendered(blocks, 80)))
    assert "\x1b" not in screen and "\x9b" not in screen and "\x07" not in screen
    assert "\\x1b[31mred" in screen
    assert "[bold]not bold[/]" in screen
    assert "[link=http://evil]x[/link]" in screen


def test_finished_blocks_render_once_and_tokens_only_touch_open_blocks() -> None:
    paragraphs = [
        f"## Section {n}\n\nParagraph {n} with **bold** and `code`.\n\n- item {n}a\n- item {n}b\n\n"
        f"```python\nx = {n}\n```\n\n"
        for n in range(40)
    ]
    text = "".join(paragraphs)
    blocks = MarkdownBlocks(console=CONSOLE)
    seen: list[str] = []
    blocks.on_render = seen.append
    per_step: list[int] = []
    for index in range(0, len(text), 3):
        before, frozen_before = len(seen), set(blocks.frozen_blocks)
        blocks.append(text[index : index + 3])
        blocks.render(80)
        step = seen[before:]
        per_step.append(len(step))
        # Only the open blocks (or those that just finished) are rendered; never a finished one.
        assert not frozen_before.intersection(step)
        assert set(step) <= set(blocks.open_blocks) | (set(blocks.frozen_blocks) - frozen_before)
    blocks.finish()
    blocks.render(80)
    assert max(per_step) <= 2
    # The work per token does not grow with the length of the text.
    assert sum(per_step[-50:]) <= sum(per_step[:50]) + 10
    count = blocks.frozen_block_count
    assert count == 40 * 4

    # A new width renders every finished block exactly once; going back is free (cached).
    before = blocks.renders
    blocks.render(60)
    assert blocks.renders - before == count
    blocks.render(80)
    blocks.render(60)
    assert blocks.renders - before == count


def test_finished_text_renders_each_block_once() -> None:
    text = "".join(DOCUMENTS.values())
    blocks = MarkdownBlocks(console=CONSOLE)
    blocks.append(text)
    blocks.finish()
    blocks.render(70)
    assert blocks.renders == blocks.frozen_block_count
    assert blocks.render(70) == blocks.line_count  # nothing changed, nothing rendered
    assert blocks.renders == blocks.frozen_block_count


def test_link_definition_after_use_is_applied_when_finished() -> None:
    text = "See [docs] and [b][].\n\n# Next\n\ntext\n\n[docs]: http://d.example\n[b]: /b\n"
    blocks = feed(text, [1] * len(text), [True], 40)
    assert_same(blocks, text, 40)


def test_append_after_finish_reopens() -> None:
    blocks = MarkdownBlocks(console=CONSOLE)
    blocks.append("para one\ncontinues")
    blocks.finish()
    blocks.render(50)
    blocks.append(" on the same line\n\n- and a list\n")
    blocks.finish()
    blocks.render(50)
    assert_same(blocks, "para one\ncontinues on the same line\n\n- and a list\n", 50)


def test_huge_code_block_and_long_lines() -> None:
    code = "".join(f"v{n} = {n}\n" for n in range(10_000))
    text = "Intro\n\n```python\n" + code + "```\n\n" + "x" * 50_000 + "\n\n" + "w " * 5000
    blocks = MarkdownBlocks(console=CONSOLE)
    chunk = len(text) // 4 + 1
    for start in range(0, len(text), chunk):
        blocks.append(text[start : start + chunk])
        blocks.render(80)
    blocks.finish()
    blocks.render(80)
    lines = [Strip(line) for line in blocks.lines()]
    assert all(strip.cell_length <= 80 for strip in lines)
    assert any("v9999 = 9999" in strip.text for strip in lines)
    assert sum(strip.text.count("x") for strip in lines) == 50_000  # folded, nothing lost
    assert len(lines) > 10_000 + 50_000 // 80


def test_a_fence_typing_its_language_looks_up_only_whole_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each unknown lexer name costs pygments a scan of the installed plugins: an open fence
    whose language is still arriving ("p", "py", "pyt"...) has no code to colour yet."""
    asked: list[str] = []
    lookup = rich_markdown.get_lexer_by_name

    def counted(name: str, **options: object) -> object:
        asked.append(name)
        return lookup(name, **options)

    monkeypatch.setattr(rich_markdown, "get_lexer_by_name", counted)
    rich_markdown._lexer.cache_clear()
    text = "Code:\n\n```python\ndef f(x):\n    return x\n```\n\nafter\n"
    blocks = MarkdownBlocks(console=CONSOLE)
    for end in range(len(text)):
        blocks.append(text[end])
        blocks.render(60)
        if 8 <= end <= 18:  # the fence's opening line: as rich renders that much text
            assert rendered(blocks, 60) == reference(text[: end + 1], 60)
    blocks.finish()
    blocks.render(60)
    assert_same(blocks, text, 60)
    assert set(asked) <= {"python", "text"}


def test_code_theme_is_used() -> None:
    text = DOCUMENTS["fences"]
    for theme in ("monokai", "github-dark"):
        blocks = MarkdownBlocks(console=CONSOLE, code_theme=theme)
        blocks.append(text)
        blocks.finish()
        blocks.render(60)
        expected = reference(text, 60, code_theme=theme)
        assert rendered(blocks, 60) == expected
    assert reference(text, 60, "monokai") != reference(text, 60, "github-dark")


# Widget tests


class ChatLog(App[None]):
    CSS = "VerticalScroll { scrollbar-gutter: stable; }"

    def __init__(self, refresh_rate: float = 30.0, history: int = 0) -> None:
        super().__init__()
        self.refresh_rate = refresh_rate
        self.history = history

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="log"):
            for n in range(self.history):
                yield StreamingMarkdown(f"Old **message** {n}\n\n- a\n- b\n")
            yield StreamingMarkdown(refresh_rate=self.refresh_rate, id="live")


def widget_lines(widget: StreamingMarkdown) -> list[str]:
    return [widget.render_line(y).text.rstrip() for y in range(widget.blocks.line_count)]


def reply(tokens: int) -> list[str]:
    """About `tokens` 4-character tokens of Markdown, ending at a block boundary."""
    words = [
        "## Part {n}\n\n",
        "Some **bold** words and `code` in paragraph {n}. ",
        "More text follows here.\n\n",
        "- bullet {n}\n",
        "- another\n\n",
        "```python\ndef f_{n}():\n    return {n}\n```\n\n",
    ]
    out: list[str] = []
    n = 0
    while len(out) < tokens:
        piece = words[n % len(words)].format(n=n)
        out.extend(piece[i : i + 4] for i in range(0, len(piece), 4))
        n += 1
    return out


async def test_stream_reaches_screen_with_bounded_refreshes() -> None:
    app = ChatLog(refresh_rate=10.0, history=5)
    async with app.run_test(size=(90, 30)) as pilot:
        log = app.query_one("#log", VerticalScroll)
        log.anchor()
        live = app.query_one("#live", StreamingMarkdown)
        # Count only clock-driven refreshes: no extra ones for a render that ran out of budget.
        live.render_budget = 60.0
        tokens = reply(2000) + ["\n\nThe **last** line."]
        loop = asyncio.get_running_loop()
        started = loop.time()
        for index, token in enumerate(tokens):
            live.append(token)
            if index % 20 == 0:
                await asyncio.sleep(0.001)
        elapsed = loop.time() - started
        streamed_refreshes = live.refresh_count
        live.finish()
        await pilot.pause()
        # Refreshes follow the clock (10 Hz), not the 2,001 deltas.
        assert 1 <= streamed_refreshes <= elapsed * live.refresh_rate + 2
        assert live.text == "".join(tokens)
        width = live.size.width
        assert widget_lines(live) == reference_text(live.text, width)
        assert log.scroll_y == log.max_scroll_y
        assert any("The last line." in line for line in screen_lines(app))


async def test_idle_widget_draws_nothing() -> None:
    app = ChatLog()
    async with app.run_test(size=(80, 20)) as pilot:
        live = app.query_one("#live", StreamingMarkdown)
        live.append("hello **world**")
        await pilot.pause(0.1)
        live.finish()
        await pilot.pause()
        count, renders = live.refresh_count, live.blocks.renders
        await pilot.pause(0.3)
        assert (live.refresh_count, live.blocks.renders) == (count, renders)
        assert any("hello world" in line for line in screen_lines(app))


async def test_markup_and_escapes_are_literal_on_screen() -> None:
    app = ChatLog()
    async with app.run_test(size=(100, 20)) as pilot:
        live = app.query_one("#live", StreamingMarkdown)
        for char in "[bold]x[/] and [link=http://e]y[/link] and \x1b[31mred\x1b[0m end":
            live.append(char)
        live.finish()
        await pilot.pause()
        screen = "\n".join(screen_lines(app))
        assert "[bold]x[/] and [link=http://e]y[/link] and \\x1b[31mred\\x1b[0m end" in screen
        strip = live.render_line(0)
        assert all("\x1b" not in segment.text for segment in strip)
        assert not any(segment.style and segment.style.bold for segment in strip)


async def test_set_text_and_resize_rewrap() -> None:
    app = ChatLog()
    text = DOCUMENTS["mixed"] + DOCUMENTS["table"] + "word " * 60 + "\n"
    async with app.run_test(size=(60, 40)) as pilot:
        live = app.query_one("#live", StreamingMarkdown)
        live.set_text(text)
        await pilot.pause()
        assert live.text == text
        assert widget_lines(live) == reference_text(text, live.size.width)
        narrow_height = live.size.height
        await pilot.resize_terminal(100, 40)
        await pilot.pause()
        assert live.size.width > 60
        assert widget_lines(live) == reference_text(text, live.size.width)
        assert live.size.height < narrow_height


async def test_text_can_be_selected_and_copied() -> None:
    app = ChatLog()
    async with app.run_test(size=(80, 20)) as pilot:
        live = app.query_one("#live", StreamingMarkdown)
        live.set_text("# Title\n\nSome **bold** text.\n\n```python\nx = 1\n```\n")
        await pilot.pause()
        app.screen.selections = {live: Selection(None, None)}  # select all
        await pilot.pause()
        assert app.screen.get_selected_text() == "\n".join(widget_lines(live)).rstrip("\n")
        assert "Some bold text." in app.screen.get_selected_text()
        highlight = app.screen.get_component_rich_style("screen--selection").bgcolor
        assert any(seg.style and seg.style.bgcolor == highlight for seg in live.render_line(2))
        assert any("x = 1" in line for line in screen_lines(app))
        selection = Selection(Offset(5, 2), Offset(9, 2))
        assert live.get_selection(selection) == ("bold", "\n")


async def test_hidden_in_collapsed_collapsible_does_no_work() -> None:
    class Thinking(App[None]):
        def compose(self) -> ComposeResult:
            with VerticalScroll():
                with Collapsible(title="Thinking", collapsed=True):
                    yield StreamingMarkdown(id="thoughts")

    app = Thinking()
    async with app.run_test(size=(80, 24)) as pilot:
        thoughts = app.query_one("#thoughts", StreamingMarkdown)
        for token in reply(300):
            thoughts.append(token)
            await asyncio.sleep(0)
        await pilot.pause(0.1)
        assert thoughts.blocks.renders == 0
        assert thoughts.refresh_count == 0
        app.query_one(Collapsible).collapsed = False
        await pilot.pause()
        assert thoughts.blocks.renders > 0
        assert any("Part 0" in line for line in screen_lines(app))
        thoughts.finish()
        await pilot.pause()
        width = thoughts.size.width
        assert widget_lines(thoughts) == reference_text(thoughts.text, width)


class OnePane(App[None]):
    """An answer in a pane that can be hidden, as a background tab's."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="pane"):
            yield StreamingMarkdown(id="answer")


async def test_streamed_while_hidden_shows_everything_when_shown() -> None:
    """A background tab: the pane is display: none while its answer streams and finishes."""

    app = OnePane()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one("#pane", VerticalScroll)
        answer = app.query_one("#answer", StreamingMarkdown)
        answer.append("first words\n\n")
        await pilot.pause(0.1)
        pane.display = False
        for n in range(30):
            answer.append(f"word{n} ")
            await pilot.pause(0.01)
        answer.finish()
        await pilot.pause(0.1)
        renders = answer.blocks.renders
        pane.display = True
        await pilot.pause(0.1)
        assert answer.blocks.renders > renders
        assert any("word29" in line for line in screen_lines(app))


async def test_text_given_as_a_hidden_pane_is_shown_again_is_drawn() -> None:
    """A pane shown again is displayed before its next layout gives its widgets a size: text
    appended and finished in between (a background answer drawn when its tab is shown) is
    drawn by that layout, not left behind the height Textual kept."""

    app = OnePane()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one("#pane", VerticalScroll)
        answer = app.query_one("#answer", StreamingMarkdown)
        answer.append("first words\n\n")
        await pilot.pause(0.1)
        pane.display = False
        await pilot.pause(0.1)
        pane.display = True
        assert answer.size.width == 0  # shown, not laid out yet
        for n in range(30):
            answer.append(f"word{n} ")
        answer.finish()
        await pilot.pause(0.1)
        assert any("word29" in line for line in screen_lines(app))


def test_lines_are_plain_rich_segments() -> None:
    blocks = MarkdownBlocks(console=CONSOLE)
    blocks.append("# T\n")
    blocks.render(20)
    lines = blocks.lines()
    assert lines and all(isinstance(segment, Segment) for line in lines for segment in line)
    assert blocks.segments(999) == []


def test_the_block_model_does_not_import_textual() -> None:
    """Block finding and the incremental state are plain data over rich and markdown-it."""
    code = (
        "import sys, glmchat.tui.markdown.incremental\n"
        "print(','.join(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


async def test_a_burst_shows_its_end_first_and_fills_in_the_rest() -> None:
    app = ChatLog(refresh_rate=10.0)
    async with app.run_test(size=(90, 30)) as pilot:
        log = app.query_one("#log", VerticalScroll)
        log.anchor()
        live = app.query_one("#live", StreamingMarkdown)
        await pilot.pause()
        text = _sections(150) + "The **last** line.\n"
        live.append(text)
        live.finish()
        # The end is rendered at once; the 450 blocks above it wait.
        assert live.blocks.waiting
        assert live.blocks.renders < 30
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
        assert any("The last line." in line for line in screen_lines(app))
        for _ in range(100):
            if not live.blocks.waiting:
                break
            await pilot.pause(0.02)
        assert not live.blocks.waiting
        assert live.blocks.renders == live.blocks.frozen_block_count
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
        assert widget_lines(live) == reference_text(text, live.size.width)


async def test_scrolling_to_waiting_blocks_renders_them() -> None:
    app = ChatLog(refresh_rate=10.0)
    async with app.run_test(size=(90, 30)) as pilot:
        log = app.query_one("#log", VerticalScroll)
        live = app.query_one("#live", StreamingMarkdown)
        await pilot.pause()
        live.render_budget = 0.0  # nothing fills in by itself: only painting renders
        text = _sections(150)
        live.append(text)
        live.finish()
        assert live.blocks.waiting
        log.scroll_home(animate=False)
        await pilot.pause()
        await pilot.pause()
        screen = screen_lines(app)
        assert any("Section 0" in line for line in screen)
        assert any("Paragraph 0 with bold and code." in line for line in screen)
        # Only what was painted got rendered.
        assert live.blocks.renders < 60


def _long_fence(lang: str, lines: int) -> str:
    """A code fence of `lines` lines with blank lines, indentation, tabs, trailing spaces and
    lines longer than a narrow width; no string or comment spans two lines."""
    body = []
    for n in range(lines):
        body.append(
            [
                f"def step_{n}(x: int) -> int:",
                f"    return x * {n} + 1  # {'a long comment that wraps ' * (n % 3)}",
                "",
                f"\tvalue_{n} = [{', '.join(str(k) for k in range(n % 9))}]   ",
                "    ",
            ][n % 5]
        )
    return f"Some code:\n\n```{lang}\n" + "\n".join(body) + "\n```\n\nAfter it.\n"


@pytest.mark.parametrize("lang", ["python", "", "nosuchlang"])
@pytest.mark.parametrize("width", [24, 60])
def test_an_open_long_fence_equals_reference_at_every_step(lang: str, width: int) -> None:
    """A long fence still streaming is rendered in pieces (tui/markdown/open_fence.py); what
    shows is rich's render of the text so far, styles and all, at every step."""
    text = _long_fence(lang, 70)
    blocks = MarkdownBlocks(console=CONSOLE)
    for start in range(0, len(text), 11):
        blocks.append(text[start : start + 11])
        blocks.render(width)
        assert rendered(blocks, width) == reference(text[: start + 11], width), start
    blocks.finish()
    blocks.render(width)
    assert_same(blocks, text, width)


def test_an_open_fence_renders_only_its_growing_end() -> None:
    """Work per update of a streaming fence is bounded by its last piece's lines, not its
    length (it was the whole fence: 56 ms an update at 150 lines)."""
    from glmchat.tui.markdown.open_fence import PIECE

    code = "".join(f"v{n} = {n}\n" for n in range(600))
    blocks = MarkdownBlocks(console=CONSOLE)
    blocks.append("```python\n")
    per_update = []
    for start in range(0, len(code), 40):
        before = blocks._open_fence.rendered_lines
        blocks.append(code[start : start + 40])
        blocks.render(80)
        per_update.append(blocks._open_fence.rendered_lines - before)
    # Each update renders the growing piece (under 2 x PIECE lines) and at most one piece
    # that has just become complete.
    assert max(per_update[len(per_update) // 2 :]) <= 4 * PIECE + 2
    assert sum(per_update) < 600 * 12  # whole-fence renders would be ~600 x 90 / 2


def test_a_long_fence_left_open_at_the_end_is_exact_once_finished() -> None:
    """An answer that ends inside a long fence (no closing line) with a string across a
    piece's cut: while it streams the pieces may colour it as code; finished, it is rich's
    render of the whole, styles and all."""
    code = "".join(f"x_{n} = {n}\n" for n in range(6))
    code += '"""A docstring\n' + "".join(f"line {n} of it\n" for n in range(12)) + '"""\n'
    code += "".join(f"y_{n} = {n}\n" for n in range(12))
    text = "Intro\n\n```python\n" + code
    blocks = MarkdownBlocks(console=CONSOLE)
    for start in range(0, len(text), 9):
        blocks.append(text[start : start + 9])
        blocks.render(60)
    assert plain(rendered(blocks, 60)) == plain(reference(text, 60))  # the rows are exact
    blocks.finish()
    blocks.render(60)
    assert_same(blocks, text, 60)


def _docstring_code(classes: int) -> str:
    return "".join(
        f'class Item{n}:\n    """Item {n}.\n\n'
        "    while True: yield from nothing  # in the docstring\n"
        f'    """\n\n    name: str = "item-{n}"\n    count: int = {n}\n\n'
        f"    def total(self, price: float) -> float:\n        return price * {n}\n\n"
        for n in range(classes)
    )


def _block_comment_code(functions: int) -> str:
    return "".join(
        f"/* Function {n}.\n   const inside = `not code`;\n*/\n"
        f"function f{n}(x) {{\n  const s = `line one\n  line two ${{x}}`;\n"
        f"  return x * {n};\n}}\n\n"
        for n in range(functions)
    )


def _repeated(template: str, count: int) -> str:
    return "".join(template.replace("N", str(n)) for n in range(count))


# Found by QA in a round of 29 samples: each coloured wrongly while it streamed, when pieces
# were cut by counting quote marks.
LEXER_STATE_SAMPLES = {
    "python": "def fN(x):\n"
    '    """Doc N.\n\n    return x  # in docstring\n    """\n'
    '    a = 1  # strip the """ quotes\n    s = f"""two\n    lines {x}"""\n'
    "    t = '''single\n    quotes'''\n    return a\n\n",
    "rust": 'fn fN() {\n    let raw = r#"raw string\n    fn not_code() {}\n    spanning lines"#;\n'
    "    let a = 1;\n    let b = 2;\n}\n\n",
    "go": "// FN does things.\nfunc FN(x int) string {\n\traw := `raw string\n"
    "\tspanning lines N\n\tfunc not() {}`\n\t/* block\n\t   comment */\n\ta := 1\n"
    '\ts := "a ` tick"\n\treturn raw\n}\n\n',
    "sql": "/* Query N\n   SELECT not_code FROM nowhere;\n*/\nSELECT name, count\nFROM items\n"
    "WHERE count > N\n  AND name <> 'multi\nline string'\nORDER BY name;\n\n",
    "typescript": "interface IN {\n  /** Doc\n   * comment */\n  a: string;\n}\n"
    'const tN = `template\nspanning ${1} lines`;\nconst sN: string = "*/ odd";\n'
    'const gN = "src/**/*.js";\n\n',
    "c": "/* Function N\n * int not_code = 1;\n */\nint fN(int x) {\n    int a = 1;\n"
    "    return x + a;\n}\n#if 0\ndisabled N\nstill disabled\n#endif\n"
    "#define MAXN(a, b) \\\n    ((a) > (b) ? \\\n     (a) : (b))\n\n",
    "bash": "fN() {\n  cat <<END\nheredoc N /* not a comment */\nEND\n"
    '  echo "two\n  lines" src/*\n}\n\n',
    "html": "<div>\n<script>\nlet a = N;\n/* js\ncomment */\n</script>\n"
    "<!-- html\ncomment -->\n</div>\n\n",
}


@pytest.mark.parametrize("lang", sorted(LEXER_STATE_SAMPLES))
def test_each_piece_lexes_from_the_state_the_whole_is_in(lang: str) -> None:
    """Each piece of a streaming fence starts in the lexer state the whole fence is in there
    (a docstring, a raw string, a block comment open across a cut), and no cut falls inside
    a token the lexer matches whole: the colours are rich's at every step."""
    text = f"Code:\n\n```{lang}\n" + _repeated(LEXER_STATE_SAMPLES[lang], 14)
    blocks = MarkdownBlocks(console=CONSOLE)
    for start in range(0, len(text), 13):
        blocks.append(text[start : start + 13])
        blocks.render(100)
        assert rendered(blocks, 100) == reference(text[: start + 13], 100), start
    if lang != "html":  # its scripts and styles are another lexer's: rendered whole
        assert blocks._open_fence.rendered_lines < 12 * text.count("\n")


@pytest.mark.parametrize(
    ("lang", "code"), [("python", _docstring_code(12)), ("js", _block_comment_code(12))]
)
def test_strings_and_comments_across_lines_are_coloured_right_while_streaming(
    lang: str, code: str
) -> None:
    """Found by QA: a piece cut inside a docstring coloured the code after it as a string.
    Pieces are cut only where no string or comment spanning lines is open, so the colours
    are rich's at every step."""
    text = f"Code:\n\n```{lang}\n{code}"
    blocks = MarkdownBlocks(console=CONSOLE)
    for start in range(0, len(text), 13):
        blocks.append(text[start : start + 13])
        blocks.render(80)
        assert rendered(blocks, 80) == reference(text[: start + 13], 80), start
    assert blocks._open_fence.rendered_lines < 10 * text.count("\n")  # still in pieces
