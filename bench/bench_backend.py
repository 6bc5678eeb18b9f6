"""Backend throughput: a long stream over loopback, parsed by glmchat vs a raw byte read."""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import time

import httpx

from bench.loopback import ServerProcess, generated_stream, markdown_reply
from glmchat.backend.events import ChatRequest, ContentDelta, Message
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.backend.providers import BUILTIN_PROVIDERS

RUNS = 5


async def raw_read(url: str) -> tuple[float, float, int]:
    cpu, start = time.process_time(), time.perf_counter()
    size = 0
    async with httpx.AsyncClient() as client:
        async with client.stream("POST", url + "/chat/completions", json={}) as response:
            async for chunk in response.aiter_raw():
                size += len(chunk)
    return time.perf_counter() - start, time.process_time() - cpu, size


async def backend_read(url: str) -> tuple[float, float, int]:
    cpu, start = time.process_time(), time.perf_counter()
    chars = 0
    request = ChatRequest("glm-4.5", (Message("user", "go"),))
    async with OpenAICompatClient(BUILTIN_PROVIDERS["zai"], "k", base_url=url) as client:
        async for event in client.stream(request):
            if isinstance(event, ContentDelta):
                chars += len(event.text)
    return time.perf_counter() - start, time.process_time() - cpu, chars


def measure(tokens: int, splits: int) -> tuple[str, ...]:
    reply = markdown_reply(tokens)
    body = generated_stream(reply)
    server = ServerProcess(body, splits=splits)
    try:
        raws, backs = [], []
        for _ in range(RUNS):
            raws.append(asyncio.run(raw_read(server.url)))
            backs.append(asyncio.run(backend_read(server.url)))
    finally:
        server.close()
    assert all(b[2] == len("".join(reply)) for b in backs), "answer not reconstructed"
    raw_s = statistics.median(r[0] for r in raws)
    back_s = statistics.median(b[0] for b in backs)
    writes = "one per event" if splits == 0 else f"{splits // 1024} KiB"
    return (
        f"{tokens}",
        writes,
        f"{len(body) / 1e6:.1f}",
        f"{raw_s:.3f}",
        f"{back_s:.3f}",
        f"{statistics.median(b[1] for b in backs):.3f}",
        f"{back_s / raw_s:.2f}x",
    )


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [4_000, 20_000]
    rows = [measure(n, splits) for n in sizes for splits in (16384, 0)]
    head = ("tokens", "server writes", "MB", "raw s", "glmchat s", "glmchat CPU s", "ratio")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"medians of {RUNS} runs; peak RSS of this process {peak:.0f} MB; target ratio <= 2x")


if __name__ == "__main__":
    main()
