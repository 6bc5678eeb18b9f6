"""The httpx, httpcore and h11 details glmchat relies on that are not public API (tripwires:
tests/test_network.py for the first, tests/test_body_batches.py for the others):

- where a client keeps the connection pools of its transports, so that they reach the network
  through glmchat's backend. httpx takes a transport, not a network backend, and builds its
  proxies' transports itself from the environment;
- how httpcore hands an HTTP/1.1 body over: one piece per chunk of the chunked encoding. A
  provider writes each token as a chunk of its own, so a network read that brings fifty tokens
  went through httpcore's and httpx's iterators fifty times; `read_body_in_batches` hands over
  all that one read brought in one piece;
- how h11 keeps a chunked body it has not parsed yet (`Connection._reader`, a `ChunkedReader`
  with `_bytes_in_chunk`, `_bytes_to_discard` and `_reading_trailer`; `_receive_buffer._data`,
  a bytearray; `chunk_header_re`): the whole chunks of a read are taken from there in one loop,
  a third of the cost of one h11 event per chunk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import h11
import httpcore
import httpx
from h11._readers import ChunkedReader, chunk_header_re
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
            data, event, broken = rest_of_read(h11_state, event.data)
            # Every chunk before a broken one is handed over first, as httpcore does.
            yield data
            if broken is not None:
                raise httpcore.RemoteProtocolError(broken) from broken  # httpcore's mapping
        if isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
            return
        # NEED_DATA (the read is used up) or an event httpcore skips too: read on.


def rest_of_read(
    h11_state: h11.Connection, first: bytes
) -> tuple[bytes, Any, h11.RemoteProtocolError | None]:
    """`first` (a Data event's bytes) and the body bytes after it that h11 holds, joined; the
    event that ended them (NEED_DATA, EndOfMessage...) and the protocol error, if one did."""
    parts = [first]
    try:
        while True:
            _whole_chunks(h11_state, parts)
            event = h11_state.next_event()
            if not isinstance(event, h11.Data):
                break
            parts.append(event.data)
    except h11.RemoteProtocolError as exc:
        return b"".join(parts), None, exc
    return (bytes(first) if len(parts) == 1 else b"".join(parts)), event, None


def _whole_chunks(h11_state: Any, parts: list[bytes]) -> None:
    """Take the whole chunks at the front of h11's buffer as h11's ChunkedReader would, one
    Data event each, but without the event: its header is matched with h11's own pattern, and
    anything else (a chunk not all here, the last chunk, a malformed one) is left to h11."""
    reader = h11_state._reader
    if type(reader) is not ChunkedReader or reader._reading_trailer or reader._bytes_in_chunk:
        return
    buffer = h11_state._receive_buffer
    data: bytearray = buffer._data
    pos = 0
    if reader._bytes_to_discard:  # the CRLF after the chunk h11 just gave
        if reader._bytes_to_discard != b"\r\n" or data[:2] != b"\r\n":
            return
        pos = 2
    taken = 0
    while (eol := data.find(b"\r\n", pos)) >= 0:
        header = chunk_header_re.fullmatch(data, pos, eol + 2)
        if header is None:
            break
        size = int(header["chunk_size"], 16)
        start = eol + 2
        end = start + size
        if size == 0 or data[end : end + 2] != b"\r\n":
            break
        parts.append(bytes(data[start:end]))
        pos = taken = end + 2
    if taken:
        del data[:taken]
        buffer._next_line_search = buffer._multiple_lines_search = 0
        reader._bytes_to_discard = b""


def read_body_in_batches() -> None:
    """Install `_body_in_batches` in httpcore (idempotent; for every client in the process: the
    bytes are the same, in fewer pieces)."""
    AsyncHTTP11Connection._receive_response_body = _body_in_batches  # type: ignore[method-assign]
