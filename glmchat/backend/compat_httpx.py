"""The httpx and httpcore details glmchat relies on that are not public API (tripwires:
tests/test_network.py):

- where a client keeps the connection pools of its transports, so that they reach the network
  through glmchat's backend. httpx takes a transport, not a network backend, and builds its
  proxies' transports itself from the environment;
- how httpcore hands an HTTP/1.1 body over: one piece per chunk of the chunked encoding. A
  provider writes each token as a chunk of its own, so a network read that brings fifty tokens
  went through httpcore's and httpx's iterators fifty times; `read_body_in_batches` hands over
  all that one read brought in one piece."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import h11
import httpcore
import httpx
from httpcore._async.http11 import AsyncHTTP11Connection


def use_network_backend(client: httpx.AsyncClient, backend: httpcore.AsyncNetworkBackend) -> int:
    """Make every connection pool of `client` (its transport and each proxy's) connect through
    `backend`; returns how many pools now do."""
    transports = [client._transport, *client._mounts.values()]
    pools = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore.AsyncConnectionPool):  # proxies' pools are subclasses
            pool._network_backend = backend
            pools += 1
    return pools


async def _body_in_batches(
    self: AsyncHTTP11Connection, request: httpcore.Request
) -> AsyncIterator[bytes]:
    """httpcore's `_receive_response_body`, but each piece is everything h11 can give without
    waiting for the network (all the chunks of one read), not one chunk. The bytes are the same;
    only the number of pieces changes, which no reader of a byte stream may rely on."""
    timeouts: dict[str, Any] = request.extensions.get("timeout", {})
    timeout = timeouts.get("read", None)
    h11_state = self._h11_state
    while True:
        event: Any = await self._receive_event(timeout=timeout)  # an h11 event or sentinel
        if isinstance(event, h11.Data):
            parts = [event.data]
            broken: h11.RemoteProtocolError | None = None
            try:
                while isinstance(event := h11_state.next_event(), h11.Data):
                    parts.append(event.data)
            except h11.RemoteProtocolError as exc:
                broken = exc
            # Every chunk before a broken one is handed over first, as httpcore does.
            yield bytes(parts[0]) if len(parts) == 1 else b"".join(parts)
            if broken is not None:
                raise httpcore.RemoteProtocolError(broken) from broken  # httpcore's mapping
        if isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
            return
        # NEED_DATA (the read is used up) or an event httpcore skips too: read on.


def read_body_in_batches() -> None:
    """Install `_body_in_batches` in httpcore (idempotent; for every client in the process: the
    bytes are the same, in fewer pieces)."""
    AsyncHTTP11Connection._receive_response_body = _body_in_batches  # type: ignore[method-assign]
