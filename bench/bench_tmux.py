"""The installed `glmchat` in a real terminal (tmux, 120x40) against the loopback server, beside
the yardstick process (bench/raw_reader.py: Python, `import httpx`, read the stream) on the same
stream from the same server in the same run, with the ratio of the two.

The server runs in another process and writes one event at a time, as providers do. Keys go in
with `tmux send-keys`; the screen is read with `tmux capture-pane` every 5 ms; CPU is the app's
process tree (the app and any children, MCP servers included) from /proc, the yardstick's from
its rusage. CPU "from Enter" counts from the key that sends the prompt; "whole" is the process
since launch, as the yardstick's is; both are read 0.5 s after the last token shows, so the end
of the stream (saving, the last frames) is in them. Lag is from the server's write of the last
token to that token on screen; the yardstick's from the server's last write to its last byte
read (both clocks CLOCK_MONOTONIC). First paint is from `tmux new-session` (which starts tmux's
server: 5-10 ms here) to the status bar on screen. Each table gives medians of BENCH_RUNS (3)
rounds, each round running its contenders in turn; a ratio is the median of each round's own.

    python -m bench.bench_tmux [TOKENS...]  # full speed, 4,000 and 20,000 tokens (1 min)
    python -m bench.bench_tmux paced    # 2,000 tokens at 100 tok/s, 200 reasoning (2.5 min)
    python -m bench.bench_tmux startup  # first paint with and without an MCP server (30 s)
    python -m bench.bench_tmux panes    # ten panes at 100 tok/s, one visible, vs one (3 min)
    python -m bench.bench_tmux resume [N...]      # --resume of 1,000 and 10,000 messages (1 min)
    python -m bench.bench_tmux resume-reply [N]   # a paced reply into 10,000 messages (2.5 min)
    python -m bench.bench_tmux llm      # simonw's llm on the paced stream, when installed
    python -m bench.bench_tmux floor    # the paced stream in a bare Textual app (4 min)
    python -m bench.bench_tmux all      # each of the above
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench import tmux_llm
from bench import tmux_runs as runs
from bench.loopback import ServerProcess
from bench.yardstick import read_stream

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
Round = dict[str, float]


def paced_reply(*, data: str | None = None, yardstick: bool = True) -> Round:
    """The paced reply of issue 14: 2,000 tokens at 100 tokens/s after 200 reasoning tokens."""
    return runs.reply(2000, delay=0.01, reasoning=200, data=data, yardstick=yardstick)


def rounds(steps: dict[str, Callable[[], Round]]) -> list[Round]:
    """RUNS rounds of the named steps, each round starting one step further on (no contender
    is always first after a quiet spell, or always last), every key prefixed with its step."""
    out = []
    for i in range(RUNS):
        names = list(steps)
        names = names[i % len(names) :] + names[: i % len(names)]
        out.append({f"{name}_{k}": v for name in names for k, v in steps[name]().items()})
    return out


def med(rounds: list[Round], key: str | Callable[[Round], float]) -> float:
    get = (lambda r: r[key]) if isinstance(key, str) else key
    return statistics.median(get(r) for r in rounds)


def ratio(rounds: list[Round], top: str, bottom: str) -> str:
    return f"{med(rounds, lambda r: r[top] / r[bottom]):.2f}x"


def table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A Markdown table, ready for bench/README.md."""
    print(f"\n{title} (medians of {RUNS})\n")
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


