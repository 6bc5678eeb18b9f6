"""Exchange: one answer being streamed, its model calls (a tool loop) in a task of its own,
saved as it goes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from glmchat.backend.errors import ProviderError
from glmchat.backend.events import (
    ChatRequest,
    ContentDelta,
    Finish,
    Message,
    ReasoningDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    WebSearchResults,
)
from glmchat.backend.finish import finish_note
from glmchat.costs import Cost, add_costs, answer_cost
from glmchat.engine.events import (
    ApprovalRequest,
    EngineEvent,
    ExchangeEnded,
    ExchangeResult,
    RoundStarted,
    ToolCallUpdate,
)
from glmchat.engine.spending import after_answer
from glmchat.engine.tool_runs import ToolRunner
from glmchat.engine.turns import Turn
from glmchat.web_sources import kept_results

if TYPE_CHECKING:
    from glmchat.engine.conversation import ConversationEngine
    from glmchat.store import StreamRecorder
    from glmchat.store.models import Status

log = logging.getLogger("glmchat.engine")
CHECKPOINT_SECONDS = 1.0


class Exchange:
    """One answer being streamed: iterate it for events; `cancel()` stops it and saves what
    arrived. The model calls and tool runs happen in a task of their own, so a cancel from
    anywhere (a key, a closed pane, Ctrl-C) lands in one place."""

    def __init__(
        self,
        engine: ConversationEngine,
        request: ChatRequest,
        turn: Turn,
        recorder: StreamRecorder,
    ) -> None:
        self.engine = engine
        self.request = request
        self.turn = turn  # the assistant turn of the round being streamed
        self.recorder = recorder
        self.result: ExchangeResult | None = None
        self.round = 0
        self._queue: asyncio.Queue[EngineEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self._usage: Usage | None = None  # this round's
        self._total_usage: Usage | None = None  # the rounds before it, summed
        self._total_cost: Cost | None = None  # the rounds before it, summed
        self._finish_reason: str | None = None
        self._calls: tuple[ToolCall, ...] = ()  # this round's, whole
        self._details: tuple[dict[str, Any], ...] = ()
        self._reasoning_before: list[str] = []  # earlier rounds' reasoning
        self._web_search: tuple[dict[str, Any], ...] = ()  # every round's
        self._round_search: tuple[dict[str, Any], ...] = ()  # this round's, saved with its row
        self._streaming_calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        structured = engine.structured
        # Structured output through a forced tool: that tool's call is the answer, not a call.
        self._answer_tool = structured.answer_tool if structured is not None else None
        self.runner = ToolRunner(self)

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self.events()

    async def events(self) -> AsyncIterator[EngineEvent]:
        """The exchange's events, ending with `ExchangeEnded`. Leaving early cancels it."""
        self.start()
        try:
            for saved in self.engine.take_save_events():
                yield saved
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
        """Stop the answer (and any tool running) now and save what happened as `cancelled`
        (idempotent)."""
        if self.result is None:
            self._finish(cancelled=True)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        assert self.result is not None  # _finish sets it
        return self.result

    async def wait(self) -> ExchangeResult:
        """Run the exchange to its end without looking at its events (tools that need an
        approval are denied: nobody is there to answer)."""
        async for event in self.events():
            if isinstance(event, ApprovalRequest):
                event.answer("deny")
        assert self.result is not None
        return self.result

    def emit(self, event: EngineEvent) -> None:
        self._queue.put_nowait(event)

    # --- the model calls -----------------------------------------------------------------

    async def _run(self) -> None:
        error: ProviderError | None = None
        try:
            while True:
                await self._model_call()
                calls = self._calls if self.engine.tools_offered(self.request) else ()
                if not calls:
                    break
                if self.round + 1 >= self.engine.tool_settings.max_rounds:
                    self.runner.not_run(calls, "the exchange reached [tools].max_rounds")
                    break
                results = await self.runner.run(self.round, calls)
                self._next_round(calls, results)
        except ProviderError as exc:
            error = exc
            self._finish_reason = exc.finish_reason or self._finish_reason
            self._calls = exc.tool_calls or self._calls
        except asyncio.CancelledError:
            if self.result is None:
                self._finish(cancelled=True)
            assert self.result is not None  # _finish sets it
            self.emit(ExchangeEnded(self.result))
            return
        except Exception as exc:  # never take a front-end down: the answer shows it
            log.debug("unexpected error in an exchange", exc_info=True)
            error = ProviderError(f"Unexpected error: {type(exc).__name__}: {exc}")
        if self.result is None:
            self._finish(error=error)
        for event in self.engine.take_save_events():
            self.emit(event)
        assert self.result is not None  # _finish sets it
        self.emit(ExchangeEnded(self.result))

    async def _model_call(self) -> None:
        put = self._queue.put_nowait
        client = self.engine.clients(self.engine.provider_name)
        self._calls, self._details, self._finish_reason = (), (), None
        self._round_search = ()
        self._streaming_calls.clear()
        # `type(event)` once and `is` per branch, not isinstance chains: this runs per network
        # read. mypy does not narrow on `kind is X`, so each branch casts (no run-time check).
        async for event in client.stream(self.request):
            kind = type(event)
            if kind is ContentDelta:
                self._record(self.recorder.add_content, cast(ContentDelta, event).text)
            elif kind is ReasoningDelta:
                self._record(self.recorder.add_reasoning, cast(ReasoningDelta, event).text)
            elif kind is Usage:
                self._usage = cast(Usage, event)
            elif kind is Finish:
                finish = cast(Finish, event)
                self._finish_reason = finish.reason
                self._calls = finish.tool_calls
                self._details = finish.reasoning_details
                if self._answer_tool is not None:
                    self._take_answer()
                continue
            elif kind is ToolCallDelta:
                update = self._streaming_update(cast(ToolCallDelta, event))
                if self._answer_tool is None or update.name != self._answer_tool:
                    put(update)
                continue
            elif kind is WebSearchResults:
                # Each is the call's whole results so far (a repeat replaces the last).
                found = cast(WebSearchResults, event).results
                earlier = len(self._web_search) - len(self._round_search)
                self._web_search = self._web_search[:earlier] + found
                self._round_search = found
            # Finish and ToolCallDelta went on above: the rest are engine events as they are.
            put(cast("EngineEvent", event))

    def _take_answer(self) -> None:
        """The answer tool's arguments become the answer's text (after any text the model
        wrote first); the other calls stay calls. An answer made only of that call ended
        as an answer does (`stop`), not as a request for tools."""
        rest = []
        for call in self._calls:
            if call.name != self._answer_tool:
                rest.append(call)
                continue
            text = call.arguments
            if self.recorder.content.strip():
                text = "\n\n" + text
            self._record(self.recorder.add_content, text)
            self._queue.put_nowait(ContentDelta(text))
        if len(rest) < len(self._calls) and not rest and self._finish_reason == "tool_calls":
            self._finish_reason = "stop"
        self._calls = tuple(rest)

    def _streaming_update(self, delta: ToolCallDelta) -> ToolCallUpdate:
        """A call's arguments as they stream in (the first id and name win)."""
        if not self._streaming_calls:  # the round's first call: its thinking is over
            self.recorder.output_started()
        call = self._streaming_calls.setdefault(delta.index, ["", "", ""])
        call[0] = call[0] or (delta.id or "")
        call[1] = call[1] or (delta.name or "")
        call[2] += delta.arguments
        return ToolCallUpdate(
            key=(self.round, delta.index),
            call_id=call[0],
            name=call[1],
            title=self.engine.tool_title(call[1]),
            arguments=call[2],
            state="streaming",
        )

    def _next_round(self, calls: tuple[ToolCall, ...], results: list[Message]) -> None:
        """Close this round's assistant row with its calls, then call the model again with the
        calls, their results and this round's reasoning (sent back as the provider wants)."""
        content, reasoning = self.recorder.content, self.recorder.reasoning
        assistant = Message(
            "assistant",
            content,
            tool_calls=calls,
            reasoning=reasoning or None,
            reasoning_details=self._details,
        )
        self._close_round(calls)
        self.request = replace(self.request, messages=(*self.request.messages, assistant, *results))
        self.round += 1
        self.turn, self.recorder = self.engine.begin_round()
        self.emit(RoundStarted(self.round))

    def _close_round(self, calls: tuple[ToolCall, ...]) -> None:
        records = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
        usage = self._usage.as_dict() if self._usage else None
        cost = self._round_cost()
        search = kept_results(self._round_search)
        self._save_row(
            status="complete",
            usage=usage,
            error=None,
            tool_calls=records,
            cost=cost,
            web_search=search,
        )
        turn = self.turn
        turn.content, turn.reasoning = self.recorder.content, self.recorder.reasoning
        turn.status, turn.finish_reason, turn.usage = "complete", self._finish_reason, usage
        turn.finished = _now()
        turn.timings, turn.tool_calls = self.recorder.timings(), records
        turn.cost, turn.cost_source = cost.usd, cost.source
        turn.web_search = search
        self._total_cost = add_costs(self._total_cost, cost)
        if self.recorder.reasoning:
            self._reasoning_before.append(self.recorder.reasoning)
        self._total_usage = add_usage(self._total_usage, self._usage)
        self._usage = None

    # --- saving --------------------------------------------------------------------------

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

    def _save_row(
        self,
        *,
        status: Status,
        usage: dict[str, Any] | None,
        error: str | None,
        tool_calls: list[dict[str, Any]] | None = None,
        cost: Cost | None = None,
        web_search: list[dict[str, str]] | None = None,
    ) -> None:
        if self.recorder.store is None:
            self.recorder.finished = True
            return
        from glmchat.store import StoreError

        try:
            self.recorder.finish(
                status=status,
                usage=usage,
                error=error,
                finish_reason=self._finish_reason,
                tool_calls=tool_calls,
                cost=cost.usd if cost else None,
                cost_source=cost.source if cost else None,
                web_search=web_search,
            )
        except StoreError as exc:
            self.engine.saving_failed(str(exc))

    def _round_cost(self) -> Cost:
        """This model call's cost, from its usage (at the end of a round: never per token)."""
        return answer_cost(
            self._usage, self.engine.settings, self.engine.provider_name, self.request.model
        )

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
        self.runner.cancel_pending()  # calls waiting or running when the exchange stopped
        recorder = self.recorder
        content, reasoning = recorder.content, recorder.reasoning
        status: Status
        if cancelled:
            status = "cancelled"
        elif error is not None:
            status = "partial" if content else "error"
        else:
            status = "complete"
        unrun = bool(self._calls) and not self.runner.ran(self.round)
        if unrun:
            self.runner.not_run(self._calls)
        note = None
        if not error and not cancelled:
            note = finish_note(self._finish_reason, tool_calls=unrun)
            if unrun and self.runner.stopped_reason:
                note = f"Tool calls were not run: {self.runner.stopped_reason}."
        usage = self._usage.as_dict() if self._usage else None
        timings = recorder.timings()
        # The row keeps the calls it made, run or not (a cancelled round's were run).
        records = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self._calls]
        cost = self._round_cost()
        search = kept_results(self._round_search)
        self._save_row(
            status=status,
            usage=usage,
            error=error.message if error else None,
            tool_calls=records or None,
            cost=cost,
            web_search=search,
        )
        total_cost = add_costs(self._total_cost, cost) or cost
        turn = self.turn
        turn.content, turn.reasoning, turn.status = content, reasoning, status
        turn.finished = _now()
        turn.error = error.message if error else None
        turn.finish_reason, turn.usage, turn.timings = self._finish_reason, usage, timings
        turn.tool_calls = records or None
        turn.cost, turn.cost_source = cost.usd, cost.source
        turn.web_search = search
        self.result = ExchangeResult(
            status=status,
            content=content,
            reasoning="\n\n".join([*self._reasoning_before, *([reasoning] if reasoning else [])]),
            finish_reason=self._finish_reason,
            usage=add_usage(self._total_usage, self._usage),
            error=error,
            note=note,
            tool_calls=self.runner.updates(),
            web_search=self._web_search,
            cancelled=cancelled,
            saved=self.engine.store is not None and self.engine.save_error is None,
            timings=timings,
            cost=total_cost.usd,
            cost_source=total_cost.source,
            spending=after_answer(
                self.engine.store, self.engine.settings, self.engine.provider_name, total_cost
            ),
        )
        if self.engine.running is self:
            self.engine.running = None


def _now() -> str:
    """The time in the store's form: an answer's end, as its row says it (kept on the turn for
    an export of what the engine holds)."""
    from glmchat.store.models import now_iso

    return now_iso()


def add_usage(a: Usage | None, b: Usage | None) -> Usage | None:
    """Two rounds' usage as one exchange's: every count adds up, the total too (a count
    neither sent stays None). Each round's own usage, whose total is the context it used, is
    on its saved message."""
    if a is None or b is None:
        return a or b

    def plus(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    cost = None if a.cost is None and b.cost is None else (a.cost or 0.0) + (b.cost or 0.0)
    return Usage(
        prompt_tokens=plus(a.prompt_tokens, b.prompt_tokens),
        completion_tokens=plus(a.completion_tokens, b.completion_tokens),
        total_tokens=plus(a.total_tokens, b.total_tokens),
        cached_tokens=plus(a.cached_tokens, b.cached_tokens),
        reasoning_tokens=plus(a.reasoning_tokens, b.reasoning_tokens),
        cost=cost,
    )
