"""WHATWG event-stream decoding over a byte stream, split only at CR, LF and CRLF."""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

# Lines end at CR, LF or CRLF only: never str.splitlines(), which also splits at U+2028,
# U+0085 and friends that arrive raw inside JSON strings.
_EOL = re.compile(r"\r\n|\r|\n")


class ServerSentEvent(NamedTuple):  # a tuple: cheap to build once per token
    data: str
    event: str = "message"
    id: str = ""


class SSEDecoder:
    """Incremental decoder: feed bytes, get the events they complete."""

    __slots__ = ("_decoder", "_buf", "_skip_lf", "_data", "_event", "_last_id")

    def __init__(self) -> None:
        # utf-8-sig drops one leading BOM; the incremental decoder keeps a character that a
        # network read cut in half until its other bytes arrive.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._buf = ""
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._decoder.decode(chunk)
        data = self._buf + text if self._buf else text
        if self._skip_lf and data:
            if data[0] == "\n":
                data = data[1:]
            self._skip_lf = False
        events: list[ServerSentEvent] = []
        if "\r" not in data:
            # Fast path for the usual LF-only stream: one split, `data:` lines inline.
            lines = data.split("\n")
            self._buf = lines.pop()
            append = self._data.append
            for line in lines:
                if line[:6] == "data: ":
                    append(line[6:])
                elif not line and len(self._data) == 1 and not self._event:
                    events.append(ServerSentEvent(self._data[0], "message", self._last_id))
                    self._data.clear()
                else:
                    self._line(line, events)
            return events
        pos = 0
        for match in _EOL.finditer(data):
            self._line(data[pos : match.start()], events)
            pos = match.end()
            # A CR at the very end may be the first half of a CRLF cut by the read.
            if pos == len(data) and match.group() == "\r":
                self._skip_lf = True
        self._buf = data[pos:]
        return events

    def _line(self, line: str, events: list[ServerSentEvent]) -> None:
        if not line:
            if self._data:
                data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
                events.append(ServerSentEvent(data, self._event or "message", self._last_id))
                self._data.clear()
            self._event = ""
            return
        if line[0] == ":":
            return  # a comment: keep-alives and "OPENROUTER PROCESSING"
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
        self._buf = ""
        self._data.clear()
