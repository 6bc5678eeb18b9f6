"""The one streaming HTTP client for every OpenAI-compatible chat server."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import httpx

from glmchat import __version__
from glmchat.backend import errors as E
from glmchat.backend.chunks import StreamState, final_events, parse_stream, parse_whole
from glmchat.backend.compat_httpx import read_body_in_batches, use_network_backend
from glmchat.backend.dialects import build_body
from glmchat.backend.events import ChatRequest, RetryScheduled, StreamEvent

# `X as X` re-exports: the model listing lived here, and callers still import it from here.
from glmchat.backend.model_list import fetch_model_list as fetch_model_list
from glmchat.backend.model_list import list_models as list_models
from glmchat.backend.network import AsyncioBackend
from glmchat.backend.provider_errors import classify_error, parse_error_body
from glmchat.backend.providers import ProviderConfig
from glmchat.backend.response_body import (
    ACCEPT_ENCODING,
    body_kind,
    read_capped,
    read_head,
    unreadable_encoding,
)
from glmchat.backend.retry import Clock, RetryPolicy, Sleep
from glmchat.secret_values import mask_text, secrets_in, shown_url

CONNECT_TIMEOUT = 10.0
MAX_ERROR_BODY = 64 * 1024
# A server that ignores `stream: true` sends the whole answer at once; it is held in memory.
MAX_WHOLE_BODY = 32 * 1024 * 1024
NETWORK = AsyncioBackend()  # holds no state: one for every client


class _HiddenKey:
    """An API key that never shows in a repr, a log line or a traceback's locals."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<api key hidden>"


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
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.provider = provider
        self._api_key = _HiddenKey(api_key) if api_key else None
        self.base_url = (base_url or provider.base_url).rstrip("/")  # requests go here, whole
        # How it is named in a message or a repr: its password, query values and token-like
        # path segments masked (found by QA: "Could not connect to Z.ai at
        # http://bob:hunter2@…?token=…"), and those parts masked wherever an error quotes them.
        self.shown_url = shown_url(self.base_url)
        self._url_secrets = secrets_in(texts=[self.base_url])
        self.retry = RetryPolicy(max(1, max_attempts), retry_budget, sleep=sleep, clock=clock)
        timeout = httpx.Timeout(
            connect=connect_timeout,
            read=read_timeout if read_timeout is not None else provider.read_timeout,
            write=30.0,
            pool=connect_timeout,
        )
        self._own_client = client is None
        if client is None:
            client = httpx.AsyncClient(
                timeout=timeout, follow_redirects=True, verify=shared_ssl_context()
            )
            # Reads in batches, at the pace the consumer draws (network.READ_PACE), and hands
            # each read's chunks over in one piece.
            use_network_backend(client, NETWORK)
            read_body_in_batches()
        self._client = client
        self._timeout = timeout
        self._reasoning_refused = False  # the server refused reasoning sent back in history

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatClient(provider={self.provider.name!r}, base_url={self.shown_url!r})"

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
                "Accept-Encoding": ACCEPT_ENCODING,
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
        body = build_body(self.provider, request, send_reasoning=not self._reasoning_refused)
        retry = self.retry
        started = retry.clock()
        attempt = 0
        while True:
            attempt += 1
            state = StreamState(self.provider, keep_details=bool(request.tools))
            try:
                async for event in self._attempt(body, state):
                    yield event
                return
            except E.ProviderError as exc:
                self._hide_secrets(exc)
                if not state.text and _refuses_reasoning(exc, body):
                    # Some servers refuse a reasoning field on messages (wire/TOOLS.md 8.7):
                    # ask once more without it, and never send it to this client's server
                    # again. Not a retry of the same request, so it spends no attempt.
                    self._reasoning_refused = True
                    body = build_body(self.provider, request, send_reasoning=False)
                    attempt -= 1
                    continue
                # Never after text: a second answer would not continue the first.
                delay = None if state.text else retry.delay(attempt, exc, started)
                if delay is None:
                    raise
                yield RetryScheduled(attempt, retry.max_attempts, delay, exc.message)
                await retry.sleep(delay)

    async def _attempt(
        self, body: dict[str, Any], state: StreamState
    ) -> AsyncIterator[StreamEvent]:
        url = f"{self.base_url}/chat/completions"
        name = self.provider.display_name
        try:
            async with self._client.stream(
                "POST", url, json=body, headers=self.headers(), timeout=self._timeout
            ) as response:
                encoding = unreadable_encoding(response)
                if response.status_code >= 400:
                    raw = b""
                    if not encoding:
                        raw = await read_capped(response.aiter_bytes(), MAX_ERROR_BODY)
                    raise self._http_error(response, raw, encoding)
                if encoding:
                    raise E.ProtocolError(
                        f"{name} sent its answer compressed with {encoding!r}, which glmchat "
                        "did not ask for and cannot decode. Check the base URL and any proxy "
                        "in between.",
                        http_status=response.status_code,
                        provider=self.provider.name,
                    )
                # Decoded bytes (gzip, deflate): a gateway may compress even an event stream.
                chunks = response.aiter_bytes()
                head = await read_head(chunks)
                ctype = response.headers.get("content-type", "").lower()
                kind = body_kind(ctype, head)
                if kind == "sse":
                    async for event in parse_stream(self.provider, chunks, state, head=head):
                        yield event
                else:
                    events, error = await self._whole_body(
                        response, chunks, state, ctype, kind, head
                    )
                    for event in events:
                        yield event
                    if error is not None:
                        raise error
        except E.ProviderError:
            raise
        except httpx.DecodingError as exc:
            raise E.ProtocolError(
                f"{name} sent a compressed body that does not decompress ({_reason(exc)}). "
                + (
                    "The partial answer is kept. Check any proxy in between."
                    if state.text
                    else "Check the base URL and any proxy in between."
                ),
                provider=self.provider.name,
            ) from None
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                raise E.NetworkError(
                    f"Timed out connecting to {name} at {self.shown_url}. "
                    "Check your network or the base URL.",
                    provider=self.provider.name,
                ) from None
            seconds = self._timeout.read
            if state.finish_reason:
                # The answer had ended (finish_reason seen); only the goodbye was lost.
                events, error = final_events(state)
                for event in events:
                    yield event
                if error is not None:
                    raise error from None
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
                f"Could not connect to {name} at {self.shown_url} ({_reason(exc)}). "
                "Check your network or the base URL.",
                provider=self.provider.name,
                retryable=False,  # a refused or unresolvable host does not heal in seconds
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if state.finish_reason:
                # The answer had ended (finish_reason seen); only the goodbye was lost.
                events, error = final_events(state)
                for event in events:
                    yield event
                if error is not None:
                    raise error from None
                return
            raise E.StreamInterrupted(
                f"The connection to {name} broke before the answer ended ({_broken(exc)}). "
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
                f"The base URL {self.shown_url!r} is not a valid URL ({_reason(exc)}).",
                provider=self.provider.name,
                retryable=False,
            ) from None

    async def _whole_body(
        self,
        response: httpx.Response,
        chunks: AsyncIterator[bytes],
        state: StreamState,
        ctype: str,
        kind: str,
        head: bytes,
    ) -> tuple[list[StreamEvent], E.ProviderError | None]:
        """A body that is not an event stream: one JSON completion from a server that ignored
        `stream: true` (its events, and the error its finish_reason means, if any), or
        something that is not an answer at all."""
        name = self.provider.display_name
        limit = MAX_WHOLE_BODY if kind == "json" else MAX_ERROR_BODY
        raw = head + await read_capped(chunks, limit + 1 - len(head))
        if kind != "json":
            _, message, _ = parse_error_body(raw[:MAX_ERROR_BODY])
            raise E.ProtocolError(
                f"{name} answered with {ctype or 'an unknown type'} instead of a stream"
                f"{f' ({message})' if message else ''}. Check the base URL.",
                http_status=response.status_code,
                provider=self.provider.name,
            )
        if len(raw) > limit:
            raise E.ProtocolError(
                f"{name} sent an answer of more than {limit // 2**20} MiB in one piece. "
                "Check the base URL.",
                provider=self.provider.name,
            )
        return parse_whole(self.provider, raw, state)

    def _http_error(
        self, response: httpx.Response, body: bytes, encoding: str | None = None
    ) -> E.ProviderError:
        code, message, metadata = parse_error_body(body)
        if encoding:
            message = f"a body compressed with {encoding!r}, which glmchat cannot decode"
        return classify_error(
            self.provider,
            response.status_code,
            code,
            message or response.reason_phrase,
            headers=response.headers,
            metadata=metadata,
        )

    def _hide_secrets(self, error: E.ProviderError) -> None:
        """Mask this client's key wherever the provider's words quote it ("invalid key
        sk-…"), and its base URL's secret parts (a 404 page may quote the path asked for):
        an error is shown, saved with the answer, exported and printed by `ask`."""
        message = error.message
        for secret in sorted(self._url_secrets, key=len, reverse=True):
            if len(secret) >= 4:  # a shorter one would mask ordinary words
                message = message.replace(secret, "****")
        key = self._api_key.value if self._api_key is not None else ""
        # A Z.ai key is "ID.SECRET": either half alone is quoted too. A string this short is
        # no key anyone issues, and would match ordinary words.
        quoted = [key, *(part for part in key.split(".") if len(part) >= 12 and part != key)]
        if len(key) >= 8 and any(secret in message for secret in quoted):
            from glmchat.credentials import mask  # only on this rare path

            for secret in quoted:
                message = message.replace(secret, mask(secret))
        if message != error.message:
            error.message = message
            error.args = (message, *error.args[1:])

    # ------------------------------------------------------------------ models

    async def model_list(self) -> Any:
        """GET {base_url}/models as the server sent it (OpenRouter's carries prices)."""
        url = f"{self.base_url}/models"
        name = self.provider.display_name
        headers = self.headers()
        headers["Accept"] = "application/json"
        try:
            try:
                response = await self._client.get(url, headers=headers, timeout=self._timeout)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise E.NetworkError(
                    f"Could not reach {name} at {self.shown_url} ({_reason(exc)}). "
                    "Check your network or the base URL.",
                    provider=self.provider.name,
                ) from None
            if response.status_code >= 400:
                raise self._http_error(response, response.content[:MAX_ERROR_BODY])
        except E.ProviderError as exc:
            self._hide_secrets(exc)
            raise
        try:
            return response.json()
        except ValueError:
            raise E.ProtocolError(
                f"{name} sent a model list that is not JSON.", provider=self.provider.name
            ) from None


_REASONING_KEYS = ("reasoning_content", "reasoning_details", "reasoning")


def _refuses_reasoning(exc: E.ProviderError, body: dict[str, Any]) -> bool:
    """Whether a 400/422 names a reasoning field this body sent on a message."""
    if exc.http_status not in (400, 422):
        return False
    sent = {key for m in body["messages"] for key in _REASONING_KEYS if key in m}
    words = exc.message.lower()
    return any(key in words for key in sent)


# httpx's words for a connection that broke, in the user's: h11 says what the parser saw.
_BROKEN = (
    ("peer closed connection without sending complete message body", "the server closed it"),
    ("server disconnected without sending a response", "the server closed it unanswered"),
)


def _broken(exc: BaseException) -> str:
    text = _reason(exc)
    lowered = text.lower()
    return next((plain for words, plain in _BROKEN if words in lowered), text)


def _reason(exc: BaseException) -> str:
    """httpx's words, one line: a URL they quote (a proxy's, a redirect's) masked as any."""
    text = str(exc).strip()
    return mask_text(text.splitlines()[0])[:160] if text else type(exc).__name__
