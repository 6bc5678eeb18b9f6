"""The sockets under httpx: asyncio's own transports, read at the pace the reader asks for.

httpx reaches the network through httpcore's backend, anyio by default. Per network read, anyio
sets up a cancel scope for the timeout and hands over one socket read: with a provider writing
each token on its own, that is one wake-up, one scope and one trip through httpcore and httpx
per token, and most of a streamed answer's CPU outside drawing (issue 14). This backend:

- hands over everything that has arrived, in one piece, and arms a timer only when it must wait;
- reads at a pace (`read_pace.ReadPace`, set by whoever consumes the stream): a pane that
  draws 12 times a second gains nothing from waking for each of 100 tokens a second. Between
  paced reads of a background pane the socket is not read at all (the transport is paused), so
  the kernel gathers what arrives and the next read takes it in one system call; a shown pane's
  reader wakes early for the end of the body. A stream that brings a lot per read is read as
  fast as it comes: pacing never slows a stream down, it only batches a slow one.

Timeouts and errors are httpcore's own exceptions, which httpx maps as it maps anyio's.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

from glmchat.backend.read_pace import READ_PACE, ReadPace

__all__ = ["AsyncioBackend", "AsyncioStream"]

# The last bytes of a chunked HTTP/1.1 body (the zero-length chunk, no trailers).
_END_OF_CHUNKED_BODY = b"0\r\n\r\n"
# Past this much unread data the transport stops reading until the reader catches up (the
# kernel then holds the rest and TCP slows the server down): memory stays bounded.
HIGH_WATER = 256 * 1024
# Reads are paced only once this many in a row brought less than FAST_BATCH each: the first
# bytes of an answer are never held back, and a stream arriving faster than a batch per tick
# (whose batches cost nothing per event anyway) is read as fast as it comes.
SLOW_READS = 3
FAST_BATCH = 16 * 1024
# The most one socket read takes. A plain Protocol gets each read as a new bytes object of
# asyncio's max_size (256 KiB), which the allocator maps and unmaps for every packet: 10 us
# a token when a provider writes each on its own, against 1 us into a buffer of our own.
RECEIVE_BUFFER = 64 * 1024


class _Connection(asyncio.BufferedProtocol):
    """What arrived on one connection, and who waits for it."""

    def __init__(self) -> None:
        self._buffer = memoryview(bytearray(RECEIVE_BUFFER))
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.ended = False  # EOF or connection lost: no more data will come
        self.error: BaseException | None = None
        self.reader: asyncio.Future[None] | None = None
        self.writer: asyncio.Future[None] | None = None
        self.sleeper: asyncio.Future[None] | None = None  # a paced reader between reads
        self.paused = False  # reading paused by us
        self.write_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.reader is not None:
            self._wake_reader()
        elif self.sleeper is not None and (
            self.size >= FAST_BATCH or data.endswith(_END_OF_CHUNKED_BODY)
        ):
            # A paced reader waits for its next tick, but a lot has come (read it now, so
            # the stream is never slowed down) or the body has ended (show the end at once).
            self._wake_sleeper()
        elif self.size > HIGH_WATER and not self.paused:
            assert self.transport is not None
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake_reader()
        self._wake_sleeper()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        self._wake_reader()
        self._wake_sleeper()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        writer, self.writer = self.writer, None
        if writer is not None and not writer.done():
            writer.set_result(None)

    def _wake_reader(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None and not reader.done():
            reader.set_result(None)

    def _wake_sleeper(self) -> None:
        sleeper, self.sleeper = self.sleeper, None
        if sleeper is not None and not sleeper.done():
            sleeper.set_result(None)


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self._last_read = 0.0  # loop time of the last paced read
        self._slow = 0  # reads in a row that brought less than FAST_BATCH

    @property
    def _transport(self) -> asyncio.Transport:
        transport = self._connection.transport
        assert transport is not None  # set on connection_made, before the stream exists
        return transport

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        conn = self._connection
        if not conn.chunks and not conn.ended:
            pace = READ_PACE.get()
            interval = pace.interval if pace is not None else 0.0
            loop = asyncio.get_running_loop()
            if interval > 0 and self._slow >= SLOW_READS:
                # From the pace as it is now: a pane shown since the last read (between two
                # reads, with no wait to cut short) does not wait out its background interval.
                wait = self._last_read + interval - loop.time()
                if wait > 0:
                    assert pace is not None
                    await self._pause(wait, pace)
            if conn.paused:
                conn.paused = False
                self._transport.resume_reading()
            if not conn.chunks and not conn.ended:
                await self._arrival(conn, loop, timeout)
            if pace is not None:
                self._last_read = loop.time()
        chunks = conn.chunks
        if not chunks:
            if conn.error is not None:
                raise httpcore.ReadError(_reason(conn.error))
            return b""
        # Judged on all that was there to take: a small batch means a slow stream.
        self._slow = self._slow + 1 if conn.size < FAST_BATCH else 0
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        if len(data) > max_bytes:
            chunks.append(data[max_bytes:])
            data = data[:max_bytes]
        conn.size -= len(data)
        return data

    async def _pause(self, seconds: float, pace: ReadPace) -> None:
        """Wait for the next paced read (or for a sooner pace: `ReadPace.change`).

        Watching (a stream someone is looking at), the event loop goes on taking what arrives
        from the socket, and the read comes early when the body ends (the end is shown at
        once) or a lot has come. Otherwise the socket is not read at all meanwhile: the kernel
        gathers what arrives and the next read takes it in one system call, the least work."""
        conn = self._connection
        loop = asyncio.get_running_loop()
        if not pace.watch and not conn.paused:
            conn.paused = True
            self._transport.pause_reading()
        sleeper = loop.create_future()
        if pace.watch:
            conn.sleeper = sleeper
        pace.waiting(sleeper)
        timer = loop.call_later(seconds, _resolve, sleeper)
        try:
            await sleeper
        finally:
            conn.sleeper = None
            pace.done_waiting(sleeper)
            timer.cancel()

    async def _arrival(
        self, conn: _Connection, loop: asyncio.AbstractEventLoop, timeout: float | None
    ) -> None:
        waiter = conn.reader = loop.create_future()
        timer = loop.call_later(timeout, waiter.cancel) if timeout is not None else None
        try:
            await waiter
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if timer is not None and waiter.cancelled() and not (task and task.cancelling()):
                raise httpcore.ReadTimeout(f"nothing arrived for {timeout:g} s") from None
            raise
        finally:
            conn.reader = None
            if timer is not None:
                timer.cancel()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        conn = self._connection
        self._slow = 0  # a new request on a kept-alive connection: its answer starts unpaced
        if conn.ended or self._transport.is_closing():
            raise httpcore.WriteError(_reason(conn.error) if conn.error else "connection closed")
        self._transport.write(buffer)
        if not conn.write_paused:
            return
        waiter = conn.writer = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not send for {timeout:g} s") from None
        if conn.ended and conn.error is not None:
            raise httpcore.WriteError(_reason(conn.error))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        conn = self._connection
        try:
            transport = await loop.start_tls(
                self._transport,
                conn,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout if timeout else None,
            )
        except TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout("the TLS handshake timed out") from None
        except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            self._transport.abort()
            raise httpcore.ConnectError(_reason(exc)) from None
        assert isinstance(transport, asyncio.Transport)
        # start_tls does not call connection_made: reads are paused on the TLS transport now.
        conn.transport = transport
        return AsyncioStream(conn)

    def get_extra_info(self, info: str) -> Any:
        transport = self._transport
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            # Asked of an idle kept-alive connection: readable means the server closed it or
            # sent something unasked, and the connection is not reused.
            conn = self._connection
            if conn.chunks or conn.ended:
                return True
            sock = transport.get_extra_info("socket")
            return sock is None or _readable(sock.fileno())
        return None


def _readable(fd: int) -> bool:
    """Whether a read would return at once (data or the server's close), without reading."""
    if fd < 0:
        return True
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    return bool(poll.poll(0))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[tuple[Any, ...]] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        connecting = loop.create_connection(_Connection, host, port, local_addr=local)
        transport, conn = await _connect(connecting, timeout)
        _set_options(transport, socket_options)
        return AsyncioStream(conn)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[tuple[Any, ...]] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        transport, conn = await _connect(loop.create_unix_connection(_Connection, path), timeout)
        _set_options(transport, socket_options)
        return AsyncioStream(conn)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect(connecting: Any, timeout: float | None) -> tuple[Any, _Connection]:
    try:
        transport, conn = await asyncio.wait_for(connecting, timeout)
    except TimeoutError:
        raise httpcore.ConnectTimeout("timed out connecting") from None
    except OSError as exc:
        raise httpcore.ConnectError(_reason(exc)) from None
    assert isinstance(conn, _Connection)
    return transport, conn


def _set_options(
    transport: asyncio.BaseTransport, options: Iterable[tuple[Any, ...]] | None
) -> None:
    sock = transport.get_extra_info("socket")
    for option in options or ():
        sock.setsockopt(*option)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
