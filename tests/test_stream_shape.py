"""Complexity shape of a streaming answer: layouts grow with lines / step, not with tokens."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from glmchat.tui.widgets import markdown_view
from glmchat.tui.widgets.markdown_view import StreamingMarkdown


class Host(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield StreamingMarkdown(refresh_rate=1000)


async def stream_lines(step: int, lines: int = 60) -> tuple[int, int, int]:
    app = Host()
    async with app.run_test(size=(80, 30)) as pilot:
        view = app.query_one(StreamingMarkdown)
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
            await pilot.pause(0.005)  # let the refresh timer fire after each line
        view.finish()
        await pilot.pause()
        final = view.get_content_height(view.size, view.size, view.size.width)
        return layouts, view.blocks.line_count, final


async def test_stepped_height_cuts_layouts_and_ends_exact() -> None:
    one_by_one, lines_a, _ = await stream_lines(1)
    stepped, lines_b, final = await stream_lines(6)
    assert lines_a == lines_b >= 60
    # Each new line is a layout when the height follows the text; in steps of six, about a
    # sixth of that. Neither depends on how many tokens made the lines.
    assert one_by_one >= 50
    assert stepped <= one_by_one / 3
    assert final == lines_b  # a finished message is exactly as tall as its text


async def test_stepped_height_while_streaming_is_a_multiple_of_the_step() -> None:
    app = Host()
    async with app.run_test(size=(80, 30)) as pilot:
        view = app.query_one(StreamingMarkdown)
        view.height_step = 6
        view.append("- one\n- two\n- three\n- four")
        await pilot.pause(0.05)
        width = view.size.width
        streaming_height = view.get_content_height(view.size, view.size, width)
        assert streaming_height % 6 == 0 and streaming_height >= view.blocks.line_count
        assert view.render_line(streaming_height - 1).text.strip() == ""
        view.finish()
        await pilot.pause()
        assert view.get_content_height(view.size, view.size, width) == view.blocks.line_count


async def test_a_burst_updates_less_often_and_shows_its_end_at_once() -> None:
    """Text arriving faster than a screenful per update slows the updates down (each one
    scrolls and repaints the whole log); the end is shown as soon as the text is complete."""

    class Slow(App[None]):
        def compose(self) -> ComposeResult:
            with VerticalScroll():
                yield StreamingMarkdown(refresh_rate=20)

    app = Slow()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(StreamingMarkdown)
        started = time.perf_counter()
        n = 0
        while time.perf_counter() - started < 1.0:
            # About 60 lines every 10 ms: far more than a screen per update.
            view.append("".join(f"Line {n + i} of a very fast answer.\n\n" for i in range(30)))
            n += 30
            await pilot.pause(0.01)
        elapsed = time.perf_counter() - started
        updates = view.refresh_count
        # At 20 Hz a second would be about 20 updates; a burst gets a third of that.
        assert markdown_view.BURST_SLOWDOWN >= 2
        assert 2 <= updates <= elapsed * 20 / markdown_view.BURST_SLOWDOWN + 4
        view.append("The **last** line.")
        view.finish()
        assert view.refresh_count == updates + 1  # finish shows the end right away
        await pilot.pause()
        lines = [view.render_line(y).text for y in range(view.blocks.line_count)]
        assert "The last line." in lines[-1]


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
        steps = 0
        for i in range(80):
            before = message.answer.get_content_height(
                message.answer.size, message.answer.size, message.answer.size.width
            )
            message.add_content(f"- item {i} of the list\n", fold_thinking=True)
            await pilot.pause(0.01)
            after = message.answer.get_content_height(
                message.answer.size, message.answer.size, message.answer.size.width
            )
            steps += after != before
        assert steps >= 8
        # Two layouts per step without the fix; allow some slack for a loaded machine.
        assert layouts <= 1.5 * steps + 3
