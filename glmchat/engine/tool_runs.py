"""Running the tool calls of one round: approval, timeout, result size, errors as text for the
model, cancellation, and a saved record of each call."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from glmchat.backend.events import Message, ToolCall
from glmchat.engine.events import ApprovalRequest, ToolCallUpdate, ToolState
from glmchat.engine.turns import Turn
from glmchat.tools.base import Decision

if TYPE_CHECKING:
    from glmchat.engine.exchange import Exchange
    from glmchat.store.models import Status

DENIED = "The user denied this tool call."
CANCELLED = "Cancelled: the user stopped the exchange."
_OPEN_STATES = ("streaming", "queued", "waiting", "running")


class ToolRunner:
    """The calls of an exchange, round by round, and what became of each."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self._updates: dict[tuple[int, int], ToolCallUpdate] = {}
        self._ran: set[int] = set()
        self._approval: asyncio.Future[Decision] | None = None
        self.stopped_reason: str | None = None

    def updates(self) -> tuple[ToolCallUpdate, ...]:
        return tuple(self._updates.values())

    def ran(self, round_: int) -> bool:
        return round_ in self._ran

    async def run(self, round_: int, calls: tuple[ToolCall, ...]) -> list[Message]:
        """Run each call in order; one `tool` message per call, for the next model call."""
        self._ran.add(round_)
        # The model's stream is over, so is every call's arguments: each waits its turn (the
        # front-ends showed them as still being written till now).
        for index, call in enumerate(calls):
            self._set(self._update(round_, index, call, "queued"))
        out = []
        for index, call in enumerate(calls):
            update = await self._run_one(round_, index, call)
            out.append(Message("tool", update.result or "", tool_call_id=call.id))
        return out

    def not_run(self, calls: tuple[ToolCall, ...], reason: str | None = None) -> None:
        """Calls the model asked for that will not run (no tools are on, or the rounds are
        used up): listed, never dropped."""
        if reason:
            self.stopped_reason = reason
        round_ = self.exchange.round
        for index, call in enumerate(calls):
            if (round_, index) not in self._updates:
                self._set(self._update(round_, index, call, "not_run"))

    async def _run_one(self, round_: int, index: int, call: ToolCall) -> ToolCallUpdate:
        engine = self.exchange.engine
        toolbox = engine.toolbox
        update = self._update(round_, index, call, "waiting")
        tool = toolbox.find(call.name) if toolbox is not None else None
        if toolbox is None or tool is None:
            # A tool of a server that is down is not on offer, but the model may still name
            # it (it saw it earlier): it is told what became of the server.
            why = toolbox.unavailable(call.name) if toolbox is not None else None
            text = f"Error: {why}" if why else f"Error: there is no tool named {call.name!r}."
            return self._end(update, "error", text)
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError as exc:
            return self._end(
                update, "error", f"Error: the arguments are not valid JSON ({exc}); try again."
            )
        if not isinstance(arguments, dict):
            return self._end(update, "error", "Error: the arguments must be a JSON object.")
        if toolbox.needs_approval(tool):
            self._set(update)
            self._approval = asyncio.get_running_loop().create_future()
            self.exchange.emit(ApprovalRequest(update, tool.spec.read_only, self._approval))
            decision = await self._approval
            self._approval = None
            if decision == "deny":
                return self._end(update, "denied", DENIED)
            if toolbox.find(call.name) is None:
                # Switched off (or its server went down) while the question waited: a yes
                # given to the question does not bring it back.
                why = toolbox.unavailable(call.name) or f"there is no tool named {call.name!r}."
                return self._end(update, "error", f"Error: {why}")
            if decision == "always":
                toolbox.always_allowed.add(tool.spec.name)
        settings = engine.tool_settings
        running = replace(update, state="running")
        self._set(running)
        started = time.monotonic()
        try:
            output = await asyncio.wait_for(tool.call(arguments), settings.timeout)
        except TimeoutError:
            text = f"Error: the tool did not finish within {settings.timeout:g} s."
            return self._end(running, "timeout", text, started)
        except asyncio.CancelledError:
            raise  # the exchange was stopped: cancel_pending records it
        except Exception as exc:  # a tool's failure is the model's to read, never a crash
            return self._end(running, "error", f"Error: {type(exc).__name__}: {exc}", started)
        text = output.text
        if output.is_error and not text.startswith("Error"):
            text = f"Error: {text}"
        text = cap(text, settings.max_result_kb)
        return self._end(running, "error" if output.is_error else "ok", text, started)

    def cancel_pending(self) -> None:
        """The exchange stopped: a call queued, waiting for approval or running is cancelled
        (each is a call the model made: it gets its result, as a run call does)."""
        if self._approval is not None and not self._approval.done():
            self._approval.cancel()
        for update in list(self._updates.values()):
            if update.state in _OPEN_STATES and update.state != "streaming":
                self._end(update, "cancelled", CANCELLED)

    # --- records -------------------------------------------------------------------------

    def _update(self, round_: int, index: int, call: ToolCall, state: ToolState) -> ToolCallUpdate:
        return ToolCallUpdate(
            key=(round_, index),
            call_id=call.id,
            name=call.name,
            title=self.exchange.engine.tool_title(call.name),
            arguments=call.arguments,
            state=state,
        )

    def _set(self, update: ToolCallUpdate) -> None:
        self._updates[update.key] = update
        self.exchange.emit(update)

    def _end(
        self, update: ToolCallUpdate, state: ToolState, text: str, started: float | None = None
    ) -> ToolCallUpdate:
        seconds = round(time.monotonic() - started, 3) if started is not None else None
        done = replace(update, state=state, result=text, seconds=seconds)
        self._set(done)
        self._save(done)
        return done

    def _save(self, update: ToolCallUpdate) -> None:
        """A tool row right after the assistant row that made the call (rows keep their
        insertion order), and a tool turn in the engine's list."""
        from glmchat.store.models import now_iso

        engine = self.exchange.engine
        record: dict[str, Any] = {
            "id": update.call_id,
            "name": update.name,
            "title": update.title,
            "arguments": update.arguments,
            "status": update.state,
            "seconds": update.seconds,
        }
        status: Status = "cancelled" if update.state == "cancelled" else "complete"
        stamp = now_iso()  # as the store stamps a tool row: it begins and ends at once
        turn = Turn(
            role="tool",
            content=update.result or "",
            status=status,
            tool_calls=[record],
            tool_call_id=update.call_id,
            started=stamp,
            finished=stamp,
        )
        if engine._saves_below():
            turn.message_id = engine.save(
                "add_tool_result",
                engine.conversation_id,
                tool_call_id=update.call_id,
                content=turn.content,
                record=record,
                status=status,
                **engine._parent_arg(),
            )
        engine._extend(turn)


def cap(text: str, max_kb: int) -> str:
    """`text` cut to `max_kb` KiB of UTF-8 at a character boundary, with a note the model sees."""
    limit = max_kb * 1024
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", errors="ignore")
    return (
        f"{kept}\n\n[The result was cut: it was {len(data) / 1024:.0f} KiB; only the first "
        f"{max_kb} KiB are shown. Ask for a smaller part if you need the rest.]"
    )
