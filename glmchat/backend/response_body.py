"""Reading a chat server's response body: a capped read, its first bytes, what kind it is (an
event stream, one JSON document, something else) and a Content-Encoding we cannot decode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

# Only what the standard library decodes (zlib) is asked for, and a body in any other
# encoding is reported, never parsed as if it were text.
ACCEPT_ENCODING = "gzip, deflate"
_DECODED = frozenset({"gzip", "deflate", "identity", "x-gzip"})


async def read_capped(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Up to `limit` bytes of the rest of the (decoded) body."""
    parts: list[bytes] = []
    size = 0
    if limit > 0:
        async for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    return b"".join(parts)[:limit]


async def read_head(chunks: AsyncIterator[bytes]) -> bytes:
    """The body's first bytes: enough to tell an event stream from one JSON document (some
    servers ignore `stream: true`; some pad the document with keep-alive whitespace)."""
    head = b""
    while len(head.lstrip()) < 6:
        try:
            head += await anext(chunks)
        except StopAsyncIteration:
            break
    return head


def body_kind(ctype: str, head: bytes) -> str:
    """ "sse", "json" (one completion) or "other", from the content type and the first bytes."""
    start = head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    if start[:1] == b"{":
        return "json"  # a JSON document, whatever its label: no event stream starts with "{"
    if "text/event-stream" in ctype or not ctype:
        return "sse"
    if start.startswith((b"data:", b":", b"event:", b"id:", b"retry:")):
        return "sse"  # an event stream under another label
    return "json" if "json" in ctype else "other"


def unreadable_encoding(response: httpx.Response) -> str | None:
    """The first Content-Encoding httpx will not decode here, if any (httpx passes unknown
    encodings through as raw bytes)."""
    for value in response.headers.get_list("content-encoding", split_commas=True):
        value = value.strip().lower()
        if value and value not in _DECODED:
            return value[:40]
    return None
