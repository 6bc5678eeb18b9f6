"""A body's chunks reach the event decoder one network read at a time, not one HTTP chunk at a
time (backend/compat_httpx.py `read_body_in_batches`): a provider writes each token as a chunk of
its own, and a background pane's read brings fifty of them. Real loopback servers; counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import h11
import pytest

from glmchat.backend.compat_httpx import rest_of_read
from glmchat.backend.errors import StreamInterrupted
from glmchat.backend.events import ContentDelta, StreamEvent
from glmchat.backend.sse import ServerSentEvent, SSEDecoder
from tests.test_network import REQUEST, counted_client, events, text_of
from tests.wire_server import sse_event

HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
)


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)


async def raw_server(body: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> asyncio.Server:
    """A server on loopback that answers each request with what `body` writes, raw."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if b"content-length" in line),
            0,
        )
        await reader.readexactly(length)
        await body(writer)
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def url_of(server: asyncio.Server) -> str:
    host, port = server.sockets[0].getsockname()[:2]
    return f"http://{host}:{port}"


@pytest.fixture
def feeds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each piece of body the event decoder is fed."""
    sizes: list[int] = []
    feed = SSEDecoder.feed

    def counted(self: SSEDecoder, chunk: bytes) -> list[ServerSentEvent]:
        sizes.append(len(chunk))
        return feed(self, chunk)

    monkeypatch.setattr(SSEDecoder, "feed", counted)
    return sizes


async def collect(stream: AsyncIterator[StreamEvent], into: list[str]) -> None:
    async for event in stream:
        if isinstance(event, ContentDelta):
            into.append(event.text)


@pytest.mark.parametrize("n", [1, 200, 2000])
async def test_the_chunks_of_one_read_are_decoded_as_one_piece(feeds: list[int], n: int) -> None:
    ready = asyncio.Event()

    async def body(writer: asyncio.StreamWriter) -> None:
        # All of the answer's chunks, each an event of its own, are on the socket before the
        # client's first read of the body: the read takes them together.
        payload = events(n).split(b"\n\n")
        writer.write(HEAD + chunked(*[piece + b"\n\n" for piece in payload if piece]))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        ready.set()

    server = await raw_server(body)
    client, backend = counted_client(url_of(server))
    text: list[str] = []
    async with server, client:
        await collect(client.stream(REQUEST), text)
    assert "".join(text) == text_of(n)
    # One piece per network read (the first holds the head as well), never one per chunk.
    assert len(feeds) <= backend.reads
    assert sum(feeds) == len(events(n))


async def test_what_came_before_a_broken_chunk_is_kept() -> None:
    async def body(writer: asyncio.StreamWriter) -> None:
        good = [sse_event({"content": f"t{i} "}) for i in range(3)]
        # Three good chunks, then a chunk size that is not hex, in the same read.
        writer.write(HEAD + chunked(*good) + b"zz\r\nnot a chunk\r\n")
        await writer.drain()

    server = await raw_server(body)
    client, _ = counted_client(url_of(server))
    text: list[str] = []
    async with server, client:
        with pytest.raises(StreamInterrupted) as broken:
            await collect(client.stream(REQUEST), text)
    assert "".join(text) == text_of(3)  # delivered before the error
    assert "partial answer is kept" in broken.value.message


def test_httpcore_still_reads_bodies_the_way_the_batching_relies_on() -> None:
    """Tripwire: `read_body_in_batches` replaces httpcore's `_receive_response_body` and calls
    its `_receive_event` and `_h11_state`; an httpcore that moves them fails here, loudly."""
    from httpcore._async.http11 import AsyncHTTP11Connection

    from glmchat.backend.compat_httpx import _body_in_batches
    from glmchat.backend.openai_compat import OpenAICompatClient
    from glmchat.backend.providers import BUILTIN_PROVIDERS

    OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "k")  # a client installs it
    assert AsyncHTTP11Connection._receive_response_body is _body_in_batches
    assert callable(AsyncHTTP11Connection._receive_event)
    assert "_h11_state" in AsyncHTTP11Connection.__init__.__code__.co_names


# --- the whole chunks of a read, taken from h11's buffer (pure: no socket) ---------------------

RESPONSE_HEAD = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
# Chunks as servers write them: lower and upper case sizes, an extension, spaces before the
# CRLF (h11 allows them), one byte, and a trailer after the last chunk.
ODD_CHUNKS = (
    b"5\r\nhello\r\n"
    b"A;name=value\r\n0123456789\r\n"
    b"1 \r\n!\r\n"
    b"c\r\ndata: {}\n\n\r\n\r\n"
    b"0\r\nx-trailer: yes\r\n\r\n"
)
ODD_BODY = b"hello0123456789!data: {}\n\n\r\n"


def body_read_in(pieces: list[bytes]) -> tuple[list[bytes], Any]:
    """What the batching hands over when h11 is fed `pieces` (after the head): one piece per
    feed at the most; and the event that ended the body."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(RESPONSE_HEAD)
    assert isinstance(conn.next_event(), h11.Response)
    out: list[bytes] = []
    event: Any = h11.NEED_DATA
    for piece in pieces:
        conn.receive_data(piece)
        while (event := conn.next_event()) is not h11.NEED_DATA:
            if isinstance(event, h11.Data):
                data, event, broken = rest_of_read(conn, event.data)
                assert broken is None
                out.append(data)
            if event is h11.NEED_DATA or isinstance(event, h11.EndOfMessage):
                break
        if isinstance(event, h11.EndOfMessage):
            break
    return out, event


