"""What drawing a streaming answer costs, as counts: frames that exist only for themselves,
and work done for panes nobody sees. Never wall time."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.pilot import Pilot

from glmchat.tui.markdown.incremental import MarkdownBlocks
from glmchat.tui.widgets.markdown_view import StreamingMarkdown
from glmchat.tui.widgets.messages import ThinkingPanel
from tests.test_stream_shape import Host, ManualClock, rendered
from tests.tui_helpers import active, glm, running, saved, screen_text, send, stream, wait_until
from tests.wire_server import Reply, WireServer


async def _settled(pilot: Pilot[Any]) -> None:
    for _ in range(5):
        await pilot.pause()


@asynccontextmanager
async def _hosted_view() -> AsyncIterator[tuple[Pilot[Any], StreamingMarkdown]]:
    """A streaming view at 10 Hz on a manual clock, running."""
    app = Host(refresh_rate=10, clock=ManualClock())
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.pause()
        yield pilot, app.view


async def test_a_callback_after_the_next_update_runs_right_after_it() -> None:
    """The status bar and the live titles are updated with the text's next update, so that
    they are painted in the same frame instead of a frame of their own."""
    async with _hosted_view() as (pilot, view):
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
        # Text comes a network read at a time, and between two reads no update is due: a
        # status tick there waits for the next read's update, or its time if none comes.
        seen.clear()
        assert view.after_next_update(lambda: seen.append(view.blocks.text), 30.0)
        await pilot.pause()
        assert seen == []  # nothing due yet: it waits
        view.append(" and the next read")
        await rendered(pilot, view)
        assert seen == ["first words and more and the next read"]  # not 30 s later
        assert view.after_next_update(lambda: seen.append("in time"), 0.05)
        await pilot.pause(0.2)
        assert seen[-1] == "in time"  # no text came: when its time was up


async def test_a_callback_waiting_for_an_update_is_dropped_when_the_view_goes() -> None:
    """Found by CI: quitting while an answer streamed ran the status bar's waiting tick from
    the answer's unmount, after the status bar had gone (NoMatches at exit)."""
    async with _hosted_view() as (pilot, view):
        seen: list[str] = []
        view.append("first words")
        assert view.after_next_update(lambda: seen.append("due"))
        assert view.after_next_update(lambda: seen.append("in time"), 30.0)
        await view.remove()
        await _settled(pilot)
        assert seen == []


