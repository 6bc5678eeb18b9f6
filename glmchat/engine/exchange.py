"""Exchange: one answer being streamed, its model call in a task of its own, saved as it goes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from glmchat.backend.errors import ProviderError
from glmchat.backend.events import (
    ChatRequest,
    ContentDelta,
    Finish,
    ReasoningDelta,
    ToolCall,
    Usage,
)
from glmchat.backend.finish import finish_note
from glmchat.engine.events import EngineEvent, ExchangeEnded, ExchangeResult
from glmchat.engine.turns import Turn

if TYPE_CHECKING:
    from glmchat.engine.conversation import ConversationEngine
    from glmchat.store import StreamRecorder

log = logging.getLogger("glmchat.engine")
CHECKPOINT_SECONDS = 1.0


class Exchange:
    """One answer being streamed: iterate it for events; `cancel()` stops it and saves what
    arrived. The model call runs in its own task, so a cancel from anywhere (a key, a closed
    pane, Ctrl-C) lands in one place."""

    def __init__(
        self,
        engine: ConversationEngine,
        request: ChatRequest,
        turn: Turn,
        recorder: StreamRecorder,
    ) -> None:
        self.engine = engine
        self.request = request
        self.turn = turn
        self.recorder = recorder
        self.result: ExchangeResult | None = None
        self._queue: asyncio.Queue[EngineEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self._usage: Usage | None = None
        self._finish_reason: str | None = None
        self._tool_calls: tuple[ToolCall, ...] = ()

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self.events()

    async def events(self) -> AsyncIterator[EngineEvent]:
        """The exchange's events, ending with `ExchangeEnded`. Leaving early cancels it."""
        self.start()
        try:
            for event in self.engine.take_save_events():
                yield event
            while True:
                event = await self._queue.get()
                yield event
                if type(event) is ExchangeEnded:
                    return
        finally:
            if self.result is None:
                self.cancel()

    def start(self) -> None:
        if self._task is None and self.result is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
            self._schedule_tick()

    def cancel(self) -> ExchangeResult:
        """Stop the answer now and save what arrived as `cancelled` (idempotent)."""
        if self.result is None:
            self._finish(cancelled=True)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        return self.result  # type: ignore[return-value]

    async def wait(self) -> ExchangeResult:
        """Run the exchange to its end without looking at its events."""
        async for _ in self.events():
            pass
        assert self.result is not None
        return self.result

    # --- the model call ------------------------------------------------------------------

    async def _run(self) -> None:
        put = self._queue.put_nowait
        error: ProviderError | None = None
        try:
            client = self.engine.clients(self.engine.provider_name)
            async for event in client.stream(self.request):
                kind = type(event)
                if kind is ContentDelta:
                    self._record(self.recorder.add_content, event.text)  # type: ignore[union-attr]
                elif kind is ReasoningDelta:
                    self._record(self.recorder.add_reasoning, event.text)  # type: ignore[union-attr]
                elif kind is Usage:
                    self._usage = event  # type: ignore[assignment]
                elif kind is Finish:
                    self._finish_reason = event.reason  # type: ignore[union-attr]
                    self._tool_calls = event.tool_calls  # type: ignore[union-attr]
                    continue
                put(event)
        except ProviderError as exc:
            error = exc
            self._finish_reason = exc.finish_reason or self._finish_reason
            self._tool_calls = exc.tool_calls or self._tool_calls
        except asyncio.CancelledError:
            if self.result is None:
                self._finish(cancelled=True)
            put(ExchangeEnded(self.result))  # type: ignore[arg-type]
            return
        except Exception as exc:  # never take a front-end down: the answer shows it
            log.debug("unexpected error in an exchange", exc_info=True)
            error = ProviderError(f"Unexpected error: {type(exc).__name__}: {exc}")
        if self.result is None:
            self._finish(error=error)
        for event in self.engine.take_save_events():
            put(event)
        put(ExchangeEnded(self.result))  # type: ignore[arg-type]

    def _record(self, add: Callable[[str], Any], text: str) -> None:
        if self.recorder.store is None:
            add(text)
            return
        from glmchat.store import StoreError

        try:
            add(text)
        except StoreError as exc:
            self._stop_saving(exc)

    def _stop_saving(self, exc: Exception) -> None:
        self.recorder.detach()
        self.engine.saving_failed(str(exc))
        for event in self.engine.take_save_events():
            self._queue.put_nowait(event)

    def _schedule_tick(self) -> None:
        # A quiet stream (a long think with no deltas, a retry wait) is checkpointed too.
        loop = asyncio.get_running_loop()
        self._ticker = loop.call_later(CHECKPOINT_SECONDS, self._tick)

    def _tick(self) -> None:
        if self.result is not None:
            return
        if self.recorder.store is not None:
            from glmchat.store import StoreError

            try:
                self.recorder.tick()
            except StoreError as exc:
                self._stop_saving(exc)
        self._schedule_tick()

    # --- the end -------------------------------------------------------------------------

    def _finish(self, *, error: ProviderError | None = None, cancelled: bool = False) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        recorder = self.recorder
        content, reasoning = recorder.content, recorder.reasoning
        if cancelled:
            status = "cancelled"
        elif error is not None:
            status = "partial" if content else "error"
        else:
            status = "complete"
        note = (
            None
            if error or cancelled
            else finish_note(self._finish_reason, tool_calls=bool(self._tool_calls))
        )
        usage = self._usage.as_dict() if self._usage else None
        timings = recorder.timings()
        if recorder.store is not None:
            from glmchat.store import StoreError

            try:
                recorder.finish(
                    status=status,
                    usage=usage,
                    error=error.message if error else None,
                    finish_reason=self._finish_reason,
                )
            except StoreError as exc:
                self.engine.saving_failed(str(exc))
        turn = self.turn
        turn.content, turn.reasoning, turn.status = content, reasoning, status
        turn.error = error.message if error else None
        turn.finish_reason, turn.usage, turn.timings = self._finish_reason, usage, timings
        self.result = ExchangeResult(
            status=status,
            content=content,
            reasoning=reasoning,
            finish_reason=self._finish_reason,
            usage=self._usage,
            error=error,
            note=note,
            tool_calls=self._tool_calls,
            cancelled=cancelled,
            saved=self.engine.store is not None and self.engine.save_error is None,
            timings=timings,
        )
        if self.engine.running is self:
            self.engine.running = None
