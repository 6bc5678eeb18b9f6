"""A chat pane's answer in flight: its message and exchange, the status ticks, the worker that
draws the engine's events, and what the end shows (a note, budget lines, a refused key)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.timer import Timer

from glmchat.backend.errors import AuthError
from glmchat.backend.events import (
    ContentDelta,
    ReasoningDelta,
    RetryScheduled,
    Usage,
    WebSearchResults,
)
from glmchat.backend.read_pace import READ_PACE, ReadPace
from glmchat.engine import Exchange, ExchangeResult, SaveFailed
from glmchat.engine.events import ApprovalRequest, RoundStarted, ToolCallUpdate
from glmchat.engine.turns import Turn, unanswered
from glmchat.tui import budget_mark
from glmchat.tui.stream_meter import StreamMeter
from glmchat.tui.widgets.messages import AssistantMessage

if TYPE_CHECKING:
    from glmchat.tui.widgets.chat_pane import ChatPane

# A background pane's answer text is read from the network this often (while it arrives
# slowly): it only accumulates until the pane is shown (which reads at once), so each read may
# as well bring many tokens. Before the text (waiting, thinking, a tool call) it is read as
# often as a shown pane's: the reads time the end of thinking (the saved thinking time) and the
# end of a round (a tool loop's next call waits for it).
BACKGROUND_READ_INTERVAL = 0.5
READ_SLACK = 0.005  # seconds a shown pane's reads trail its view's update interval


class PaneStream:
    """The pane draws; this runs its answers, one at a time (the engine runs one exchange at a
    time per conversation). `message` is the answer being streamed, None between answers."""

    def __init__(self, pane: ChatPane) -> None:
        self._pane = pane
        self.message: AssistantMessage | None = None
        self.exchange: Exchange | None = None
        self._tick_timer: Timer | None = None
        self._meter = StreamMeter()
        self._blink: bool | None = None  # the prompt's cursor blink, paused while streaming
        # Network reads no more often than the pane draws (backend.network): see `_pace_reads`.
        self.read_pace = ReadPace()
        self._text_flowing = False  # the answer's text is arriving (not thinking, not a call)
        self._key_refused: str | None = None  # why, until the key dialog has been offered
        # What a hidden pane's answers received, to draw when it is shown (`draw`): each
        # step with its message and the moment it arrived.
        self._backlog: list[tuple[AssistantMessage, float, Callable[[], None]]] = []
        # The prompt last put back in the box (`give_back_unanswered`), until an answer starts.
        self._given_back: Turn | None = None

    def begin(self, exchange: Exchange) -> None:
        pane = self._pane
        settings = pane.glm.settings
        given_back, self._given_back = self._given_back, None
        if (
            given_back is not None
            and exchange.turn.parent_id == given_back.message_id
            and pane.prompt.text == given_back.content
        ):
            # A retry (or a regenerate) answers the prompt that was given back: it is used,
            # as a prompt sent from the box is; left there, enter sent it a second time.
            pane.prompt.text = ""
        message = AssistantMessage(
            streaming=True,
            refresh_rate=settings.ui.refresh_rate,
            code_theme=settings.ui.code_theme,
            palette_key=pane._key("command_palette"),
            message_id=exchange.turn.message_id,
            siblings=exchange.turn.siblings,
        )
        message.turn = exchange.turn
        self.message = message
        self.exchange = exchange
        self._text_flowing = False
        pane.log_view.mount(message)
        pane.log_view.follow_from_the_end()
        self._meter.start()
        pane.update_status(rate=None, state="waiting")  # no speed before the first token
        # Two status updates a second, painted with the text's next update when one is due.
        self._tick_timer = pane.set_interval(0.5, self._tick_with_text)
        # A blinking cursor is two frames a second of its own while the text streams.
        self._blink, pane.prompt.cursor_blink = pane.prompt.cursor_blink, False
        pane.show_activity("streaming")
        pane.run_stream(exchange, message)  # the pane's worker: it runs `draw`

    def _tick_with_text(self) -> None:
        message = self.message
        view = message.live_view() if message is not None else None
        # Text comes a read at a time and is drawn just after each read: wait for the next
        # read's update (a frame anyway), not a frame of the status bar's own in between. Up
        # to two read intervals (a busy machine delays a read), then it ticks alone: the text
        # has stalled, and the status (a countdown, the speed) must still move.
        wait = 2.0 / self._pane.glm.settings.ui.refresh_rate + READ_SLACK
        if view is None or not view.after_next_update(self.tick, wait):
            self.tick()

    def tick(self) -> None:
        message = self.message
        shown = self._pane.glm.active_pane is self._pane
        if shown:
            self.catch_up()
            self._ask_for_key()
        self._pace_reads(shown)
        timer = self._tick_timer
        if timer is not None:
            # A background pane's titles and status are brought up to date when it is shown
            # (PaneTabs.shown ticks it): till then its timer rests.
            if shown:
                timer.resume()
            else:
                timer.pause()
        if message is None or not shown:
            return
        message.tick()
        rate, state = self._meter.reading(message.first_output_at)
        if self._pane.approval is not None:
            state = "approve the tool call? y/a/n"
        self._pane.update_status(rate=rate, state=state)

    def _pace_reads(self, shown: bool) -> None:
        """A shown pane draws `refresh_rate` times a second: reading the network more often
        would only wake the app for text that waits for the next update anyway. A read comes
        a little later than the view's next update is allowed, so the view shows each read's
        text at once (read and update in step), not a frame later. A hidden pane reads its
        text less often (BACKGROUND_READ_INTERVAL), and the rest as a shown pane does."""
        rate = self._pane.glm.settings.ui.refresh_rate
        if shown:
            # The end of a shown answer is shown the moment it arrives (watch).
            self.read_pace.change(1.0 / rate + READ_SLACK, watch=True)
        elif self._text_flowing:
            self.read_pace.change(BACKGROUND_READ_INTERVAL, watch=False)
        else:
            self.read_pace.change(1.0 / rate + READ_SLACK, watch=False)

    def _text_arriving(self, flowing: bool) -> None:
        if flowing is not self._text_flowing:
            self._text_flowing = flowing
            self._pace_reads(self._pane.glm.active_pane is self._pane)

    def stop(self) -> bool:
        """Stop the answer being streamed (what arrived is kept and saved)."""
        if self.exchange is None:
            return False
        self.exchange.cancel()
        return True

    async def draw(self, exchange: Exchange, message: AssistantMessage) -> None:
        """Draw the engine's events; the engine saves them. Leaving early (the pane closed,
        the app quit) cancels the exchange, which saves what arrived.

        A hidden pane draws nothing: its events wait in `_backlog`, with the moment each
        arrived, and are drawn when the pane is shown (`catch_up`). Mounting a hidden answer's
        panels and retitling them laid out the whole screen each time, for nothing on it."""
        pane = self._pane
        fold = pane.glm.settings.ui.fold_thinking_when_answer_starts
        uncounted = self._meter.uncounted
        backlog = self._backlog
        # The exchange's task, started by the first iteration, inherits the pace from here.
        self._pace_reads(pane.glm.active_pane is pane)
        READ_PACE.set(self.read_pace)
        waiting = True  # the status says so until the first words (then it ticks)
        try:
            async for event in exchange:
                kind = type(event)
                if kind is ContentDelta:
                    uncounted.append(event.text)  # type: ignore[union-attr]
                    if not self._text_flowing:
                        self._text_arriving(True)
                elif kind is ReasoningDelta:
                    uncounted.append(event.text)  # type: ignore[union-attr]
                    if self._text_flowing:
                        self._text_arriving(False)
                elif kind is RetryScheduled:
                    # The client sleeps before the next try; the tick shows the countdown.
                    self._meter.retry_scheduled(event)  # type: ignore[arg-type]
                    self.tick()
                    continue
                elif kind is SaveFailed:
                    pane.not_saved.say(event.message)  # type: ignore[union-attr]
                    continue
                elif kind is ToolCallUpdate:
                    if event.state != "streaming":  # type: ignore[union-attr]
                        self._meter.pause()  # the model's call is over: the tools' turn
                    pane.pane_tools.call_moved(event)  # type: ignore[arg-type]
                    self._text_arriving(False)
                elif kind is RoundStarted:
                    self._meter.resume()
                    self._text_arriving(False)
                elif kind is ApprovalRequest:
                    # The question is asked on its call's panel, drawn first; the tab says so.
                    self.catch_up()
                    pane.pane_tools.ask(message, event)  # type: ignore[arg-type]
                    continue
                if backlog or pane.glm.active_pane is not pane:
                    step = partial(_draw, message, event, fold)
                    backlog.append((message, time.monotonic(), step))
                    continue
                _draw(message, event, fold)
                if waiting and message.first_output_at is not None:
                    waiting = False
                    self._tick_with_text()  # "streaming" with the first words, not 0.5 s on
        finally:
            self._end(message, exchange.result or exchange.cancel())

    def catch_up(self) -> None:
        """Draw what the answer received while the pane was hidden, each event as of the
        moment it arrived (thinking times, the first words)."""
        backlog = self._backlog
        if not backlog:
            return
        steps = backlog[:]
        backlog.clear()
        for message, moment, step in steps:
            with message.as_of(moment):
                step()

    def _end(self, message: AssistantMessage, result: ExchangeResult) -> None:
        pane = self._pane
        if self._tick_timer is not None:
            self._tick_timer.stop()
            self._tick_timer = None
        if self._blink is not None:
            pane.prompt.cursor_blink, self._blink = self._blink, None
        error = result.error
        note = error.message if error else result.note
        if isinstance(error, AuthError):
            note = f"{error.message} Or here: {pane._key('command_palette')} → Set API key."
        usage = result.usage
        pane.pane_tools.answered(None)
        finish = partial(
            message.finish,
            status=result.status,
            error=note,
            reasoning_tokens=usage.reasoning_tokens if usage else None,
        )
        if self._backlog or pane.glm.active_pane is not pane:
            self._backlog.append((message, time.monotonic(), finish))  # drawn when shown
        else:
            finish()
        self.message = None
        self.exchange = None
        before = pane.spending.over if pane.spending is not None else ()
        pane.spending = result.spending
        if result.spending.over != before:  # rarely: the panes are a query of the screen
            budget_mark.share(pane.glm, result.spending, but=pane)
        for line in result.spending.crossed:  # once, as the answer crosses it; then a mark
            pane.app.notify(line, title="Budget", severity="warning", timeout=15, markup=False)
        pane.update_status(rate=None, state="")
        pane.show_activity("failed" if error is not None else "done")
        if not pane.is_attached:
            return
        self.give_back_unanswered()
        if isinstance(error, AuthError):
            # The key was refused: ask for another right away (in a pane in the background,
            # when it is shown: `tick`); the prompt waits in the box.
            self._key_refused = error.message
            self._ask_for_key()

    def give_back_unanswered(self) -> None:
        """The last prompt goes back in the box when the next request will leave it out (its
        answer failed or was stopped before any text: engine/turns.py `unanswered`), when
        its answer ends and when the conversation is opened again (unless the box was kept
        since: pane_draft.py); never twice."""
        pane = self._pane
        left = unanswered(pane.engine.turns)
        if left is not None and left.content not in pane.prompt.text:
            pane._give_back(left.content)
            self._given_back = left

    def _ask_for_key(self) -> None:
        reason = self._key_refused
        if reason is not None and self._pane.is_active():
            self._key_refused = None
            self._pane.offer_key_dialog(reason=reason)


def _draw(message: AssistantMessage, event: object, fold: bool) -> None:
    """One of the engine's events on the answer it belongs to."""
    kind = type(event)
    if kind is ContentDelta:
        message.add_content(event.text, fold_thinking=fold)  # type: ignore[attr-defined]
    elif kind is ReasoningDelta:
        message.add_reasoning(event.text)  # type: ignore[attr-defined]
    elif kind is ToolCallUpdate:
        message.tool_update(event, fold_thinking=fold)  # type: ignore[arg-type]
    elif kind is RoundStarted:
        message.start_round()
    elif kind is Usage:
        message.round_usage(event.reasoning_tokens)  # type: ignore[attr-defined]
    elif kind is WebSearchResults:
        message.round_sources(event.results)  # type: ignore[attr-defined]