async def test_no_frame_paints_the_status_bar_alone_while_an_answer_streams(
    zai: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status bar's half-second tick is painted with the text (each read's update), not in
    a frame of its own between two reads. The answer's end (the status stops streaming) is no
    tick: frames from then on are not counted (found by CI: the end's own frame painted the
    status bar alone, once, after the text's last update)."""
    # Its fallback (text stalled for two reads: tick alone) is for a stalled stream; a loaded
    # test machine can delay a read that long, so it is put out of reach here.
    after_next_update = StreamingMarkdown.after_next_update

    def patient(self: StreamingMarkdown, callback: Any, wait: float = 0.0) -> bool:
        return after_next_update(self, callback, 5.0 if wait else 0.0)

    monkeypatch.setattr(StreamingMarkdown, "after_next_update", patient)
    from textual.screen import Screen
    from textual.widget import Widget

    from glmchat.tui.widgets.pane_stream import PaneStream
    from glmchat.tui.widgets.status_bar import StatusBar

    words = [f"word{i} " for i in range(150)]
    zai.reply(Reply(chunks=stream(words), delay=0.01))  # 100 words a second, 1.5 s
    frames: list[set[str]] = []  # the widgets each frame rendered
    update, render_lines = Screen._on_timer_update, Widget.render_lines

    ended: list[bool] = []  # the answer's end repaints the status bar as it stops: no tick
    real_end = PaneStream._end

    def ending(self: PaneStream, *args: Any) -> None:
        ended.append(True)
        real_end(self, *args)

    monkeypatch.setattr(PaneStream, "_end", ending)

    def frame(self: Screen[Any]) -> None:
        if not ended:
            frames.append(set())
        update(self)

    def rendering(self: Widget, crop: Any) -> Any:
        if frames and not ended:
            frames[-1].add(type(self).__name__)
        return render_lines(self, crop)

    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "talk")
        await wait_until(pilot, lambda: pane.streaming and pane.streaming.text, "text")
        Screen._on_timer_update = frame  # type: ignore[method-assign]
        Widget.render_lines = rendering  # type: ignore[method-assign]
        try:
            await wait_until(pilot, lambda: pane.streaming is None, "the end")
        finally:
            Screen._on_timer_update = update  # type: ignore[method-assign]
            Widget.render_lines = render_lines  # type: ignore[method-assign]
    status = StatusBar.__name__
    with_status = [frame for frame in frames if status in frame]
    assert len(with_status) >= 2, frames  # it ticked while streaming
    assert all(len(frame) > 1 for frame in with_status), frames  # never alone


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
            # Saved whole; kept for the pane, not given to its widgets (not even the end).
            assert saved(pane.engine.conversation_id)[-1].content == "".join(words)
            assert message.answer.text == "word0 "
            assert message.streaming  # its end waits too
            assert hidden_renders == 0
            await pilot.press("ctrl+pageup")
            await _settled(pilot)
            assert active(pilot) is pane
            await wait_until(pilot, lambda: "word59" in screen_text(app), "the answer shown")
            assert message.answer.text == "".join(words)
            assert not message.streaming
            assert renders.get(id(message.answer.blocks), 0) > 0
            assert message.answer.refresh_count >= refreshes
        finally:
            MarkdownBlocks.render = original  # type: ignore[method-assign]


async def test_a_background_answer_is_drawn_when_shown_with_the_times_it_had(
    zai: WireServer,
) -> None:
    """A hidden pane mounts nothing for its answer (no thinking panel, no text): each event
    waits with the moment it arrived and is drawn when the pane is shown, so the thinking
    time is the model's (about 0.6 s here), not the time until the user looked (2 s on)."""
    start, think = threading.Event(), threading.Event()
    reasoning = ["Let me ", "think ", "this over. "]
    zai.reply(
        Reply(chunks=stream(["The answer."], reasoning, holds={0: start, 3: think}), delay=0.002)
    )
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await send(pilot, "think first")
        await wait_until(pilot, lambda: pane.streaming is not None, "the answer begins")
        message = pane.streaming
        assert message is not None
        await pilot.press("ctrl+n")
        await _settled(pilot)
        assert active(pilot) is not pane
        start.set()
        await pilot.pause(0.6)
        think.set()
        await wait_until(pilot, lambda: pane.streaming is None, "the end")
        assert saved(pane.engine.conversation_id)[-1].content == "The answer."
        assert not message.query(ThinkingPanel) and message.text == ""  # nothing drawn
        await pilot.pause(1.5)
        await pilot.press("ctrl+pageup")
        await _settled(pilot)
        assert active(pilot) is pane
        await wait_until(pilot, lambda: "The answer." in screen_text(app), "the answer shown")
        panel = message.query_one(ThinkingPanel)
        assert panel.body.text == "".join(reasoning)
        seconds = float(re.match(r"Thought for (\d+\.\d) s", str(panel.title)).group(1))  # type: ignore[union-attr]
        assert 0.5 <= seconds < 1.5, panel.title


