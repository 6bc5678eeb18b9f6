"""One `ask` run inside the event loop: tools started, the exchange streamed and printed, tool
calls approved, with --schema the document checked (and one repair round), everything stopped
at the end, also on Ctrl-C and SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from glmchat.backend.events import ContentDelta, ReasoningDelta, RetryScheduled, WebSearchResults
from glmchat.cli.ask_sources import AskSources
from glmchat.cli.ask_tools import AskTools, TerminalApprovals, activity_line
from glmchat.engine.events import (
    ApprovalRequest,
    ExchangeResult,
    RoundStarted,
    SaveFailed,
    ToolCallUpdate,
    retry_announcement,
)

if TYPE_CHECKING:
    from glmchat.engine import ConversationEngine, Exchange


class AskRun:
    """Runs the prompt's exchange (and with --schema at most one repair exchange) and keeps
    what the printer at the edge needs: the results, and the document or what is wrong
    with it."""

    def __init__(
        self,
        engine: ConversationEngine,
        client: Any,
        printer: Printer,
        tools: AskTools,
        approvals: TerminalApprovals,
        *,
        schema: Any = None,
        approve_all: bool = False,
    ) -> None:
        self.engine = engine
        self.client = client
        self.printer = printer
        self.tools = tools
        self.approvals = approvals
        self.schema = schema
        self.approve_all = approve_all
        self.exchange: Exchange | None = None
        self.results: list[ExchangeResult] = []
        self.document: Any = None
        self.schema_errors: list[str] = []
        self.checked = False  # the last answer was checked against the schema
        self.not_applicable: str | None = None  # why the schema itself failed on the answer

    async def main(self, prompt: str) -> ExchangeResult:
        _cancel_on_signals()
        try:
            self.engine.toolbox = await self.tools.start(approve_all=self.approve_all)
            if self.schema is not None:
                from glmchat.engine.structured import plan_for

                toolbox = self.engine.toolbox
                names = [t.spec.name for t in toolbox.offered()] if toolbox else []
                self.engine.structured = plan_for(
                    self.engine.provider, self.schema, other_tools=names
                )
            result = await self._exchange(prompt)
            structured = self.engine.structured
            if structured is not None and _finished(result):
                self._check(result)
                # A schema that fails by itself would fail the repair the same way.
                if self.schema_errors and self.not_applicable is None:
                    self.checked = False
                    result = await self._exchange(structured.repair_prompt(self.schema_errors))
                    if _finished(result):
                        self._check(result)
            return self.result()
        finally:
            await self.client.aclose()
            await self.tools.aclose()

    def _check(self, result: ExchangeResult) -> None:
        from glmchat.engine.structured import SchemaNotApplicable

        assert self.engine.structured is not None
        try:
            self.document, self.schema_errors = self.engine.structured.check(result.content)
        except SchemaNotApplicable as exc:
            self.not_applicable = str(exc)
            self.document, self.schema_errors = None, [f"$: {exc}"]
        self.checked = True

    def cancel(self) -> ExchangeResult | None:
        """Ctrl-C reached the edge: the running exchange stops and saves what arrived; None
        when nothing was sent yet."""
        if self.exchange is not None:
            result = self.exchange.cancel()
            if not self.results or self.results[-1] is not result:
                self.results.append(result)
        return self.result() if self.results else None

    def result(self) -> ExchangeResult:
        """The run's outcome as one exchange's: the last answer, every call, usage and cost
        summed over every model call (a repair round is one more)."""
        from glmchat.costs import Cost, CostSource, add_costs
        from glmchat.engine.exchange import add_usage

        last = self.results[-1]
        if len(self.results) == 1:
            return last
        usage = None
        cost: Cost | None = None
        for result in self.results:
            usage = add_usage(usage, result.usage)
            source = cast("CostSource | None", result.cost_source)
            cost = add_costs(cost, Cost(result.cost, source))
        assert cost is not None
        return replace(
            last,
            reasoning="\n\n".join(r.reasoning for r in self.results if r.reasoning),
            usage=usage,
            cost=cost.usd,
            cost_source=cost.source,
            tool_calls=tuple(call for r in self.results for call in r.tool_calls),
            web_search=tuple(item for r in self.results for item in r.web_search),
        )

    async def _exchange(self, prompt: str) -> ExchangeResult:
        exchange = self.exchange = self.engine.send(prompt)
        show = self.printer
        if self.results:  # a --schema repair: another model call
            show.sources.new_call()
        try:
            async for event in exchange:
                kind = type(event)
                if kind is ContentDelta:
                    show.content(event.text)  # type: ignore[union-attr]
                elif kind is ReasoningDelta:
                    show.reasoning(event.text)  # type: ignore[union-attr]
                elif kind is ToolCallUpdate:
                    show.tool(event)  # type: ignore[arg-type]
                elif kind is WebSearchResults:
                    show.sources.add(event.results)  # type: ignore[union-attr]
                elif kind is RoundStarted:
                    show.new_round()
                elif kind is ApprovalRequest:
                    show.break_line()
                    await self.approvals.answer(event)  # type: ignore[arg-type]
                elif kind is SaveFailed:
                    show.break_line()
                    print(f"glmchat: could not save the conversation: {event}", file=sys.stderr)
                elif kind is RetryScheduled and not show.json_mode:
                    # Progress for a person; with --json, stderr carries only the outcome.
                    show.break_line()
                    print(f"glmchat: {retry_announcement(event)}", file=sys.stderr)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            # The events of the stop itself are not read any more: say which calls it ended.
            for call in exchange.cancel().tool_calls:
                if call.state == "cancelled":
                    show.tool(call)
        result = exchange.cancel() if exchange.result is None else exchange.result
        self.results.append(result)
        return result


def _finished(result: ExchangeResult) -> bool:
    """An answer to check against the schema: it ended, and not with an error of its own."""
    return result.error is None and not result.cancelled


def _cancel_on_signals() -> None:
    # SIGTERM (a kill) and SIGHUP (a closed terminal) cancel like Ctrl-C: the partial answer
    # is saved and the MCP servers are stopped.
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None:
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, task.cancel)
        except (NotImplementedError, RuntimeError):
            pass


class Printer:
    """Streams the answer to stdout (reasoning and, with --show-thinking, tool activity to
    stderr) unless --json collects it; with --schema the answer waits for its check."""

    def __init__(self, *, json_mode: bool, show_thinking: bool, hold_answer: bool) -> None:
        self.json_mode = json_mode
        self.show_thinking = show_thinking and not json_mode
        self.hold_answer = hold_answer or json_mode
        self.wrote_reasoning = False
        self.last = ""
        self._apart = False  # a new round's text starts a paragraph of its own
        self.sources = AskSources()

    def content(self, text: str) -> None:
        if self.hold_answer:
            return
        text = self.sources.cite(text)
        if not text:
            return  # a citation's start, held for the next piece
        self.break_line()
        if self._apart:
            self._apart = False
            if self.last:
                sys.stdout.write("\n\n" if not self.last.endswith("\n") else "\n")
        # On a terminal, sys.stdout neutralises escape sequences (see terminal_safe_stdio).
        sys.stdout.write(text)
        sys.stdout.flush()
        self.last = text

    def reasoning(self, text: str) -> None:
        if not self.show_thinking:
            return
        sys.stderr.write(text)
        sys.stderr.flush()
        self.wrote_reasoning = True

    def tool(self, update: ToolCallUpdate) -> None:
        if not self.show_thinking:
            return
        line = activity_line(update)
        if line is not None:
            self.break_line()
            if self.last and not self.last.endswith("\n"):
                # On a terminal both streams are one screen: the line starts a line of its own.
                # The answer is unchanged: the next round starts a paragraph with it anyway.
                sys.stdout.write("\n")
                sys.stdout.flush()
                self.last = "\n"
            print(line, file=sys.stderr, flush=True)

    def new_round(self) -> None:
        self._flush_held()
        self.sources.new_call()
        self._apart = True

    def _flush_held(self) -> None:
        if held := self.sources.flush():
            self.break_line()
            sys.stdout.write(held)
            self.last = held

    def break_line(self) -> None:
        """End a line of reasoning on stderr before anything else is written."""
        if self.wrote_reasoning:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.wrote_reasoning = False

    def end(self) -> None:
        self.break_line()
        if not self.hold_answer:
            self._flush_held()
            if self.last and not self.last.endswith("\n"):
                sys.stdout.write("\n")
            if self.sources.sources:  # after the answer, as a list of its own
                sys.stdout.write(("\n" if self.last else "") + self.sources.block() + "\n")
        sys.stdout.flush()
