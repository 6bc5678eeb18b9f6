"""Shared bench helpers: a generated GLM-style stream and the loopback server that serves it."""

from __future__ import annotations

import time
from collections.abc import Sequence

# Run from the repository root as `python -m bench.NAME`: the root is then on sys.path, so the
# test helpers import as the package they are.
from tests.wire_server import SSE_DONE, Reply, WireServer, sse_event

__all__ = [
    "Reply",
    "WireServer",
    "generated_stream",
    "markdown_reply",
    "raw_read",
    "seed_conversation",
]


def markdown_reply(tokens: int) -> list[str]:
    """A realistic Markdown answer cut into ~4-character tokens."""
    parts: list[str] = []
    section = 0
    while sum(map(len, parts)) < tokens * 4:
        section += 1
        parts.append(f"## Section {section}\n\nThis paragraph explains **step {section}** with ")
        parts.append("`inline code`, a few plain words, and a [link](https://example.com).\n\n")
        parts.append("- first point about the design\n- second point, *emphasised*\n")
        parts.append("- third point with `code`\n\n```python\n")
        parts.append(f"def step_{section}(x: int) -> int:\n    return x * {section} + 1\n```\n\n")
    text = "".join(parts)
    return [text[i : i + 4] for i in range(0, len(text), 4)][:tokens]


def generated_stream(tokens: list[str], reasoning: list[str] | None = None) -> bytes:
    out = bytearray(b": OPENROUTER PROCESSING\n\n")
    for piece in reasoning or []:
        out += sse_event({"reasoning_content": piece})
    for piece in tokens:
        out += sse_event({"content": piece})
    n = len(tokens) + len(reasoning or [])
    usage = {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}
    out += sse_event({"content": ""}, finish_reason="stop", usage=usage)
    out += SSE_DONE
    return bytes(out)


def raw_read(url: str) -> float:
    """Seconds for a plain httpx read of the server's reply, bytes only: the yardstick."""
    import httpx

    start = time.perf_counter()
    with httpx.Client() as client, client.stream("POST", url + "/chat/completions") as r:
        for _ in r.iter_raw():
            pass
    return time.perf_counter() - start


def seed_conversation(messages: int, last_words: str = "") -> str:
    """Save a conversation of `messages` messages (300-token Markdown answers, with some
    reasoning) in the store that GLMCHAT_DATA_DIR points at; `last_words` end the last answer.
    Returns its id."""
    from glmchat import paths
    from glmchat.store import SessionStore

    store = SessionStore(paths.database_path())
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
    answer = "".join(markdown_reply(300))
    pairs = messages // 2
    for i in range(pairs):
        store.add_message(cid, "user", f"question {i}: explain step {i}")
        mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
        store.finish_assistant(
            mid,
            content=answer + (last_words if i == pairs - 1 else ""),
            reasoning="Some thinking. " * 20,
            status="complete",
        )
    store.close()
    return cid


def _last_token_piece(pieces: list[bytes]) -> int:
    """The index of the piece that carries the reply's last non-empty content token."""
    for i in range(len(pieces) - 1, -1, -1):
        events = pieces[i].split(b"\n\n")
        if any(b'"content": "' in e and b'"content": ""' not in e for e in events):
            return i
    return len(pieces) - 1


def _serve(conn, bodies: list[bytes], splits: int, delay: float, clocks, served) -> None:  # type: ignore[no-untyped-def]
    server = WireServer()
    if splits <= 0:
        # One write per event, as a provider flushes each token; splits=-k groups k events
        # per write (with `delay` between writes, a way to pace a reply like a slower network).
        group = max(1, -splits)

        def reply_for(k: int, body: bytes) -> Reply:
            events = [e + b"\n\n" for e in body.split(b"\n\n") if e]
            pieces = [b"".join(events[i : i + group]) for i in range(0, len(events), group)]
            token_at = _last_token_piece(pieces)

            def chunks():  # type: ignore[no-untyped-def]
                with served.get_lock():
                    served.value += 1
                for i, piece in enumerate(pieces):
                    # perf_counter is CLOCK_MONOTONIC here: comparable with the measuring
                    # process. Taken just before the write: the last token's, and the last.
                    if i == token_at:
                        clocks[2 * k] = time.perf_counter()
                    if i == len(pieces) - 1:
                        clocks[2 * k + 1] = time.perf_counter()
                    yield piece

            return Reply(chunks=chunks, delay=delay)

        replies = [reply_for(k, body) for k, body in enumerate(bodies)]
        # Request k gets body k; later requests get the first body again (a second reader).
        server.replies = list(replies)
        server.default = replies[0]
    else:
        server.default = Reply(body=bodies[0], splits=splits, delay=delay)
    conn.send(server.url)
    conn.recv()  # wait for the stop word
    server.close()


class ServerProcess:
    """The loopback server in its own process, so it does not share the measured GIL.

    Given several bodies, the k-th request is answered with the k-th body (ten panes, each its
    own reply), and any later request with the first."""

    def __init__(
        self, body: bytes | Sequence[bytes], splits: int = 16384, delay: float = 0.0
    ) -> None:
        """`splits` is the size of each write; 0 writes each event on its own."""
        import multiprocessing

        bodies = [body] if isinstance(body, bytes) else list(body)
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._clocks = ctx.Array("d", 2 * len(bodies))
        self._served = ctx.Value("i", 0)
        self._proc = ctx.Process(
            target=_serve,
            args=(child, bodies, splits, delay, self._clocks, self._served),
            daemon=True,
        )
        self._proc.start()
        self.url: str = self._conn.recv()

    @property
    def requests(self) -> int:
        """How many replies have begun (one write per event only)."""
        return int(self._served.value)

    def token_write(self, k: int = 0) -> float:
        """`time.perf_counter()` when body k's last content token was last written (one write
        per event only); 0.0 before."""
        return float(self._clocks[2 * k])

    def last_write_of(self, k: int = 0) -> float:
        """`time.perf_counter()` when body k's last write (`[DONE]`) was last made."""
        return float(self._clocks[2 * k + 1])

    @property
    def last_write(self) -> float:
        """`time.perf_counter()` when the last event of the latest reply was written (one
        write per event only)."""
        return self.last_write_of(0)

    def close(self) -> None:
        self._conn.send("stop")
        self._proc.join(5)
