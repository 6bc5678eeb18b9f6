"""The asyncio network backend under httpx (glmchat/backend/network.py): reads in batches at the
consumer's pace, never slower than the stream; TLS, unix sockets, proxies, timeouts and large
request bodies through it. Real servers on loopback; counts, never wall time."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from glmchat.backend import network, openai_compat
from glmchat.backend.compat_httpx import use_network_backend
from glmchat.backend.errors import NetworkError
from glmchat.backend.events import ChatRequest, ContentDelta, Message
from glmchat.backend.network import AsyncioBackend, AsyncioStream
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.backend.providers import BUILTIN_PROVIDERS
from glmchat.backend.read_pace import READ_PACE, ReadPace
from tests.wire_server import FIXTURES, Reply, WireServer, sse_body, sse_event

TLS = FIXTURES / "tls"
REQUEST = ChatRequest("glm-4.5", (Message("user", "go"),))


class Counting(AsyncioBackend):
    """The real backend, counting what its streams do."""

    def __init__(self) -> None:
        self.connections = 0
        self.reads = 0
        self.pauses = 0

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connections += 1
        return self._watch(await super().connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connections += 1
        return self._watch(await super().connect_unix_socket(*args, **kwargs))

    def _watch(self, stream: httpcore.AsyncNetworkStream) -> httpcore.AsyncNetworkStream:
        assert isinstance(stream, AsyncioStream)
        backend = self
        read, pause, start_tls = stream.read, stream._pause, stream.start_tls

        async def counted_read(max_bytes: int, timeout: float | None = None) -> bytes:
            backend.reads += 1
            return await read(max_bytes, timeout)

        async def counted_pause(seconds: float, watch: bool) -> None:
            backend.pauses += 1
            await pause(seconds, watch)

        async def watched_tls(*args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
            return self._watch(await start_tls(*args, **kwargs))

        stream.read = counted_read  # type: ignore[method-assign]
        stream._pause = counted_pause  # type: ignore[method-assign]
        stream.start_tls = watched_tls  # type: ignore[method-assign]
        return stream


def events(n: int) -> bytes:
    return sse_body(*[sse_event({"content": f"t{i} "}) for i in range(n)])


def text_of(n: int) -> str:
    return "".join(f"t{i} " for i in range(n))


async def answer(client: OpenAICompatClient) -> str:
    out = []
    async for event in client.stream(REQUEST):
        if isinstance(event, ContentDelta):
            out.append(event.text)
    return "".join(out)


def counted_client(url: str) -> tuple[OpenAICompatClient, Counting]:
    client = OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "k", base_url=url)
    backend = Counting()
    assert use_network_backend(client._client, backend) == 1
    return client, backend


# --- httpx's private detail (tripwire) -----------------------------------------------------


def test_the_client_reaches_the_network_through_glmchat_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`use_network_backend` relies on httpx keeping each transport's httpcore pool in
    `_pool` and httpcore keeping its backend in `_network_backend`: if either moves, this
    fails, not the app's speed silently."""
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    client = OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "k")
    pool = client._client._transport._pool  # type: ignore[attr-defined]
    assert pool._network_backend is openai_compat.NETWORK
    assert isinstance(openai_compat.NETWORK, AsyncioBackend)