def saved(rs: list[Round], key: str = "complete") -> str:
    """In how many rounds the reply was saved whole (as a complete answer) in the store."""
    return f"{sum(r[key] >= 1 for r in rs)}/{len(rs)}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def full_speed(sizes: list[int]) -> None:
    # Typed at once after the first paint (the reply then includes the rest of the app's
    # warm-up, see glmchat/tui/app.py), or half a second later, as a person would.
    settles = [float(x) for x in os.environ.get("BENCH_SETTLE", "0,0.5").split(",")]
    rows = []
    for tokens, settle in [(t, s) for t in sizes for s in settles]:
        rs = [runs.reply(tokens, settle=settle) for _ in range(RUNS)]
        rows.append(
            [f"{tokens:,}", f"{settle:.1f}", f"{med(rs, 'reply_s'):.3f}",
             f"{med(rs, 'y_read_s'):.3f}", ratio(rs, "reply_s", "y_read_s"),
             ms(med(rs, "lag_s")), ms(med(rs, "y_lag_s")), f"{med(rs, 'cpu_s'):.2f}",
             f"{med(rs, 'cpu_whole_s'):.2f}", f"{med(rs, 'y_cpu_s'):.2f}",
             ratio(rs, "cpu_s", "y_cpu_s"), ratio(rs, "cpu_whole_s", "y_cpu_s"),
             f"{med(rs, 'first_paint_s'):.3f}", f"{med(rs, 'y_wall_s'):.3f}",
             ratio(rs, "first_paint_s", "y_wall_s"), f"{med(rs, 'peak_mb'):.0f}"]
        )  # fmt: skip
    table(
        "Full speed: Enter to the last token on screen beside the yardstick's read (request to "
        "last byte); CPU from Enter and of the whole process beside the yardstick process's; "
        "first paint beside the yardstick process's wall time",
        ["tokens", "typed after s", "reply s", "yardstick read s", "ratio", "lag ms",
         "yardstick lag ms", "CPU from Enter s", "CPU whole s", "yardstick CPU s",
         "ratio (Enter)", "ratio (whole)", "first paint s", "yardstick wall s", "ratio",
         "peak MB"],
        rows,
    )  # fmt: skip


def paced() -> None:
    rs = [paced_reply() for _ in range(RUNS)]
    table(
        "2,000 tokens at 100 tok/s after 200 reasoning tokens: CPU of the process tree (from "
        "Enter, and of the whole process from launch) beside the yardstick process's; lag from "
        "the server's write of the last token to it on screen (yardstick: of the last write to "
        "its last byte read)",
        ["", "CPU from Enter s", "CPU whole s", "yardstick CPU s", "ratio (Enter)",
         "ratio (whole)", "lag ms", "yardstick lag ms", "peak MB", "saved whole"],
        [["glmchat", f"{med(rs, 'cpu_s'):.2f}", f"{med(rs, 'cpu_whole_s'):.2f}",
          f"{med(rs, 'y_cpu_s'):.2f}", ratio(rs, "cpu_s", "y_cpu_s"),
          ratio(rs, "cpu_whole_s", "y_cpu_s"), ms(med(rs, "lag_s")), ms(med(rs, "y_lag_s")),
          f"{med(rs, 'peak_mb'):.0f}", saved(rs)]],
    )  # fmt: skip


def startup() -> None:
    server = ServerProcess(runs.stream(4000), splits=0)
    try:
        rs = rounds(
            {"plain": lambda: {"s": runs.first_paint(mcp=False)},
             "mcp": lambda: {"s": runs.first_paint(mcp=True)},
             "y": lambda: {"wall_s": read_stream(server.url).wall_s}}
        )  # fmt: skip
    finally:
        server.close()
    table(
        "Launch to first paint beside the yardstick process's wall time on the 4,000-token "
        "stream at full speed",
        ["", "first paint s", "yardstick wall s", "ratio"],
        [[label, f"{med(rs, key):.3f}", f"{med(rs, 'y_wall_s'):.3f}", ratio(rs, key, "y_wall_s")]
         for label, key in [("no MCP server", "plain_s"),
                            ("one MCP server (tests/mcp_server.py)", "mcp_s")]],
    )  # fmt: skip


