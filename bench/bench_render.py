"""Benchmark: how fast a streamed Markdown reply reaches a headless Textual screen."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from rich.console import Console
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from glmchat.terminal_text import neutralize_controls
from glmchat.tui.compat.rich_markdown import markdown_of
from glmchat.tui.widgets.markdown_view import StreamingMarkdown
from tests.tui_helpers import screen_lines

SIZE = (120, 40)


@dataclass(frozen=True)
class Scenario:
    name: str
    tokens: int
    rate: float | None  # tokens per second, None for as fast as possible
    history: int = 0  # finished messages already in the log
    refresh_rate: float = 30.0
    layout: str = "vertical"  # the chat log's layout; Textual also has "stream" for chat logs
    code_lines: int = 0  # a coding answer instead: one fence of this many lines (tokens unused)


# "network pace" spreads the reply over the time a real loopback read of it takes (0.36 s for
# 4,000 tokens, 0.8 s for 20,000; see /work/shared/STREAMING.md).
SCENARIOS = [
    Scenario("full speed", 4_000, None),
    Scenario("full speed", 20_000, None),
    Scenario("network pace", 4_000, 4_000 / 0.36),
    Scenario("network pace", 20_000, 20_000 / 0.8),
    Scenario("full speed, 200 finished above", 20_000, None, 200),
    Scenario("network pace, 200 finished above", 20_000, 20_000 / 0.8, 200),
    Scenario(
        "network pace, 200 finished above, layout: stream",
        20_000,
        20_000 / 0.8,
        200,
        30.0,
        "stream",
    ),
    Scenario("paced 100 tok/s", 2_000, 100.0),
    Scenario("paced 100 tok/s, refresh 20 Hz", 2_000, 100.0, 0, 20.0),
    Scenario("paced 100 tok/s, refresh 15 Hz", 2_000, 100.0, 0, 15.0),
    Scenario("paced 100 tok/s, 200 finished above", 2_000, 100.0, 200),
    Scenario(
        "paced 100 tok/s, 200 finished above, layout: stream", 2_000, 100.0, 200, 30.0, "stream"
    ),
    Scenario("paced 100 tok/s, one 200-line code fence", 0, 100.0, code_lines=200),
    Scenario("full speed, one 1,000-line code fence", 0, None, code_lines=1000),
]


def code_reply(lines: int) -> list[str]:
    """A coding answer: a line of text, one Python fence of `lines` lines, a closing line."""
    body = "".join(
        f"def handler_{n}(request: Request) -> Response:\n"
        f"    return Response(status={200 + n % 5}, body=request.body[{n}:])  # case {n}\n"
        for n in range(lines // 2)
    )
    text = f"Here is the module:\n\n```python\n{body}```\n\nThat is all of it.\n\n"
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def generate_reply(tokens: int, seed: int = 0) -> list[str]:
    """A realistic assistant reply cut into ~4-character tokens, ending at a block boundary."""
    words = (
        "the value of each request is parsed and then stored in a small cache so that later "
        "calls can reuse it without going back to the network which keeps latency low"
    ).split()
    sections: list[str] = []
    n = seed
    text_tokens = 0
    while text_tokens < tokens:
        n += 1
        para = " ".join(words[(n * 7 + i) % len(words)] for i in range(40))
        para = para.replace(" cache ", " **cache** ").replace(" network ", " `network` ")
        section = (
            f"## Step {n}: handle the {words[n % len(words)]}\n\n"
            f"{para.capitalize()}.\n\n"
            f"- first, check `item_{n}` before using it\n"
            f"- then **update** the counter and log the result\n"
            f"- finally return the {words[(n + 3) % len(words)]}\n\n"
            "```python\n"
            f"def step_{n}(items: list[int]) -> int:\n"
            f"    total = 0\n"
            f"    for item in items:\n"
            f"        total += item * {n}\n"
            f"    return total\n"
            "```\n\n"
        )
        sections.append(section)
        text_tokens += len(section) // 4
    text = "".join(sections)
    return [text[i : i + 4] for i in range(0, len(text), 4)]


class ChatLog(App[None]):
    CSS = """
    #log { scrollbar-gutter: stable; }
    StreamingMarkdown { margin: 0 0 1 0; }
    """

    def __init__(self, scenario: Scenario) -> None:
        super().__init__()
        self.scenario = scenario

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="log") as log:
            log.styles.layout = self.scenario.layout
            for n in range(self.scenario.history):
                yield StreamingMarkdown("".join(generate_reply(150, seed=n * 3)))
            yield StreamingMarkdown(refresh_rate=self.scenario.refresh_rate, id="live")


def reference_lines(text: str, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), force_terminal=True)
    lines = console.render_lines(markdown_of(neutralize_controls(text)), pad=False)
    return ["".join(segment.text for segment in line).rstrip() for line in lines]


async def run_scenario(scenario: Scenario) -> dict[str, float]:
    if scenario.code_lines:
        tokens = code_reply(scenario.code_lines)
    else:
        tokens = generate_reply(scenario.tokens)
    last_words = "The **end** of the reply."
    tokens.append(last_words)
    app = ChatLog(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one("#log", VerticalScroll)
        log.scroll_end(animate=False, immediate=True)
        log.anchor()
        live = app.query_one("#live", StreamingMarkdown)
        await pilot.pause()

        loop = asyncio.get_running_loop()
        worst_stall = 0.0
        stop = False

        async def watchdog() -> None:
            # Wakes 200 times a second: often enough to see stalls, rarely enough not to cost
            # much of the CPU time measured.
            nonlocal worst_stall
            while not stop:
                before = loop.time()
                await asyncio.sleep(0.005)
                worst_stall = max(worst_stall, loop.time() - before - 0.005)

        watcher = asyncio.create_task(watchdog())
        cpu_start = time.process_time()
        start = time.perf_counter()
        if scenario.rate is None:
            for index, token in enumerate(tokens):
                live.append(token)
                if index % 50 == 49:
                    await asyncio.sleep(0)  # a network reader yields between reads
        else:
            # Deliver every token that is due, then sleep until the next one: bursts, as a
            # network reader sees them.
            rate, index, count = scenario.rate, 0, len(tokens)
            while index < count:
                due = min(count, int((time.perf_counter() - start) * rate) + 1)
                while index < due:
                    live.append(tokens[index])
                    index += 1
                if index < count:
                    await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        last_token = time.perf_counter()
        live.finish()

        # Done when the final text is rendered, the log is at the bottom and painted.
        while True:
            await asyncio.sleep(0.002)
            if live.blocks.dirty or log.scroll_y < log.max_scroll_y:
                continue
            if live.region.bottom > log.region.bottom:
                continue
            screen = screen_lines(app)
            if any("The end of the reply." in line for line in screen):
                break
        done = time.perf_counter()
        cpu = time.process_time() - cpu_start
        stop = True
        await watcher

        width = live.size.width
        got = [live.render_line(y).text.rstrip() for y in range(live.blocks.line_count)]
        if got != reference_lines(live.text, width):
            raise SystemExit(f"{scenario}: final lines differ from rich's render")
        if live.text != "".join(tokens):
            raise SystemExit(f"{scenario}: text lost")
        return {
            "tokens": len(tokens),
            "seconds": done - start,
            "lag": done - last_token,
            "cpu": cpu,
            "stall": worst_stall,
            "refreshes": live.refresh_count,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }


def run_in_subprocess(index: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.bench_render", "--one", str(index)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median shown)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help="scenarios whose name holds this text")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(asyncio.run(run_scenario(SCENARIOS[args.one]))))
        return

    print(f"# {platform.platform()}, Python {platform.python_version()}, {SIZE[0]}x{SIZE[1]}")
    header = (
        "| scenario | tokens | seconds | lag after last token s | CPU s | worst stall s "
        "| refreshes | peak MB |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for index, scenario in enumerate(SCENARIOS):
        if args.only not in scenario.name:
            continue
        runs = [run_in_subprocess(index) for _ in range(args.runs)]

        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(run[key] for run in runs)

        print(
            f"| {scenario.name} | {median('tokens'):,.0f} | {median('seconds'):.2f} "
            f"| {median('lag'):.3f} | {median('cpu'):.2f} | {median('stall'):.3f} "
            f"| {median('refreshes'):.0f} | {median('peak_mb'):.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