async def test_a_proxy_from_the_environment_goes_through_it_too(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loopback server stands in for the proxy: a proxied plain-HTTP request is sent to it
    # whole, target URL and all.
    monkeypatch.setenv("HTTP_PROXY", wire.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    wire.reply(Reply(body=events(3)))
    client = OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "k", base_url="http://provider.test/v4")
    backend = Counting()
    assert use_network_backend(client._client, backend) >= 2  # the direct pool and the proxy's
    async with client:
        assert await answer(client) == text_of(3)
    assert backend.connections == 1
    assert wire.requests[0].path == "http://provider.test/v4/chat/completions"


# --- pacing ----------------------------------------------------------------------------------


async def test_a_paced_reader_takes_a_slow_stream_in_batches(wire: WireServer) -> None:
    n = 60
    wire.reply(Reply(body=events(n), splits=_event_splits(n), delay=0.01))
    client, backend = counted_client(wire.url)
    READ_PACE.set(ReadPace(0.1))
    async with client:
        assert await answer(client) == text_of(n)  # every token, in order
    # About 0.6 s of stream at 0.1 s a read, after the first few reads that are never paced:
    # far fewer reads than the 60 writes (unpaced, it is about one read per write).
    assert backend.reads <= 20
    assert backend.pauses >= 3


async def test_without_a_pace_each_write_is_read_as_it_comes(wire: WireServer) -> None:
    n = 60
    wire.reply(Reply(body=events(n), splits=_event_splits(n), delay=0.01))
    client, backend = counted_client(wire.url)
    async with client:
        assert await answer(client) == text_of(n)
    assert backend.reads >= 40  # the counterpart of the test above: pacing is what batches
    assert backend.pauses == 0


async def test_pacing_never_slows_a_fast_stream(wire: WireServer) -> None:
    n = 20_000
    wire.reply(Reply(body=events(n), splits=64 * 1024))
    client, backend = counted_client(wire.url)
    READ_PACE.set(ReadPace(1.0))  # a pace that would take minutes if it held back each read
    async with client:
        assert await answer(client) == text_of(n)
    assert backend.pauses <= 2  # big batches are read back to back


async def test_a_pane_that_changes_pace_mid_stream_is_read_at_the_new_pace(
    wire: WireServer,
) -> None:
    n = 80
    wire.reply(Reply(body=events(n), splits=_event_splits(n), delay=0.01))
    client, backend = counted_client(wire.url)
    pace = ReadPace(0.0)
    READ_PACE.set(pace)
    seen = 0
    reads_unpaced = -1
    async with client:
        async for event in client.stream(REQUEST):
            if isinstance(event, ContentDelta):
                seen += event.text.count(" ")  # tokens: a read's tokens come as one event
                if seen >= 20 and reads_unpaced < 0:
                    reads_unpaced = backend.reads
                    pace.interval = 0.2  # the pane went to the background
    assert seen == n
    assert reads_unpaced >= 15
    assert backend.reads - reads_unpaced <= 15  # 60 more tokens over ~0.6 s, a few reads


async def test_a_watched_stream_is_read_the_moment_its_body_ends(wire: WireServer) -> None:
    """A shown pane's reader waits for its next tick, but not past the end of the answer."""
    n = 12
    wire.reply(Reply(body=events(n), splits=_event_splits(n), delay=0.01))
    client, backend = counted_client(wire.url)
    READ_PACE.set(ReadPace(30.0, watch=True))  # a tick that would never come during the test
    async with client:
        assert await asyncio.wait_for(answer(client), 10) == text_of(n)
    assert backend.pauses == 1  # after the unpaced first reads: one wait, cut short by the end


async def test_a_watched_stream_that_turns_fast_is_read_at_once(wire: WireServer) -> None:
    n = 5_000
    head = _event_splits(6)
    rest = len(events(n)) - sum(head)
    # Six slow events, then the rest 64 KiB at a time: a paced read waiting for a tick that
    # never comes is woken by the first big slice, not by the end.
    sizes = head + [64 * 1024] * (rest // (64 * 1024)) + [rest % (64 * 1024)]
    wire.reply(Reply(body=events(n), splits=sizes, delay=0.02))
    client, backend = counted_client(wire.url)
    READ_PACE.set(ReadPace(30.0, watch=True))
    async with client:
        assert await asyncio.wait_for(answer(client), 10) == text_of(n)


async def _shown_after_three_tokens(wire: WireServer, later: float | None) -> tuple[int, int]:
    """Read a slow 40-event answer at a background pace whose next tick never comes in the
    test, and bring the pane forward (a 0.05 s pace) once 2 tokens are in: `later` seconds
    after, or at once, between two reads. Returns how many tokens were read (in 10 s at most)
    and how many paced waits there were.

    Reads are paced from the third on (SLOW_READS), and the reply's head may come in a read
    of its own: then only two tokens are in before the reader waits (found in CI under load:
    waiting for a third, the test waited out the background pace)."""
    n = 40
    wire.reply(Reply(body=events(n), splits=_event_splits(n), delay=0.01))
    client, backend = counted_client(wire.url)
    pace = ReadPace(30.0)
    READ_PACE.set(pace)
    seen = 0
    async with client:
        async for event in _within(client.stream(REQUEST), 10):
            if isinstance(event, ContentDelta):
                before, seen = seen, seen + event.text.count(" ")  # a read's tokens: one event
                if before < 2 <= seen:
                    if later is None:
                        pace.change(0.05, watch=False)
                    else:
                        loop = asyncio.get_running_loop()
                        loop.call_later(later, lambda: pace.change(0.05, watch=False))
    return seen, backend.pauses


async def test_a_reader_waiting_in_the_background_reads_at_once_when_brought_forward(
    wire: WireServer,
) -> None:
    # The pane is shown again a little later, while its reader waits. Not watching: only the
    # new pace itself (not the end of the body) can end the waits that follow, so a next read
    # still timed by the old pace would wait out the test.
    seen, pauses = await _shown_after_three_tokens(wire, later=0.1)
    assert seen == 40
    assert pauses >= 2  # it waited in the background, then at the shown pace


async def test_a_pace_changed_between_two_reads_times_the_next_one(wire: WireServer) -> None:
    """Found by CI: a pane brought forward between two reads (no reader waiting to wake)
    still had its next read timed by the old background pace (the next read's moment was
    fixed when the last one ended)."""
    seen, _ = await _shown_after_three_tokens(wire, later=None)
    assert seen == 40


async def test_a_new_request_on_a_kept_alive_connection_starts_unpaced() -> None:
    """The pace learnt on one answer must not hold back the first bytes of the next."""
    replies: asyncio.Queue[bytes] = asyncio.Queue()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            for _ in range(3):  # a slow answer: three small writes, apart
                writer.write(b"x" + data[:1])
                await writer.drain()
                await asyncio.sleep(0.02)
            await replies.put(data)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port)
        READ_PACE.set(ReadPace(30.0))  # a pace that would hold a paced read past the test
        for request in (b"1", b"2"):
            await stream.write(request)
            got = b""
            while len(got) < 6:  # three reads at most, the third leaves the stream "slow"
                got += await asyncio.wait_for(stream.read(1024), 10)
            assert got == (b"x" + request) * 3
            await replies.get()
        await stream.aclose()


# --- timeouts, bodies, other sockets ---------------------------------------------------------


async def test_a_stream_that_goes_quiet_times_out_even_between_paced_reads(
    wire: WireServer,
) -> None:
    body = events(10)
    cut = body.index(b"t5 ")
    wire.reply(Reply(body=body, splits=[cut, len(body) - cut], delay=2.0))
    client = OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "k", base_url=wire.url, read_timeout=0.3)
    READ_PACE.set(ReadPace(0.1))
    got: list[str] = []
    async with client:
        with pytest.raises(Exception) as caught:
            async for event in client.stream(REQUEST):
                if isinstance(event, ContentDelta):
                    got.append(event.text)
    assert "sent nothing for 0.3 s" in str(caught.value)
    assert "".join(got) == text_of(5)  # the part before the silence was delivered