def test_every_split_of_odd_chunks_gives_the_same_body() -> None:
    whole, end = body_read_in([ODD_CHUNKS])
    assert whole == [ODD_BODY]  # one read, one piece
    assert isinstance(end, h11.EndOfMessage) and end.headers == [(b"x-trailer", b"yes")]
    for cut in range(1, len(ODD_CHUNKS)):
        for second in (cut + 1, cut + 7):
            pieces = [ODD_CHUNKS[:cut], ODD_CHUNKS[cut:second], ODD_CHUNKS[second:]]
            out, end = body_read_in([piece for piece in pieces if piece])
            assert b"".join(out) == ODD_BODY, pieces
            assert len(out) <= 3 and isinstance(end, h11.EndOfMessage), pieces


@pytest.mark.parametrize(
    ("bad", "before", "words"),
    [
        (b"5\r\nhelloXY", b"onetwohello", "chunk footer"),  # h11 gives the data, then fails
        (b"zz\r\nhello\r\n", b"onetwo", "chunk header"),
    ],
)
def test_a_malformed_chunk_after_whole_ones_is_h11s_to_report(
    bad: bytes, before: bytes, words: str
) -> None:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(RESPONSE_HEAD + b"3\r\none\r\n3\r\ntwo\r\n" + bad)
    assert isinstance(conn.next_event(), h11.Response)
    first = conn.next_event()
    assert isinstance(first, h11.Data)
    data, _, broken = rest_of_read(conn, first.data)
    assert data == before  # what came before it, as h11 hands it over
    assert broken is not None and words in str(broken)


def test_a_read_of_many_chunks_costs_h11_a_few_events_not_one_per_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = [0]
    next_event = h11.Connection.next_event

    def counted(self: h11.Connection) -> Any:
        calls[0] += 1
        return next_event(self)

    monkeypatch.setattr(h11.Connection, "next_event", counted)
    body = b"".join(sse_event({"content": f"t{i} "}) for i in range(500))
    chunks = chunked(*[piece + b"\n\n" for piece in body.split(b"\n\n") if piece])
    out, end = body_read_in([chunks, b"0\r\n\r\n"])
    assert b"".join(out) == body
    assert isinstance(end, h11.EndOfMessage)
    assert calls[0] <= 8  # the head, the first chunk of each read, the ends; not 500
