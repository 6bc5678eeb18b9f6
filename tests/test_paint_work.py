"""What drawing a streaming answer costs, as counts: frames that exist only for themselves,
and work done for panes nobody sees. Never wall time."""

from __future__ import annotations

import threading
from typing import Any

from textual.pilot import Pilot

from glmchat.tui.markdown.incremental import MarkdownBlocks
from glmchat.tui.widgets.markdown_view import StreamingMarkdown
from tests.test_stream_shape import Host, ManualClock, rendered
from tests.tui_helpers import active, glm, running, saved, screen_text, send, stream, wait_until
from tests.wire_server import Reply, WireServer


async def _settled(pilot: Pilot[Any]) -> None:
    for _ in range(5):
        await pilot.pause()


async def test_a_callback_after_the_next_update_runs_right_after_it() -> None:
    """The status bar and the live titles are updated with the text's next update, so that
    they are painted in the same frame instead of a frame of their own."""
    clock = ManualClock()
    app = Host(refresh_rate=10, clock=clock)
    async with app.run_test(size=(60, 10)) as pilot:
        view: StreamingMarkdown = app.view
        await pilot.pause()
        seen: list[str] = []
        assert not view.after_next_update(lambda: seen.append("idle"))  # nothing due
        view.append("first words")
        assert view.after_next_update(lambda: seen.append(view.blocks.text))
        assert seen == []  # not before the update
        await rendered(pilot, view)
        assert seen == ["first words"]  # once, after the text it came with was rendered
        view.append(" and more")
        await rendered(pilot, view)
        assert seen == ["first words"]


async def test_the_prompt_cursor_holds_still_while_an_answer_streams(zai: WireServer) -> None:
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["one ", "two"], holds={1: gate}), delay=0.005))
    async with running() as pilot:
        pane = active(pilot)
        blinking = pane.prompt.cursor_blink
        await send(pilot, "count")
        await wait_until(pilot, lambda: pane.streaming and pane.streaming.text, "the answer")
        assert pane.prompt.cursor_blink is False  # a blink is a frame of its own
        gate.set()
        await wait_until(pilot, lambda: pane.streaming is None, "the end")
        assert pane.prompt.cursor_blink == blinking


async def test_a_background_pane_keeps_and_saves_its_answer_but_renders_nothing(
    zai: WireServer,
) -> None:
    gate = threading.Event()
    words = [f"word{i} " for i in range(60)] + ["\n\n- a list\n- of items\n"]
    zai.reply(Reply(chunks=stream(words, holds={1: gate}), delay=0.002))
    renders: dict[int, int] = {}
    original = MarkdownBlocks.render

    def counting(self: MarkdownBlocks, *args: Any, **kwargs: Any) -> int:
        renders[id(self)] = renders.get(id(self), 0) + 1
        return original(self, *args, **kwargs)

    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await send(pilot, "talk")
        await wait_until(pilot, lambda: pane.streaming and pane.streaming.text, "the answer")
        message = pane.streaming
        assert message is not None
        await pilot.press("ctrl+n")
        await _settled(pilot)
        assert active(pilot) is not pane
        sets: list[dict[str, Any]] = []
        original_set = pane.status.set
        pane.status.set = lambda **kw: sets.append(kw) or original_set(**kw)  # type: ignore[method-assign]
        pane.answer_stream.tick()  # the half-second tick, while hidden: nothing to draw
        assert sets == []
        MarkdownBlocks.render = counting  # type: ignore[method-assign]
        try:
            gate.set()
            await wait_until(pilot, lambda: pane.streaming is None, "the end")
            await _settled(pilot)
            hidden_renders = renders.get(id(message.answer.blocks), 0)
            refreshes = message.answer.refresh_count
            # The text is all there, and saved, though nothing was drawn.
            assert message.answer.text == "".join(words)
            assert saved(pane.engine.conversation_id)[-1].content == "".join(words)
            assert hidden_renders == 0
            await pilot.press("ctrl+pageup")
            await _settled(pilot)
            assert active(pilot) is pane
            await wait_until(pilot, lambda: "word59" in screen_text(app), "the answer shown")
            assert renders.get(id(message.answer.blocks), 0) > 0
            assert message.answer.refresh_count >= refreshes
        finally:
            MarkdownBlocks.render = original  # type: ignore[method-assign]
