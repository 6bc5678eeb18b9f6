"""WHATWG event-stream decoding over a byte stream, split only at CR, LF and CRLF."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

# CR and LF are ASCII, so splitting the raw bytes never cuts a UTF-8 sequence: each
# complete line is decoded on its own and a character split across reads survives.
_EOL = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str = ""


class SSEDecoder:
    """Incremental decoder: feed bytes, get the events they complete."""

    __slots__ = ("_buf", "_skip_lf", "_at_start", "_data", "_event", "_last_id", "comments")

    def __init__(self) -> None:
        self._buf = b""
        self._skip_lf = False
        self._at_start = True
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self.comments = 0

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        data = self._buf + chunk if self._buf else chunk
        if self._at_start:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._buf = data
                return []
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
            self._at_start = False
        if self._skip_lf and data:
            if data[:1] == b"\n":
                data = data[1:]
            self._skip_lf = False
        events: list[ServerSentEvent] = []
        pos = 0
        for match in _EOL.finditer(data):
            self._line(data[pos : match.start()], events)
            pos = match.end()
            # A CR at the very end may be the first half of a CRLF cut by the read.
            if pos == len(data) and match.group() == b"\r":
                self._skip_lf = True
        self._buf = data[pos:]
        return events

    def _line(self, raw: bytes, events: list[ServerSentEvent]) -> None:
        if not raw:
            if self._data:
                events.append(
                    ServerSentEvent("\n".join(self._data), self._event or "message", self._last_id)
                )
            self._data = []
            self._event = ""
            return
        line = raw.decode("utf-8", errors="replace")
        if line[0] == ":":
            self.comments += 1
            return
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        # `retry` and unknown fields change nothing a chat client uses.

    def close(self) -> None:
        """End of stream: an unterminated event is discarded, as the spec says."""
        self._buf = b""
        self._data = []


def iter_events(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.close()


async def aiter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    decoder.close()
