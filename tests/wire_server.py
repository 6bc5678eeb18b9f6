"""A real HTTP/1.1 server on 127.0.0.1 that replays recorded bodies at chosen byte splits."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/event-stream"})
    # How to cut the body: None = one piece; an int = fixed slice size; a list = slice sizes.
    splits: int | list[int] | None = None
    delay: float = 0.0  # seconds between slices
    head_delay: float = 0.0  # seconds before the status line
    drop_after: int | None = None  # close the connection abruptly after this many body bytes
    chunks: Callable[[], Iterable[bytes]] | None = None  # generated body (long streams)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


# The one SSE builder for tests and benchmarks. A test about the framing itself (CRLF, a BOM,
# `data:` without its space, split lines) writes its bytes out by hand instead.
SSE_DONE = b"data: [DONE]\n\n"


def sse_data(doc: Any) -> bytes:
    """One `data:` event carrying `doc` as JSON."""
    return b"data: " + json.dumps(doc, ensure_ascii=False).encode() + b"\n\n"


def sse_event(delta: dict[str, Any], *, usage: dict[str, Any] | None = None, **extra: Any) -> bytes:
    """One event in Z.ai's chunk shape carrying `delta` (extra keys go in the choice, `usage`
    next to the choices, as the last chunk of a stream carries it)."""
    doc: dict[str, Any] = {
        "id": "20250806190000aa00bb11cc22dd33",
        "created": 1754506800,
        "model": "glm-4.5",
        "choices": [{"index": 0, "delta": {"role": "assistant", **delta}, **extra}],
    }
    if usage is not None:
        doc["usage"] = usage
    return sse_data(doc)


def sse_body(*events: bytes | dict[str, Any], done: bool = True) -> bytes:
    """A stream's body: each event (built bytes, or a chunk to send as one `data:` event),
    then `[DONE]` unless `done` is false."""
    body = b"".join(e if isinstance(e, bytes) else sse_data(e) for e in events)
    return body + (SSE_DONE if done else b"")


def fixture_reply(name: str, **kw: Any) -> Reply:
    """A Reply built from a recorded fixture body and its sidecar's status and headers."""
    sidecar = json.loads((FIXTURES / f"{name}.json").read_text())
    body = (FIXTURES / sidecar["body_file"]).read_bytes()
    headers = dict(sidecar.get("response_headers") or {"Content-Type": "text/event-stream"})
    headers.update(kw.pop("headers", {}))
    return Reply(body=body, status=sidecar["http_status"], headers=headers, **kw)


def sidecar(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _slices(body: bytes, splits: int | list[int] | None) -> list[bytes]:
    if splits is None:
        return [body]
    if isinstance(splits, int):
        return [body[i : i + splits] for i in range(0, len(body), splits)]
    out, pos = [], 0
    for size in splits:
        if pos >= len(body):
            break
        out.append(body[pos : pos + size])
        pos += size
    if pos < len(body):
        out.append(body[pos:])
    return out


class WireServer:
    """Runs in its own thread so sync tests, subprocesses and async tests can all use it."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.replies: list[Reply] = []
        self.default: Reply | None = None
        self.disconnects = 0
        self.disconnected = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply(self, *replies: Reply) -> WireServer:
        self.replies.extend(replies)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        self.requests.append(RecordedRequest(method, path, headers, body))
        reply = self.replies.pop(0) if self.replies else self.default
        if reply is None:
            reply = Reply(body=b'{"error":"no reply queued"}', status=500)
        watcher = asyncio.ensure_future(self._watch_disconnect(reader))
        try:
            await self._send(reply, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            watcher.cancel()
            writer.close()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _watch_disconnect(self, reader: asyncio.StreamReader) -> None:
        try:
            data = await reader.read(1)
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.disconnects += 1
            self.disconnected.set()

    async def _send(self, reply: Reply, writer: asyncio.StreamWriter) -> None:
        if reply.head_delay:
            await asyncio.sleep(reply.head_delay)
        reason = {
            200: "OK",
            400: "Bad Request",
            401: "Unauthorized",
            402: "Payment Required",
            429: "Too Many Requests",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
        }.get(reply.status, "Status")
        head = [f"HTTP/1.1 {reply.status} {reason}"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        head += ["Transfer-Encoding: chunked", "Connection: close", "", ""]
        writer.write("\r\n".join(head).encode("latin-1"))
        await writer.drain()
        pieces: Iterable[bytes] = (
            reply.chunks() if reply.chunks else _slices(reply.body, reply.splits)
        )
        sent = 0
        for piece in pieces:
            if not piece:
                continue
            if reply.drop_after is not None and sent + len(piece) >= reply.drop_after:
                piece = piece[: reply.drop_after - sent]
                if piece:
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    await writer.drain()
                writer.transport.abort()  # no terminating chunk: a cut connection
                return
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            sent += len(piece)
            if reply.delay:
                await asyncio.sleep(reply.delay)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
