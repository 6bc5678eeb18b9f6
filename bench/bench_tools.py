"""From a tool's result to the next request on the wire (issue 13: under 5 ms of client time).

The engine runs a tool loop against the loopback server: the model asks for one tool call, the
tool returns at once, and the engine sends the call, its result and the reasoning back in the
next request. Timed from the moment the tool returns to the moment the server has read the whole
next request (its body included), so the figure is the client's work plus one loopback hop.
A history of HISTORY earlier exchanges makes the request realistic. Medians of RUNS loops.

    python -m bench.bench_tools
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
HISTORY = int(os.environ.get("BENCH_HISTORY", "50"))


class _TimedList(list[Any]):
    """The server's request log, with the arrival time of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.perf_counter())
        super().append(item)


async def _run() -> list[float]:
    from bench.loopback import Reply, WireServer
    from glmchat.backend.openai_compat import OpenAICompatClient
    from glmchat.config import load_settings, save_value
    from glmchat.engine import ConversationEngine
    from glmchat.engine.events import ApprovalRequest
    from glmchat.tools.base import Toolbox, ToolOutput, ToolSettings, ToolSpec
    from tests.wire_server import sse_body, sse_event

    server = WireServer()
    server.requests = _TimedList()
    save_value("providers.zai.base_url", server.url)
    settings = load_settings()
    client = OpenAICompatClient(settings.providers["zai"], "sk-bench-0000")
    returned: list[float] = []

    class Instant:
        spec = ToolSpec("lookup", "lookup", "Look a thing up", {"type": "object"}, read_only=True)

        async def call(self, arguments: dict[str, Any]) -> ToolOutput:
            returned.append(time.perf_counter())
            return ToolOutput("found: " + "x" * 2000)

    toolbox = Toolbox(settings=ToolSettings(approve="all"), tools=[Instant()])
    engine = ConversationEngine(
        settings, None, lambda name: client, provider="zai", model="glm-4.6", toolbox=toolbox
    )
    call = {
        "tool_calls": [
            {
                "id": "call_1",
                "index": 0,
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"q": "a"}'},
            }
        ]
    }
    tool_round = sse_body(
        sse_event({"reasoning_content": "I should look it up. " * 20}),
        sse_event(call, finish_reason="tool_calls"),
    )
    answer = sse_body(sse_event({"content": "Done."}), sse_event({}, finish_reason="stop"))
    lags: list[float] = []
    for i in range(HISTORY + RUNS):
        server.reply(Reply(body=tool_round), Reply(body=answer))
        before = len(server.requests)
        async for event in engine.send(f"question {i}: " + "words " * 50):
            if isinstance(event, ApprovalRequest):
                event.answer("once")
        if i >= HISTORY:
            lags.append(server.requests.times[before + 1] - returned[-1])
    await client.aclose()
    server.close()
    return lags


def main() -> None:
    os.environ.setdefault("GLMCHAT_CONFIG_DIR", tempfile.mkdtemp(prefix="glmchat-bench-"))
    os.environ.setdefault("GLMCHAT_DATA_DIR", tempfile.mkdtemp(prefix="glmchat-bench-"))
    lags = asyncio.run(_run())
    ms = sorted(lag * 1000 for lag in lags)
    print(
        f"tool result -> next request read by the server, {RUNS} loops after {HISTORY} "
        "earlier exchanges:"
    )
    print(
        f"  median {statistics.median(ms):.2f} ms, p90 {ms[int(0.9 * len(ms))]:.2f} ms, "
        f"worst {ms[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