def panes() -> None:
    rs = rounds(
        {"one": lambda: paced_reply(yardstick=False),
         "ten": lambda: runs.panes(10, 2000, delay=0.01, reasoning=200)}
    )  # fmt: skip
    table(
        "Ten panes each streaming 2,000 tokens at 100 tok/s after 200 reasoning tokens, the last "
        "opened visible, beside one pane alone: the visible pane's lag, the process tree's CPU "
        "(first Enter to the end), peak memory; the hidden panes' answers checked in the store",
        ["", "visible lag ms", "CPU s", "CPU ratio to one pane", "peak MB",
         "answers saved whole"],
        [["one pane", ms(med(rs, "one_lag_s")), f"{med(rs, 'one_cpu_s'):.2f}", "1.00x",
          f"{med(rs, 'one_peak_mb'):.0f}", f"{saved(rs, 'one_complete')} rounds"],
         ["ten panes", ms(med(rs, "ten_lag_s")), f"{med(rs, 'ten_cpu_s'):.2f}",
          ratio(rs, "ten_cpu_s", "one_cpu_s"), f"{med(rs, 'ten_peak_mb'):.0f}",
          f"{min(r['ten_complete'] for r in rs):.0f}/10 (worst round)"]],
    )  # fmt: skip


def resume(sizes: list[int]) -> None:
    seeds = {n: runs.seed(n) for n in sizes}
    try:
        steps = {"fresh": lambda: {"s": runs.first_paint(mcp=False)}}
        for n, data in seeds.items():
            steps[str(n)] = partial(runs.resume, data)
        rs = rounds(steps)
    finally:
        for data in seeds.values():
            shutil.rmtree(data, ignore_errors=True)
    table(
        "Launch with --resume to the conversation's last line on screen, beside a fresh "
        "launch's first paint in the same round (target: at most 1.5x)",
        ["", "seconds", "ratio to a fresh first paint", "peak MB"],
        [["fresh first paint", f"{med(rs, 'fresh_s'):.3f}", "1.00x", ""]]
        + [[f"--resume, {n:,} messages", f"{med(rs, f'{n}_resume_s'):.3f}",
            ratio(rs, f"{n}_resume_s", "fresh_s"), f"{med(rs, f'{n}_peak_mb'):.0f}"]
           for n in seeds],
    )  # fmt: skip


def resume_reply(messages: int) -> None:
    data = runs.seed(messages)
    try:
        rs = rounds(
            {"empty": lambda: paced_reply(yardstick=False),
             "full": lambda: paced_reply(data=data, yardstick=False)}
        )  # fmt: skip
    finally:
        shutil.rmtree(data, ignore_errors=True)
    table(
        f"2,000 tokens at 100 tok/s after 200 reasoning tokens into a resumed {messages:,}-"
        "message conversation (the oldest turns left out, as the app offers) beside into an "
        "empty one (target: the same); the stream's CPU is from its first token on screen "
        "(after the rest of the conversation is read and the dialog answered) to its end",
        ["", "CPU from Enter s", "ratio", "CPU of the stream s", "ratio", "lag ms", "peak MB",
         "saved whole"],
        [["empty conversation", f"{med(rs, 'empty_cpu_s'):.2f}", "1.00x",
          f"{med(rs, 'empty_cpu_stream_s'):.2f}", "1.00x",
          ms(med(rs, "empty_lag_s")), f"{med(rs, 'empty_peak_mb'):.0f}",
          saved(rs, "empty_complete")],
         [f"{messages:,} messages", f"{med(rs, 'full_cpu_s'):.2f}",
          ratio(rs, "full_cpu_s", "empty_cpu_s"), f"{med(rs, 'full_cpu_stream_s'):.2f}",
          ratio(rs, "full_cpu_stream_s", "empty_cpu_stream_s"), ms(med(rs, "full_lag_s")),
          f"{med(rs, 'full_peak_mb'):.0f}", saved(rs, "full_complete")]],
    )  # fmt: skip


