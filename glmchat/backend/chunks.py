"""Chat-completion chunks to stream events: pure parsing, no I/O (the HTTP client feeds it)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from glmchat.backend import errors as E
from glmchat.backend.compat_json import loads as _loads
from glmchat.backend.dialects import content_parts, read_reasoning
from glmchat.backend.events import (
    ContentDelta,
    Finish,
    ReasoningDelta,
    StreamEvent,
    ToolCallDelta,
    Usage,
    WebSearchResults,
)
from glmchat.backend.finish import finish_rule
from glmchat.backend.provider_errors import classify_error, parse_error_body
from glmchat.backend.providers import ProviderConfig
from glmchat.backend.reasoning_details import ReasoningDetails
from glmchat.backend.sse import ServerSentEvent, SSEDecoder
from glmchat.backend.think_tags import ThinkTagSplitter
from glmchat.backend.tool_calls import Progress, ToolCallAccumulator


def usage_from_dict(raw: dict[str, Any]) -> Usage:
    # A count the provider did not send stays None: 0 would claim "no cached tokens" when
    # the provider simply does not report them.
    def num(value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return int(value)

    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    cost = raw.get("cost")
    return Usage(
        prompt_tokens=num(raw.get("prompt_tokens")),
        completion_tokens=num(raw.get("completion_tokens")),
        total_tokens=num(raw.get("total_tokens")),
        cached_tokens=num(prompt_details.get("cached_tokens"))
        if isinstance(prompt_details, dict)
        else None,
        reasoning_tokens=num(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else None,
        cost=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
    )


class StreamState:
    """What one response has said so far; turns chunks into events."""

    __slots__ = (
        "provider",
        "finish_reason",
        "usage",
        "done",
        "saw_reasoning_field",
        "tags",
        "text",
        "tools",
        "details",
        "web_search",
        "_run",
        "_run_kind",
        "_run_call",
        "_tag_reasoning",
    )

    def __init__(self, provider: ProviderConfig, *, keep_details: bool = True) -> None:
        self.provider = provider
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.saw_reasoning_field = False
        self.tags = ThinkTagSplitter()
        # Anything delivered that a consumer shows (reasoning, content, a tool call, search
        # results): after it, a retry would show a second answer after the first.
        self.text = False
        self.tools = ToolCallAccumulator()
        # OpenRouter's reasoning_details go back only inside a tool loop: a request that
        # offers no tools does not pay for keeping them (`keep_details=False`).
        self.details = ReasoningDetails() if keep_details else None
        self.web_search: tuple[dict[str, Any], ...] = ()
        # Consecutive deltas of one kind within a network read become one event (for a tool
        # call: pieces of one call's arguments): the text is the same, and every consumer
        # (screen, store) does less work per token.
        self._run: list[str] = []
        self._run_kind: type[ReasoningDelta] | type[ContentDelta] | type[ToolCallDelta] | None = (
            None
        )
        self._run_call: tuple[int, str | None, str | None] = (0, None, None)
        self._tag_reasoning = False  # reasoning already came from <think> tags in content

    def _add(
        self, kind: type[ReasoningDelta] | type[ContentDelta], text: str, out: list[StreamEvent]
    ) -> None:
        if kind is not self._run_kind:
            self.close_run(out)
            self._run_kind = kind
        self._run.append(text)
        self.text = True

    def close_run(self, out: list[StreamEvent]) -> None:
        kind = self._run_kind
        if kind is None:
            return
        # issubclass, not `is`: the same cost here (once per run, not per token), and mypy
        # narrows `kind` to the text kinds in the else branch.
        if issubclass(kind, ToolCallDelta):
            position, call_id, name = self._run_call
            out.append(ToolCallDelta(position, call_id, name, "".join(self._run)))
        else:
            out.append(kind("".join(self._run)))
        self._run = []
        self._run_kind = None

    def _release_held(self, out: list[StreamEvent]) -> None:
        """Text held back (leading whitespace, a possible tag) came before what arrives now
        (a tool call, search results): it goes out first, in the order it was written."""
        if not self.tags.passthrough:
            thought, answer = self.tags.flush()
            self._emit(thought, answer, out)

    def _tool(self, progress: list[Progress], out: list[StreamEvent]) -> None:
        self._release_held(out)
        for position, call_id, name, arguments in progress:
            # A bare piece of the call under way joins its run; a call's id or name opens one.
            if (
                self._run_kind is ToolCallDelta
                and self._run_call[0] == position
                and call_id is None
                and name is None
            ):
                self._run.append(arguments)
                continue
            self.close_run(out)
            self._run_kind = ToolCallDelta
            self._run_call = (position, call_id, name)
            self._run.append(arguments)
        self.text = True

    def _web_search(self, results: Any, out: list[StreamEvent]) -> None:
        """Z.ai's top-level `web_search` (on the final chunk; once, but read any repeat)."""
        if type(results) is not list:
            return
        items = tuple(item for item in results if type(item) is dict)
        if items and items != self.web_search:
            self._release_held(out)
            self.close_run(out)
            self.web_search = items
            out.append(WebSearchResults(items))
            self.text = True

    def chunk(self, doc: Any, out: list[StreamEvent]) -> None:
        # Runs once per token: plain type checks and dict lookups, no helper layers.
        if type(doc) is not dict:
            raise self._protocol("a stream chunk that is not a JSON object")
        if doc.get("error"):
            code, message, metadata = parse_error_body(json.dumps({"error": doc["error"]}).encode())
            error = classify_error(
                self.provider, None, code, message, metadata=metadata, mid_stream=True
            )
            error.finish_reason = "error"
            raise error
        usage = doc.get("usage")
        if usage and type(usage) is dict:
            self.usage = usage
        choices = doc.get("choices")
        choice = choices[0] if choices and type(choices) is list else None
        if type(choice) is dict:
            delta = choice.get("delta") or choice.get("message")
            if delta and type(delta) is dict:
                reasoning = read_reasoning(delta)
                details = delta.get("reasoning_details")
                if details and type(details) is list and self.details is not None:
                    self.details.feed(details)
                if reasoning is not None and not self._tag_reasoning:
                    # Whichever form of reasoning comes first wins: llama.cpp's deepseek-legacy
                    # format sends the same text both as a field and as <think> tags.
                    self.saw_reasoning_field = True
                    if reasoning:
                        self._add(ReasoningDelta, reasoning, out)
                content = delta.get("content")
                if content:
                    if type(content) is str:
                        if self._run_kind is ContentDelta and self.tags.passthrough:
                            self._run.append(content)
                        else:
                            self._content(content, out)
                    else:
                        self._parts(content, out)
                calls = delta.get("tool_calls")
                if calls:
                    try:
                        progress = self.tools.feed(calls)
                    except ValueError as exc:
                        raise self._protocol(str(exc)) from None
                    if progress:
                        self._tool(progress, out)
            reason = choice.get("finish_reason")
            # The first reason wins: Z.ai repeats `tool_calls` on every tool chunk, OpenRouter
            # sends a second finish chunk with the usage.
            if reason and type(reason) is str and self.finish_reason is None:
                self.finish_reason = reason
        # Z.ai puts web_search results next to the choices of the final chunk (or of a whole
        # answer): after the text they came with.
        web_search = doc.get("web_search")
        if web_search:
            self._web_search(web_search, out)

    def _parts(self, parts: Any, out: list[StreamEvent]) -> None:
        """`content` as a list of typed parts: text is the answer, thinking is reasoning."""
        try:
            pieces = content_parts(parts)
        except ValueError as exc:
            raise self._protocol(str(exc)) from None
        for is_reasoning, text in pieces:
            if is_reasoning:
                self.saw_reasoning_field = True
                self._add(ReasoningDelta, text, out)
            else:
                self._content(text, out)

    def _protocol(self, what: str) -> E.ProtocolError:
        return E.ProtocolError(
            f"{self.provider.display_name} sent {what}, which glmchat cannot read. "
            + ("The partial answer is kept." if self.text else "Check the base URL and model."),
            provider=self.provider.name,
        )

    def _content(self, content: str, out: list[StreamEvent]) -> None:
        thought, answer = self.tags.feed(content)
        self._emit(thought, answer, out)

    def _emit(self, thought: str, answer: str, out: list[StreamEvent]) -> None:
        # With a reasoning field present, a <think> block in content is a duplicate
        # (llama.cpp's deepseek-legacy format sends both).
        if thought and not self.saw_reasoning_field:
            self._tag_reasoning = True
            self._add(ReasoningDelta, thought, out)
        if answer:
            self._add(ContentDelta, answer, out)

    def flush(self, out: list[StreamEvent]) -> None:
        thought, answer = self.tags.flush()
        self._emit(thought, answer, out)
        self.close_run(out)