async def test_a_request_body_larger_than_the_socket_buffers_is_sent_whole(
    wire: WireServer,
) -> None:
    wire.reply(Reply(body=events(1)))
    big = "x" * (6 * 1024 * 1024)
    request = ChatRequest("glm-4.5", (Message("user", big),))
    async with OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "k", base_url=wire.url) as client:
        async for _ in client.stream(request):
            pass
    sent = json.loads(wire.requests[0].body)
    assert sent["messages"][-1]["content"] == big


async def test_a_unix_socket_server_is_reached(tmp_path: Path) -> None:
    path = str(tmp_path / "s")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(serve, path)
    backend = Counting()
    async with server, httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=path)) as client:
        assert use_network_backend(client, backend) == 1
        response = await client.get("http://local/")
    assert response.text == "hello"
    assert backend.connections == 1


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture
async def tls_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """An HTTPS server on 127.0.0.1 with the test certificate; each request gets 40 events,
    written one by one 10 ms apart."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "localhost.pem", TLS / "localhost.key")
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()
            return
        heads.append(head)
        length = [
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ]
        if length:
            await reader.readexactly(length[0])
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        for i in range(40):
            piece = sse_event({"content": f"t{i} "})
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        piece = b"data: [DONE]\n\n"
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(piece), piece))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"https://127.0.0.1:{port}", heads


async def test_tls_streams_in_paced_batches(tls_server: tuple[str, list[bytes]]) -> None:
    url, _ = tls_server
    trusting = httpx.AsyncClient(
        verify=ssl.create_default_context(cafile=str(TLS / "localhost.pem"))
    )
    client = OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "k", base_url=url, client=trusting)
    backend = Counting()
    use_network_backend(trusting, backend)
    READ_PACE.set(ReadPace(0.1))
    async with trusting:
        assert await answer(client) == text_of(40)
    assert backend.connections == 1
    assert backend.reads <= 15  # 40 writes over ~0.4 s, read a tenth of a second apart


def _buffers_lent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The identity of each buffer a connection lends the transport for one socket read."""
    lent: list[int] = []
    get_buffer = network._Connection.get_buffer

    def watched(self: network._Connection, sizehint: int) -> memoryview:
        buffer = get_buffer(self, sizehint)
        lent.append(id(buffer.obj))
        return buffer

    monkeypatch.setattr(network._Connection, "get_buffer", watched)
    return lent


