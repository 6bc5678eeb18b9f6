"""Shared bench helpers: a generated GLM-style stream and the loopback server that serves it."""

from __future__ import annotations

import time

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


def _serve(conn, body: bytes, splits: int, delay: float, last_write) -> None:  # type: ignore[no-untyped-def]
    server = WireServer()
    if splits <= 0:
        # One write per event, as a provider flushes each token; splits=-k groups k events
        # per write (with `delay` between writes, a way to pace a reply like a slower network).
        events = [e + b"\n\n" for e in body.split(b"\n\n") if e]
        group = max(1, -splits)
        pieces = [b"".join(events[i : i + group]) for i in range(0, len(events), group)]

        def chunks():  # type: ignore[no-untyped-def]
            yield from pieces[:-1]
            # perf_counter is CLOCK_MONOTONIC here: comparable with the measuring process.
            last_write.value = time.perf_counter()
            yield pieces[-1]

        server.default = Reply(chunks=chunks, delay=delay)
    else:
        server.default = Reply(body=body, splits=splits, delay=delay)
    conn.send(server.url)
    conn.recv()  # wait for the stop word
    server.close()


class ServerProcess:
    """The loopback server in its own process, so it does not share the measured GIL."""

    def __init__(self, body: bytes, splits: int = 16384, delay: float = 0.0) -> None:
        """`splits` is the size of each write; 0 writes each event on its own."""
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._last_write = ctx.Value("d", 0.0)
        self._proc = ctx.Process(
            target=_serve, args=(child, body, splits, delay, self._last_write), daemon=True
        )
        self._proc.start()
        self.url: str = self._conn.recv()

    @property
    def last_write(self) -> float:
        """`time.perf_counter()` when the last event of the latest reply was written (one
        write per event only)."""
        return float(self._last_write.value)

    def close(self) -> None:
        self._conn.send("stop")
        self._proc.join(5)
