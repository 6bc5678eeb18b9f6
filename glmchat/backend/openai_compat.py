"""The one streaming HTTP client for every OpenAI-compatible chat server."""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from functools import lru_cache
from typing import Any

import httpx

from glmchat import __version__
from glmchat.backend import errors as E
from glmchat.backend.dialects import (
    build_body,
    classify_error,
    parse_error_body,
    read_reasoning,
)
from glmchat.backend.events import (
    ChatRequest,
    ContentDelta,
    Finish,
    ReasoningDelta,
    RetryScheduled,
    StreamEvent,
    Usage,
)
from glmchat.backend.providers import ProviderConfig
from glmchat.backend.sse import SSEDecoder
from glmchat.backend.think_tags import ThinkTagSplitter

CONNECT_TIMEOUT = 10.0
MAX_ERROR_BODY = 64 * 1024


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


class _HiddenKey:
    """An API key that never shows in a repr, a log line or a traceback's locals."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<api key hidden>"


_scan_json = json.JSONDecoder().scan_once


def _loads(data: str) -> Any:
    """json.loads without its wrapper layers: this runs once per token."""
    try:
        doc, end = _scan_json(data, 0)
    except StopIteration:
        return json.loads(data)  # leading whitespace, or not JSON: let json say which
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if end != len(data) and data[end:].strip():
        raise ValueError("extra data after JSON")
    return doc


class _StreamState:
    """What one response has said so far; turns chunks into events."""

    __slots__ = (
        "provider",
        "finish_reason",
        "usage",
        "done",
        "saw_reasoning_field",
        "tags",
        "text",
        "_run",
        "_run_kind",
        "_tag_reasoning",
    )

    def __init__(self, provider: ProviderConfig) -> None:
        self.provider = provider
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.saw_reasoning_field = False
        self.tags = ThinkTagSplitter()
        self.text = False  # any reasoning or content delivered
        # Consecutive deltas of one kind within a network read become one event: the text is
        # the same, and every consumer (screen, store) does less work per token.
        self._run: list[str] = []
        self._run_kind: type[ReasoningDelta] | type[ContentDelta] | None = None
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
        if self._run:
            assert self._run_kind is not None
            out.append(self._run_kind("".join(self._run)))
            self._run = []
        self._run_kind = None

    def chunk(self, doc: Any, out: list[StreamEvent]) -> None:
        # Runs once per token: plain type checks and dict lookups, no helper layers.
        if type(doc) is not dict:
            raise E.ProtocolError(
                f"{self.provider.display_name} sent a stream chunk that is not a JSON object.",
                provider=self.provider.name,
            )
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
        if not choices or type(choices) is not list:
            return
        choice = choices[0]
        if type(choice) is not dict:
            return
        delta = choice.get("delta") or choice.get("message")
        if delta and type(delta) is dict:
            reasoning = read_reasoning(delta)
            if reasoning is not None and not self._tag_reasoning:
                # Whichever form of reasoning comes first wins: llama.cpp's deepseek-legacy
                # format sends the same text both as a field and as <think> tags.
                self.saw_reasoning_field = True
                if reasoning:
                    self._add(ReasoningDelta, reasoning, out)
            content = delta.get("content")
            if content and type(content) is str:
                if self._run_kind is ContentDelta and self.tags.passthrough:
                    self._run.append(content)
                else:
                    self._content(content, out)
        reason = choice.get("finish_reason")
        if reason and type(reason) is str and self.finish_reason is None:
            self.finish_reason = reason

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


async def parse_stream(
    provider: ProviderConfig,
    chunks: AsyncIterable[bytes],
    state: _StreamState | None = None,
) -> AsyncIterator[StreamEvent]:
    """Events from the raw bytes of one chat-completions event stream, read as they arrive.

    Ends with Usage (if the server sent any) and Finish; raises StreamInterrupted when the
    bytes stop before a finish_reason or `[DONE]`, ProtocolError on a chunk that is not JSON."""
    state = state or _StreamState(provider)
    decoder = SSEDecoder()
    out: list[StreamEvent] = []
    loads = _loads
    async for chunk in chunks:
        try:
            for sse in decoder.feed(chunk):
                data = sse.data
                if not data.strip():
                    continue  # an empty keep-alive event carries nothing
                if data == "[DONE]":
                    state.done = True
                    break
                try:
                    doc = loads(data)
                except ValueError:
                    raise E.ProtocolError(
                        f"{provider.display_name} sent a malformed stream chunk "
                        f"({_clip(data)}). The partial answer is kept; retry.",
                        provider=provider.name,
                        retryable=True,
                    ) from None
                state.chunk(doc, out)
        except E.ProviderError:
            # Deliver what arrived before the bad event: a partial answer is never lost.
            state.flush(out)
            for event in out:
                yield event
            raise
        state.close_run(out)
        if out:
            for event in out:
                yield event
            out.clear()
        if state.done:
            break
    decoder.close()
    state.flush(out)
    for event in out:
        yield event
    if not state.done and state.finish_reason is None:
        raise E.StreamInterrupted(
            f"The stream from {provider.display_name} ended before the answer was complete. "
            + ("The partial answer is kept; retry for a complete one." if state.text else "Retry."),
            provider=provider.name,
        )
    if state.finish_reason == "error":
        # A finish_reason of "error" with no error object: the provider failed mid-answer.
        error = classify_error(
            provider, None, None, 'the stream ended with finish_reason "error"', mid_stream=True
        )
        error.finish_reason = "error"
        raise error
    for event in _final_events(state):
        yield event


def _final_events(state: _StreamState) -> list[StreamEvent]:
    """What closes a finished answer: held-back text, usage if any, and Finish."""
    out: list[StreamEvent] = []
    state.flush(out)
    if state.usage is not None:
        out.append(usage_from_dict(state.usage))
    out.append(Finish(state.finish_reason or "stop"))
    return out


@lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """The TLS context httpx would build for every client, built once per process.

    Loading the certificate store takes 20-50 ms; a new client (a provider's first request)
    would otherwise pay it on the way to the first token. Thread-safe: the TUI builds it in the
    background at start-up."""
    return httpx.create_ssl_context()


class OpenAICompatClient:
    """Streams chat completions from one provider. One instance may serve many streams."""

    def __init__(
        self,
        provider: ProviderConfig,
        api_key: str | None,
        *,
        base_url: str | None = None,
        read_timeout: float | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        max_attempts: int = 3,
        retry_budget: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.provider = provider
        self._api_key = _HiddenKey(api_key) if api_key else None
        self.base_url = (base_url or provider.base_url).rstrip("/")
        self.max_attempts = max(1, max_attempts)
        self.retry_budget = retry_budget
        self._sleep = sleep
        timeout = httpx.Timeout(
            connect=connect_timeout,
            read=read_timeout if read_timeout is not None else provider.read_timeout,
            write=30.0,
            pool=connect_timeout,
        )
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=timeout, follow_redirects=True, verify=shared_ssl_context()
        )
        self._timeout = timeout

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatClient(provider={self.provider.name!r}, base_url={self.base_url!r})"

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> OpenAICompatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def headers(self) -> httpx.Headers:
        # httpx.Headers masks Authorization in its repr, so a traceback that shows locals
        # (Textual's does) cannot print the key.
        headers = httpx.Headers(
            {
                "User-Agent": f"glmchat/{__version__}",
                "Accept": "text/event-stream",
                "Accept-Language": "en-US,en",
            }
        )
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.value}"
        headers.update(dict(self.provider.headers))
        return headers

    # ------------------------------------------------------------------ streaming

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield events for one answer. Retries only before the first token, only for
        retryable errors; cancelling the consumer closes the connection at once."""
        body = build_body(self.provider, request)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            state = _StreamState(self.provider)
            try:
                async for event in self._attempt(body, state):
                    yield event
                return
            except E.ProviderError as exc:
                if state.text or not exc.retryable or attempt >= self.max_attempts:
                    raise
                delay = self._backoff(attempt, exc.retry_after)
                if time.monotonic() - started + delay > self.retry_budget:
                    raise
                yield RetryScheduled(attempt, self.max_attempts, delay, exc.message)
                await self._sleep(delay)

    @staticmethod
    def _backoff(attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, retry_after)
        base = min(16.0, 1.0 * 2 ** (attempt - 1))
        return base / 2 + random.uniform(0, base / 2)

    async def _attempt(
        self, body: dict[str, Any], state: _StreamState
    ) -> AsyncIterator[StreamEvent]:
        url = f"{self.base_url}/chat/completions"
        name = self.provider.display_name
        try:
            async with self._client.stream(
                "POST", url, json=body, headers=self.headers(), timeout=self._timeout
            ) as response:
                if response.status_code >= 400:
                    raise self._http_error(response, await _read_capped(response))
                ctype = response.headers.get("content-type", "").lower()
                if "text/event-stream" in ctype or not ctype:
                    async for event in parse_stream(self.provider, response.aiter_raw(), state):
                        yield event
                else:
                    for event in await self._whole_body(response, state, ctype):
                        yield event
        except E.ProviderError:
            raise
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                raise E.NetworkError(
                    f"Timed out connecting to {name} at {self.base_url}. "
                    "Check your network or the base URL.",
                    provider=self.provider.name,
                ) from None
            seconds = self._timeout.read
            if state.finish_reason and state.finish_reason != "error":
                for event in _final_events(state):
                    yield event
                return
            if state.text:
                raise E.StreamInterrupted(
                    f"{name} sent nothing for {seconds:g} s and the answer stopped. "
                    "The partial answer is kept; retry for a complete one.",
                    provider=self.provider.name,
                ) from None
            raise E.NetworkError(
                f"{name} sent nothing for {seconds:g} s. Retry, or raise the read timeout "
                f"(providers.{self.provider.name}.read_timeout).",
                provider=self.provider.name,
            ) from None
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.ProxyError) as exc:
            raise E.NetworkError(
                f"Could not connect to {name} at {self.base_url} ({_reason(exc)}). "
                "Check your network or the base URL.",
                provider=self.provider.name,
                retryable=False,  # a refused or unresolvable host does not heal in seconds
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if state.finish_reason and state.finish_reason != "error":
                # The answer had ended (finish_reason seen); only the goodbye was lost.
                for event in _final_events(state):
                    yield event
                return
            raise E.StreamInterrupted(
                f"The connection to {name} broke before the answer ended ({_reason(exc)}). "
                + (
                    "The partial answer is kept; retry for a complete one."
                    if state.text
                    else "Retry."
                ),
                provider=self.provider.name,
            ) from None
        except httpx.HTTPError as exc:
            raise E.NetworkError(
                f"Talking to {name} failed ({_reason(exc)}). Retry.", provider=self.provider.name
            ) from None
        except httpx.InvalidURL as exc:
            raise E.NetworkError(
                f"The base URL {self.base_url!r} is not a valid URL ({_reason(exc)}).",
                provider=self.provider.name,
                retryable=False,
            ) from None

    async def _whole_body(
        self, response: httpx.Response, state: _StreamState, ctype: str
    ) -> list[StreamEvent]:
        """A server that ignored `stream: true` and sent one JSON completion."""
        raw = await _read_capped(response)
        name = self.provider.display_name
        if "json" not in ctype:
            _, message, _ = parse_error_body(raw)
            raise E.ProtocolError(
                f"{name} answered with {ctype or 'an unknown type'} instead of a stream"
                f"{f' ({message})' if message else ''}. Check the base URL.",
                http_status=response.status_code,
                provider=self.provider.name,
            )
        try:
            doc = json.loads(raw)
        except ValueError:
            raise E.ProtocolError(
                f"{name} sent a body that is not JSON. Check the base URL.",
                http_status=response.status_code,
                provider=self.provider.name,
            ) from None
        out: list[StreamEvent] = []
        state.chunk(doc, out)
        state.flush(out)
        if state.usage is not None:
            out.append(usage_from_dict(state.usage))
        out.append(Finish(state.finish_reason or "stop"))
        return out

    # ------------------------------------------------------------------ models

    def _http_error(self, response: httpx.Response, body: bytes) -> E.ProviderError:
        code, message, metadata = parse_error_body(body)
        return classify_error(
            self.provider,
            response.status_code,
            code,
            message or response.reason_phrase,
            headers=response.headers,
            metadata=metadata,
        )

    async def list_models(self) -> list[str]:
        url = f"{self.base_url}/models"
        name = self.provider.display_name
        headers = self.headers()
        headers["Accept"] = "application/json"
        try:
            response = await self._client.get(url, headers=headers, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise E.NetworkError(
                f"Could not reach {name} at {self.base_url} ({_reason(exc)}). "
                "Check your network or the base URL.",
                provider=self.provider.name,
            ) from None
        if response.status_code >= 400:
            raise self._http_error(response, response.content[:MAX_ERROR_BODY])
        try:
            doc = response.json()
        except ValueError:
            raise E.ProtocolError(
                f"{name} sent a model list that is not JSON.", provider=self.provider.name
            ) from None
        items = doc.get("data") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            items = doc.get("models", []) if isinstance(doc, dict) else []
        ids = [str(item.get("id") or item.get("name")) for item in items if isinstance(item, dict)]
        return sorted(i for i in ids if i and i != "None")


async def list_models(
    provider: ProviderConfig, api_key: str | None, *, base_url: str | None = None
) -> list[str]:
    """The model ids a provider offers, from GET {base_url}/models."""
    async with OpenAICompatClient(provider, api_key, base_url=base_url) as client:
        return await client.list_models()


async def _read_capped(response: httpx.Response) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        parts.append(chunk)
        size += len(chunk)
        if size >= MAX_ERROR_BODY:
            break
    return b"".join(parts)[:MAX_ERROR_BODY]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")