async def test_socket_reads_land_in_one_buffer_per_connection(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read handed over as a new bytes object costs a 256 KiB allocation per packet (asyncio's
    max_size), mapped and unmapped for each token: every read goes into the connection's own
    buffer instead, and each event still arrives whole and in order."""
    lent = _buffers_lent(monkeypatch)
    n = 40
    wire.reply(Reply(body=events(n), splits=_event_splits(n), delay=0.005))
    client, _ = counted_client(wire.url)
    async with client:
        assert await answer(client) == text_of(n)
    assert len(lent) >= n // 2  # one lend per socket read: packets came one by one
    assert len(set(lent)) == 1
    assert len(network._Connection()._buffer) <= 64 * 1024


async def test_tls_reads_land_in_one_buffer_too(
    tls_server: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lent = _buffers_lent(monkeypatch)
    url, _ = tls_server
    trusting = httpx.AsyncClient(
        verify=ssl.create_default_context(cafile=str(TLS / "localhost.pem"))
    )
    client = OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "k", base_url=url, client=trusting)
    use_network_backend(trusting, AsyncioBackend())
    async with trusting:
        assert await answer(client) == text_of(40)
    assert len(lent) >= 10
    assert len(set(lent)) == 1


async def test_an_untrusted_certificate_is_one_clear_line(
    tls_server: tuple[str, list[bytes]],
) -> None:
    url, heads = tls_server
    client = OpenAICompatClient(
        BUILTIN_PROVIDERS["zai"], "sk-secret-123", base_url=url, max_attempts=1
    )
    async with client:
        with pytest.raises(NetworkError) as caught:
            await answer(client)
    message = str(caught.value)
    assert "Could not connect" in message and "CERTIFICATE_VERIFY_FAILED" in message
    assert "\n" not in message and "sk-secret" not in message
    assert heads == []  # nothing, the key least of all, was sent before the handshake failed


async def _within(events: AsyncIterator[Any], seconds: float) -> AsyncIterator[Any]:
    """The events, failing the test if they take longer than `seconds` in all."""
    async with asyncio.timeout(seconds):
        async for event in events:
            yield event


def _event_splits(n: int) -> list[int]:
    """Slice sizes that write each event of `events(n)` on its own."""
    body = events(n)
    sizes, start = [], 0
    while start < len(body):
        end = body.index(b"\n\n", start) + 2
        sizes.append(end - start)
        start = end
    return sizes
