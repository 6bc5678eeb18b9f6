"""The message log follows a growing answer at the bottom and stays put when the user reads."""

from __future__ import annotations

from tests.tui_helpers import active, running, send, stream, wait_for_stream, wait_until
from tests.wire_server import Reply, WireServer

LINES = [f"- line {i} of a long answer\n" for i in range(120)]


async def test_log_follows_the_stream_then_stays_put_when_scrolled_up(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(LINES), delay=0.02))
    async with running() as pilot:
        pane = active(pilot)
        log = pane.log_view
        await send(pilot, "a long one please")
        await wait_until(pilot, lambda: log.max_scroll_y > 10, "the answer to overflow")
        await pilot.pause(0.1)
        # Following: at (or within a step of) the bottom while it grows.
        assert log.scroll_y >= log.max_scroll_y - 6
        log.scroll_to(y=0, animate=False, immediate=True)  # the user scrolls up to read
        await pilot.pause(0.3)
        assert log.scroll_y == 0, "the log must not jump while the user reads"
        await wait_for_stream(pilot)
        assert log.scroll_y == 0
        log.scroll_end(animate=False, immediate=True)  # back at the bottom: following again
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y


async def test_a_short_chat_starts_at_the_top(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["Short answer."])))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "hi")
        await wait_for_stream(pilot)
        assert pane.log_view.scroll_y == 0
        first = pane.log_view.children[0]
        assert first.region.y - pane.log_view.region.y <= 2  # not hanging at the bottom


async def test_page_keys_scroll_the_conversation_from_the_prompt(zai: WireServer) -> None:
    # Found by QA: PageUp while typing moved the prompt's cursor, and the log stayed put.
    zai.reply(Reply(chunks=stream(LINES), delay=0.02))
    async with running() as pilot:
        pane = active(pilot)
        log = pane.log_view
        await send(pilot, "a long one please")
        await wait_until(pilot, lambda: log.max_scroll_y > 80, "the answer to overflow")
        pane.prompt.insert("half a thought\nand a second line")
        await pilot.pause()  # the box grows a line, the log's page shrinks by one
        assert pane.prompt.has_focus
        page = log.scrollable_content_region.height
        bottom = log.scroll_y
        await pilot.press("pageup")
        await pilot.pause(0.3)  # the answer goes on growing: the view stays where it was put
        assert bottom - page - 1 <= log.scroll_y <= bottom - page + 1
        up = log.scroll_y
        assert up > page  # two pages up is not the top yet
        await pilot.press("pageup")
        assert log.scroll_y == up - page
        await pilot.press("pagedown")
        assert log.scroll_y == up
        # Nothing typed moved or was lost, and the focus stayed in the box.
        assert pane.prompt.text == "half a thought\nand a second line"
        assert pane.prompt.cursor_location == (1, len("and a second line"))
        assert pane.prompt.has_focus
        await wait_for_stream(pilot)
        while log.scroll_y < log.max_scroll_y:  # back down, a page at a time
            await pilot.press("pagedown")
        assert log.is_anchored and log.scroll_y == log.max_scroll_y


async def test_the_page_keys_can_be_remapped(zai: WireServer) -> None:
    from tests.test_tui_context import add_config

    add_config('[keys]\nscroll_up = "f7"\nscroll_down = "f8"\n')
    zai.reply(Reply(chunks=stream(LINES)))
    async with running() as pilot:
        pane = active(pilot)
        log = pane.log_view
        await send(pilot, "a long one please")
        await wait_for_stream(pilot)
        await pilot.pause()
        bottom = log.scroll_y
        assert bottom > 0
        await pilot.press("f7")
        assert log.scroll_y < bottom
        await pilot.press("f8")
        assert log.scroll_y == bottom
        await pilot.press("pageup")  # no longer bound: TextArea's own key, the log stays
        assert log.scroll_y == bottom