def final_events(state: StreamState) -> tuple[list[StreamEvent], E.ProviderError | None]:
    """What closes an answer that reached its end: held-back text, usage if any, then Finish,
    or the error its finish_reason means (deliver the events first, then raise it)."""
    out: list[StreamEvent] = []
    state.flush(out)
    if state.usage is not None:
        out.append(usage_from_dict(state.usage))
    try:
        calls = state.tools.calls()
    except ValueError as exc:
        return out, state._protocol(str(exc))
    rule = finish_rule(state.finish_reason)
    if not rule.ok:
        error = rule.error(state.provider.name, state.provider.display_name, text=state.text)
        error.tool_calls = calls
        return out, error
    details = state.details.blocks() if state.details else ()
    out.append(Finish(state.finish_reason or "stop", calls, details))
    return out, None


async def parse_stream(
    provider: ProviderConfig,
    chunks: AsyncIterable[bytes],
    state: StreamState | None = None,
    *,
    head: bytes = b"",
) -> AsyncIterator[StreamEvent]:
    """Events from the bytes of one chat-completions event stream, read as they arrive (`head`:
    bytes already read from `chunks`).

    Ends with Usage (if the server sent any) and Finish; raises StreamInterrupted when the
    bytes stop before a finish_reason or `[DONE]`, ProtocolError on a chunk that is not JSON,
    and the error a failing finish_reason means. Whatever arrived is delivered before any error."""
    state = state or StreamState(provider)
    decoder = SSEDecoder()
    out: list[StreamEvent] = []
    try:
        if head:
            # The head is a read like any other: its events go out before the next read.
            _events(decoder.feed(head), state, out)
            state.close_run(out)
            for event in out:
                yield event
            out.clear()
        if not state.done:
            async for chunk in chunks:
                _events(decoder.feed(chunk), state, out)
                state.close_run(out)
                if out:
                    for event in out:
                        yield event
                    out.clear()
                if state.done:
                    break
    except Exception:
        # Deliver what arrived before the failure (a bad event, a broken connection, a body
        # that does not decompress): a partial answer is never lost.
        state.flush(out)
        for event in out:
            yield event
        raise
    decoder.close()
    if not state.done and state.finish_reason is None:
        state.flush(out)
        for event in out:
            yield event
        raise E.StreamInterrupted(
            f"The stream from {provider.display_name} ended before the answer was complete. "
            + ("The partial answer is kept; retry for a complete one." if state.text else "Retry."),
            provider=provider.name,
        )
    events, error = final_events(state)
    for event in out + events:
        yield event
    if error is not None:
        raise error