async def _widgets_sized_per_step(zai: WireServer, exchanges: int) -> list[int]:
    """Stream a long answer below `exchanges` finished exchanges (with their reasoning) and
    count the widgets each layout of its height steps sizes, once the answer fills the view
    (other layouts, a tab's mark or the status, may lay out everything).

    A full layout sizes every mounted widget (Textual's reflow maps them all); one that maps
    only what is in view sizes those."""
    from textual.screen import Screen
    from textual.widget import Widget

    from glmchat import paths
    from glmchat.store import SessionStore
    from glmchat.tui.widgets.history import HISTORY_WINDOW

    cid = None
    if exchanges:
        with SessionStore(paths.database_path()) as store:
            cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
            for i in range(exchanges):
                store.add_message(cid, "user", f"question {i}")
                mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
                store.finish_assistant(
                    mid,
                    content=f"## Answer {i}\n\n" + "a line of the answer\n\n" * 6,
                    reasoning="some thinking " * 10,
                    status="complete",
                )
    lines = [f"line {i} of a long answer\n\n" for i in range(120)]
    zai.reply(Reply(chunks=stream(lines), delay=0.01))
    sized: list[int] = []
    in_layout = [0]
    layout, size_updated = Screen._refresh_layout, Widget._size_updated

    def counting_layout(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
        asked = self._layout_widgets
        leaves = set().union(*asked.values()) - asked.keys() if asked else set()
        in_layout[0] = 0
        layout(self, *args, **kwargs)
        if leaves and all(isinstance(leaf, StreamingMarkdown) for leaf in leaves):
            sized.append(in_layout[0])  # a layout for the answer's height alone

    def counting_size(self: Widget, *args: Any, **kwargs: Any) -> bool:
        in_layout[0] += 1
        return size_updated(self, *args, **kwargs)

    async with running(resume=cid) as pilot:
        pane = active(pilot)
        log = pane.log_view
        await wait_until(
            pilot,
            lambda: len(log.children) >= min(2 * exchanges, HISTORY_WINDOW),
            "the history window mounted",
        )
        await _settled(pilot)
        Screen._refresh_layout = counting_layout  # type: ignore[method-assign]
        Widget._size_updated = counting_size  # type: ignore[method-assign]
        try:
            await send(pilot, "a long one")
            await wait_until(
                pilot,
                lambda: pane.streaming and "line 60 " in pane.streaming.text,
                "the answer past a screenful",
            )
            sized.clear()
            await wait_until(pilot, lambda: pane.streaming is None, "the end")
        finally:
            Screen._refresh_layout = layout  # type: ignore[method-assign]
            Widget._size_updated = size_updated  # type: ignore[method-assign]
        # The end's frame follows the end of the stream (found by CI: asserted at once, a
        # loaded machine had not painted it yet).
        await wait_until(
            pilot,
            lambda: "line 119 of a long answer" in screen_text(glm(pilot)),
            "the last line on screen",
        )
    return [count for count in sized if count]


async def test_a_height_step_below_finished_turns_sizes_no_more_than_below_none(
    zai: WireServer,
) -> None:
    """Item 4 of issue 14: a reply into a long conversation costs what one into an empty
    conversation does. Each height step of the answer lays out; Textual maps every mounted
    widget then (24 finished turns: some 140), though only what is in view can move."""
    empty = await _widgets_sized_per_step(zai, 0)
    history = await _widgets_sized_per_step(zai, 30)
    assert len(empty) >= 4 and len(history) >= 4, (empty, history)
    assert max(history) <= max(empty), (empty, history)


async def test_the_status_stops_waiting_with_the_first_words(zai: WireServer) -> None:
    """Found by QA: the status said "waiting for the answer" for up to half a second (its tick)
    while the first words were already on screen."""
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["first ", "words", " then more"], holds={2: gate})))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "talk")
        timer = pane.answer_stream._tick_timer
        assert timer is not None
        timer.pause()  # no half-second tick: only the first words can end the waiting
        await wait_until(pilot, lambda: pane.status.info.state != "waiting", "not waiting")
        assert pane.streaming is not None and pane.streaming.text
        gate.set()
        await wait_until(pilot, lambda: pane.streaming is None, "the end")


