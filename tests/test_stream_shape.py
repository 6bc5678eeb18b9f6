"""Complexity shape of a streaming answer: layouts grow with lines / step, not with tokens.

Nothing here waits a fixed time for the app to catch up: each step waits until the view has
rendered what it was given (a condition), and the views pace themselves by a clock the test
moves by hand, so the counts are the same on an idle and on a busy machine."""

from __future__ import annotations

from pytest import approx
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot

from glmchat.tui.widgets import markdown_view
from glmchat.tui.widgets.markdown_view import StreamingMarkdown


class ManualClock:
    """A clock that moves only when the test says so, plus a microsecond per reading: time
    spent rendering then looks the same (tiny) whatever the machine's speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1e-6
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Host(App[None]):
    def __init__(self, *, refresh_rate: float = 1000, clock: ManualClock | None = None) -> None:
        super().__init__()
        self.view = StreamingMarkdown(refresh_rate=refresh_rate, clock=clock or ManualClock())

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield self.view


async def rendered(pilot: Pilot[None], view: StreamingMarkdown) -> None:
    """Wait until the view's own timer has rendered all the text it holds, then for the repaint
    and layout it asked for. A condition, not a delay: a slow machine only takes longer."""
    for _ in range(2000):
        if not view.blocks.dirty:
            await pilot.pause()
            return
        await pilot.pause(0.002)
    raise AssertionError("the view never rendered its text")


async def stream_lines(step: int, lines: int = 60) -> tuple[int, int, int]:
    app = Host()
    async with app.run_test(size=(80, 30)) as pilot:
        view = app.view
        view.height_step = step
        layouts = 0
        original = view.refresh

        def counting_refresh(*regions, layout: bool = False, **kw):  # type: ignore[no-untyped-def]
            nonlocal layouts
            layouts += layout
            return original(*regions, layout=layout, **kw)

        view.refresh = counting_refresh  # type: ignore[method-assign]
        for i in range(lines):
            for word in f"- item {i} of the list\n".split(" "):
                view.append(word + " ")
            await rendered(pilot, view)  # one update per line, however long it takes
        view.finish()
        await pilot.pause()
        final = view.get_content_height(view.size, view.size, view.size.width)
        return layouts, view.blocks.line_count, final


async def test_stepped_height_cuts_layouts_and_ends_exact() -> None:
    one_by_one, lines_a, _ = await stream_lines(1)
    stepped, lines_b, final = await stream_lines(6)
    assert lines_a == lines_b >= 60
    # Each new line is a layout when the height follows the text; in steps of six, a sixth
    # of that. Neither depends on how many tokens made the lines.
    assert one_by_one >= lines_a - 1
    assert stepped <= lines_b / 6 + 2
    assert final == lines_b  # a finished message is exactly as tall as its text


async def test_stepped_height_while_streaming_is_a_multiple_of_the_step() -> None:
    app = Host()
    async with app.run_test(size=(80, 30)) as pilot:
        view = app.view
        view.height_step = 6
        view.append("- one\n- two\n- three\n- four")
        await rendered(pilot, view)
        width = view.size.width
        streaming_height = view.get_content_height(view.size, view.size, width)
        assert streaming_height % 6 == 0 and streaming_height >= view.blocks.line_count
        assert view.render_line(streaming_height - 1).text.strip() == ""
        view.finish()
        await pilot.pause()
        assert view.get_content_height(view.size, view.size, width) == view.blocks.line_count


async def test_a_burst_updates_less_often_and_shows_its_end_at_once() -> None:
    """Text arriving faster than a screenful per update slows the updates down (each one
    scrolls and repaints the whole log); the end is shown as soon as the text is complete.

    The test plays a second of a fast stream on the view's clock: every 10 ms about 60 lines
    arrive, and the view gets the chance to update whenever it is due."""
    clock = ManualClock()
    app = Host(refresh_rate=20, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.view
        view.append("A first, short line.\n\n")
        await rendered(pilot, view)
        # Less than a screenful: the next update is one refresh interval away.
        assert view.next_update_at - clock.now == approx(1 / 20, abs=1e-3)
        first = view.refresh_count
        n = 0
        for _ in range(100):
            clock.advance(0.01)
            view.append("".join(f"Line {n + i} of a very fast answer.\n\n" for i in range(30)))
            n += 30
            if clock.now >= view.next_update_at:
                await rendered(pilot, view)
        updates = view.refresh_count - first
        # At 20 Hz a second would be 20 updates; a burst gets a third of that.
        assert markdown_view.BURST_SLOWDOWN >= 2
        # (one more: the view is rendered again at a new width when the scrollbar appears)
        assert 2 <= updates <= 20 / markdown_view.BURST_SLOWDOWN + 2
        view.append("The **last** line.")
        view.finish()
        assert view.refresh_count == first + updates + 1  # finish shows the end right away
        await pilot.pause()
        lines = [view.render_line(y).text for y in range(view.blocks.line_count)]
        assert "The last line." in lines[-1]


# How many layouts a height change costs (SettledBySizing) is a tripwire on Textual internals:
# tests/test_compat.py, test_a_height_change_costs_one_layout_of_the_screen_not_two.