def _events(events: list[ServerSentEvent], state: StreamState, out: list[StreamEvent]) -> None:
    """The events one read completed, up to `[DONE]`. Runs once per read: the loop stays
    inline for the per-token path."""
    loads = _loads
    chunk = state.chunk
    for sse in events:
        data = sse.data
        if not data.strip():
            continue  # an empty keep-alive event carries nothing
        if data == "[DONE]":
            state.done = True
            return
        try:
            doc = loads(data)
        except ValueError:
            raise E.ProtocolError(
                f"{state.provider.display_name} sent a malformed stream chunk "
                f"({_clip(data)}). The partial answer is kept; retry.",
                provider=state.provider.name,
                retryable=True,
            ) from None
        chunk(doc, out)


def parse_whole(
    provider: ProviderConfig, body: bytes, state: StreamState
) -> tuple[list[StreamEvent], E.ProviderError | None]:
    """Events from a server that ignored `stream: true` and sent one JSON completion (possibly
    after keep-alive whitespace): content, reasoning, tool calls, usage and finish_reason.
    As with `final_events`, deliver the events, then raise the error if there is one."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise E.ProtocolError(
            f"{provider.display_name} sent a body that is not JSON. Check the base URL.",
            provider=provider.name,
        ) from None
    out: list[StreamEvent] = []
    state.chunk(doc, out)
    events, error = final_events(state)
    return out + events, error


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")