async def test_a_height_step_renders_none_of_the_message_and_log_background(
    zai: WireServer,
) -> None:
    """An answer's message and the log around it are background only. Textual rendered a
    container's content whole (a row for every row of its height) whenever its size changed:
    each height step of a streaming answer rendered its whole message again, a cost that grew
    with the answer (O(n²) over a long one). They are drawn as blank rows now."""
    from textual.widget import Widget

    from glmchat.tui.widgets.message_log import MessageLog
    from glmchat.tui.widgets.messages import AssistantMessage

    zai.reply(
        Reply(chunks=stream([f"line {i} of a long answer\n\n" for i in range(80)]), delay=0.01)
    )
    rendered_rows: dict[str, int] = {}
    render_content = Widget._render_content

    def counting(self: Widget) -> None:
        if isinstance(self, (AssistantMessage, MessageLog)):
            name = type(self).__name__
            rendered_rows[name] = rendered_rows.get(name, 0) + self.size.height
        render_content(self)

    async with running() as pilot:
        pane = active(pilot)
        Widget._render_content = counting  # type: ignore[method-assign]
        try:
            await send(pilot, "a long one")
            await wait_until(pilot, lambda: pane.streaming is None, "the end")
            await wait_until(
                pilot,
                lambda: "line 79 of a long answer" in screen_text(glm(pilot)),
                "the last line on screen",
            )
        finally:
            Widget._render_content = render_content  # type: ignore[method-assign]
        assert pane.log_view.query_one(AssistantMessage).size.height > 100  # many steps
    assert rendered_rows == {}, rendered_rows


async def _cells(monkeypatch: pytest.MonkeyPatch, *, blank: bool, state: str) -> list[Any]:
    """Every cell of the screen (its character and style) with a finished conversation
    resumed, its answers and the log drawn as their classes draw them (`blank`) or through
    Textual's line cache."""
    from textual._context import visible_screen_stack

    from glmchat.tui.widgets.message_log import MessageLog
    from glmchat.tui.widgets.messages import AssistantMessage

    if not blank:  # else as the classes draw them
        monkeypatch.setattr(AssistantMessage, "BLANK", False)
        monkeypatch.setattr(MessageLog, "BLANK", False)
    async with running(resume="aaaa00000001") as pilot:
        app = glm(pilot)
        await _settled(pilot)
        answers = list(app.query(AssistantMessage))
        if state == "selected":
            answers[-1].focus()
        elif state == "left out":
            answers[0].add_class("-left-out")
        elif state == "left out and selected":
            answers[0].add_class("-left-out")
            answers[0].focus()
        elif state == "compact":
            app.add_class("-compact")
        for _ in range(3):  # a new highlight reaches a child's cached lines a frame later
            await _settled(pilot)
        visible_screen_stack.set(app._background_screens)
        strips = app.screen._compositor.render_strips()
        return [[(ch, seg.style) for seg in strip for ch in seg.text] for strip in strips]


@pytest.mark.parametrize(
    "state", ["plain", "selected", "left out", "left out and selected", "compact"]
)
async def test_blank_messages_and_log_draw_the_cells_textual_draws(
    monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    """AssistantMessage and MessageLog set BLANK (Textual's own switch for content-less
    containers): every cell is the same as through Textual's line cache, character and
    background, and a space's foreground (which shows nothing) is the only difference."""
    from tests.tui_helpers import message, seed

    seed(
        "aaaa00000001",
        "Sourdough",
        [
            message("user", "Feed it?"),
            message("assistant", "Yes. " * 80, reasoning="hmm " * 30),
            message("user", "More?"),
            message("assistant", "**bold** and `code`\n\n- a\n- b"),
        ],
    )
    cached = await _cells(monkeypatch, blank=False, state=state)
    blank = await _cells(monkeypatch, blank=True, state=state)
    assert len(cached) == len(blank) == 40
    differ = [
        (y, x)
        for y, (row, other) in enumerate(zip(cached, blank, strict=True))
        for x, ((ch, style), (ch2, style2)) in enumerate(zip(row, other, strict=True))
        if ch != ch2 or style.bgcolor != style2.bgcolor or (ch != " " and style != style2)
    ]
    assert differ == []
    assert any(" and " in "".join(ch for ch, _ in row) for row in blank)  # the answer shows
