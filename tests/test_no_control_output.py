"""No control character from any text reaches the terminal: text is shown as written (`\\x1b`),
and whatever a widget renders passes a last fence (glmchat.tui.literal.NoControlCharacters)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from glmchat.tui.literal import NoControlCharacters, one_line
from glmchat.tui.widgets.status_bar import StatusInfo, render_info
from glmchat.tui.widgets.tab_bar import TITLE_WIDTH, tab_label
from tests.tui_helpers import active, glm, message, running, screen_lines, screen_text, seed

# ESC ] 0 retitles the window, ESC [ 2 J clears the screen, CSI (C1) and BEL, DEL.
HOSTILE = "m\x1b]0;PWNED\x07\x1b[2J\x9b31m\x7fz"
SHOWN = "m\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m\\x7fz"
CONTROLS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]]


def _no_controls(rows: list[str]) -> bool:
    return not any(c in row for row in rows for c in CONTROLS)


def test_every_status_field_is_shown_as_written_and_measured_as_shown() -> None:
    info = StatusInfo(provider="zai", model=HOSTILE, state=HOSTILE, servers=HOSTILE)
    line = render_info(info).plain
    assert line.count(SHOWN) == 3 and _no_controls([line])
    for width in (40, 60, 80):  # the fitting measures the text as it will be drawn
        assert cell_len(render_info(info, width).plain) <= width


async def test_a_stored_model_name_with_escapes_does_not_reach_the_terminal() -> None:
    """Found by QA: an imported conversation's model `...\\x1b]0;PW\\x07\\x1b[2J` cleared the
    screen and retitled the window from the status bar, when its pane opened."""
    seed("badd00000003", "evil model", [message("user", "hello")], model=HOSTILE)
    async with running(resume="badd00000003") as pilot:
        await pilot.pause()
        assert active(pilot).conversation_id == "badd00000003"
        rows = screen_lines(glm(pilot))
        assert any(SHOWN in row for row in rows)
        assert _no_controls(rows)


class _Raw(App[None]):
    def compose(self) -> ComposeResult:
        yield Static(Text(f"a{HOSTILE}b"), id="raw")


async def test_a_widget_that_renders_control_characters_is_fenced_in_the_app() -> None:
    """The class, not one field: a widget given raw text (as a future one might be) still
    sends no control character to the terminal inside glmchat; the same widget in a plain
    Textual app does (what the fence is for)."""
    async with _Raw().run_test() as pilot:
        plain = pilot.app.query_one("#raw")
        assert not _no_controls([strip.text for strip in plain.render_lines(plain.region)])
    async with running() as pilot:
        app = glm(pilot)
        widget = Static(Text(f"a{HOSTILE}b"), id="raw")
        await app.screen.mount(widget)
        await pilot.pause()
        strips = widget.render_lines(widget.region.reset_offset)
        assert strips[0].text.startswith("am]0;PWNED[2J31mzb")
        assert _no_controls([strip.text for strip in strips])
        assert _no_controls(screen_lines(app))
        assert "am]0;PWNED" in screen_text(app)


def test_the_fence_keeps_each_line_as_wide_as_laid_out() -> None:
    from rich.segment import Segment
    from textual.color import Color
    from textual.strip import Strip

    line = Strip([Segment("ab\x1b[2Jc"), Segment("日本\x07"), Segment("plain")])
    fenced = line.apply_filter(NoControlCharacters(), Color(0, 0, 0))
    assert fenced.text == "ab[2Jc日本plain"
    assert fenced.cell_length == line.cell_length == cell_len(fenced.text)
    clean = Strip([Segment("nothing to do")])
    assert NoControlCharacters().apply(list(clean), Color(0, 0, 0)) == list(clean)


def test_a_tab_title_is_cut_as_shown() -> None:
    """Found by QA: a title with control characters was cut to 25 cells, then each control
    spelled out (`\\x1b`), making a tab of 37 cells."""
    for title in (HOSTILE * 3, "\x1b]0;PWNED\x07[bold red]T[/] and more words here", "a\x00" * 40):
        label = tab_label(title, "streaming")
        shown = label.plain.split(" ", 1)[1]
        assert cell_len(shown) <= TITLE_WIDTH
        assert cell_len(one_line(title, TITLE_WIDTH)) <= TITLE_WIDTH
        assert _no_controls([label.plain])


async def test_a_streaming_answer_is_cleaned_at_its_source_not_fenced_per_line() -> None:
    """The answer's text is cleaned as it arrives (`\\x1b` shown); the fence, which would check
    each new line of a streaming answer again, is left to every other widget."""
    from glmchat.tui.widgets.markdown_view import StreamingMarkdown

    async with running() as pilot:
        app = glm(pilot)
        answer = StreamingMarkdown(f"answer {HOSTILE}")
        await app.screen.mount(answer)
        await pilot.pause()
        assert not any(isinstance(f, NoControlCharacters) for f in answer.get_line_filters())
        assert any(isinstance(f, NoControlCharacters) for f in app.get_line_filters())
        rows = [strip.text for strip in answer.render_lines(answer.region.reset_offset)]
        assert any(SHOWN in row for row in rows) and _no_controls(rows)