def llm() -> None:
    exe = tmux_llm.llm_executable()
    if exe is None:
        print("\nllm: not installed (pip install llm in a venv, set BENCH_LLM to its llm): skipped")
        return
    rs = rounds({"g": paced_reply, "llm": lambda: tmux_llm.reply(exe, 2000, 0.01, reasoning=200)})
    table(
        "2,000 tokens at 100 tok/s after 200 reasoning tokens: glmchat beside simonw's llm "
        f"({exe}) and the yardstick process, the same stream in the same round (target: "
        "glmchat's CPU below llm's)",
        ["", "CPU s", "ratio to the yardstick", "ratio to llm", "lag ms"],
        [["glmchat, from Enter", f"{med(rs, 'g_cpu_s'):.2f}", ratio(rs, "g_cpu_s", "g_y_cpu_s"),
          ratio(rs, "g_cpu_s", "llm_cpu_s"), ms(med(rs, "g_lag_s"))],
         ["glmchat, whole process", f"{med(rs, 'g_cpu_whole_s'):.2f}",
          ratio(rs, "g_cpu_whole_s", "g_y_cpu_s"), ratio(rs, "g_cpu_whole_s", "llm_cpu_s"), ""],
         ["llm, whole process", f"{med(rs, 'llm_cpu_s'):.2f}", ratio(rs, "llm_cpu_s", "g_y_cpu_s"),
          "1.00x", ms(med(rs, "llm_lag_s"))],
         ["yardstick process", f"{med(rs, 'g_y_cpu_s'):.2f}", "1.00x",
          ratio(rs, "g_y_cpu_s", "llm_cpu_s"), ms(med(rs, "g_y_lag_s"))]],
    )  # fmt: skip


def floor_reply(kind: str) -> Round:
    """The paced reply in bench/floor_app.py: Textual's Log or Markdown widget and nothing else."""
    app = Path(__file__).with_name("floor_app.py")
    os.environ["BENCH_APP"] = f"{sys.executable} {app} {kind}"
    try:
        return runs.reply(2000, delay=0.01, reasoning=200, saved=False)
    finally:
        del os.environ["BENCH_APP"]


def floor() -> None:
    """What a Textual app costs at the least on the paced stream: is 2x the yardstick within
    Textual's reach at all?"""
    kinds = {
        "line": "bare Textual app: one row, the reply's tail, 12 a second (sync read)",
        "log": "bare Textual app: Log widget, 12 writes a second (sync read)",
        "log-each": "bare Textual app: Log widget, each delta (async read)",
        "markdown": "bare Textual app: Markdown widget, MarkdownStream (async read)",
    }
    rs = rounds({"g": paced_reply} | {kind: partial(floor_reply, kind) for kind in kinds})
    rows = []
    for name, label in [("g", "glmchat"), *kinds.items()]:
        rows.append([
            label, f"{med(rs, f'{name}_cpu_s'):.2f}", f"{med(rs, f'{name}_cpu_whole_s'):.2f}",
            f"{med(rs, f'{name}_y_cpu_s'):.2f}", ratio(rs, f"{name}_cpu_s", f"{name}_y_cpu_s"),
            ratio(rs, f"{name}_cpu_whole_s", f"{name}_y_cpu_s"), ms(med(rs, f"{name}_lag_s")),
            f"{med(rs, f'{name}_peak_mb'):.0f}",
        ])  # fmt: skip
    table(
        "2,000 tokens at 100 tok/s after 200 reasoning tokens: glmchat beside a bare Textual "
        "app (bench/floor_app.py: httpx, SSE, one widget, 12 frames a second), each beside "
        "the yardstick process in its own run",
        ["", "CPU from Enter s", "CPU whole s", "yardstick CPU s", "ratio (Enter)",
         "ratio (whole)", "lag ms", "peak MB"],
        rows,
    )  # fmt: skip


def main() -> None:
    mode, *args = sys.argv[1:] or ["4000", "20000"]
    sizes = [int(a) for a in args]
    if mode == "all":
        full_speed([4000, 20000])
    if mode in ("paced", "all"):
        paced()
    if mode in ("startup", "all"):
        startup()
    if mode in ("panes", "all"):
        panes()
    if mode in ("resume", "all"):
        resume(sizes or [1000, 10000])
    if mode in ("resume-reply", "all"):
        resume_reply(sizes[0] if sizes else 10000)
    if mode in ("llm", "all"):
        llm()
    if mode in ("floor", "all"):
        floor()
    if mode.isdigit():
        full_speed([int(mode), *sizes])


if __name__ == "__main__":
    main()
