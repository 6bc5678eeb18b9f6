"""The installed `glmchat` in a real terminal (tmux, 120x40) against the loopback server.

This is how an outside check sees the app: keys go in with `tmux send-keys`, and the screen is
read back with `tmux capture-pane` every few milliseconds. For each reply it times Enter to the
reply's closing words being visible on the screen, beside a raw httpx read of the same stream,
and reads the app's CPU seconds and peak memory from /proc.

    python -m bench.bench_tmux            # 4,000 and 20,000 tokens, medians of BENCH_RUNS (3)
    python -m bench.bench_tmux 20000      # one size
    python -m bench.bench_tmux resume 10000   # --resume of a 10,000-message conversation
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.loopback import (
    ServerProcess,
    generated_stream,
    markdown_reply,
    raw_read,
    seed_conversation,
)

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SOCKET = f"glmchat-bench-{os.getpid()}"
MARKER = "ZZ-END-ZZ"
CLOSING = f"\n\nThat is the whole answer: {MARKER}."
POLL = 0.005


def reply_tokens(tokens: int) -> list[str]:
    """A Markdown reply of about `tokens` tokens whose last words are the marker."""
    tail = [CLOSING[i : i + 4] for i in range(0, len(CLOSING), 4)]
    return markdown_reply(tokens - len(tail)) + tail


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=True
    ).stdout


def _screen() -> str:
    return _tmux("capture-pane", "-p", "-t", "bench")


def _wait_for(text: str, timeout: float, not_before: float = 0.0) -> float:
    """When `text` is first seen on the screen (polled every POLL seconds, from `not_before`:
    polling itself takes CPU, with a process per look)."""
    time.sleep(max(0.0, not_before - time.perf_counter()))
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if text in _screen():
            return time.perf_counter()
        time.sleep(POLL)
    raise TimeoutError(f"{text!r} never appeared on the screen:\n{_screen()}")


def _app_env(tmp: str) -> dict[str, str]:
    return {
        "GLMCHAT_CONFIG_DIR": f"{tmp}/config",
        "GLMCHAT_DATA_DIR": f"{tmp}/data",
        "ZAI_API_KEY": "sk-bench-0000",
    }


def _launch(tmp: str, args: str = "") -> float:
    """Start the app (or BENCH_APP, e.g. a profiling wrapper) in a 120x40 tmux session with its
    files in `tmp`; returns the moment it was started."""
    exe = (
        os.environ.get("BENCH_APP")
        or shutil.which("glmchat")
        or str(Path(sys.executable).parent / "glmchat")
    )
    exports = " ".join(f"{k}={v}" for k, v in _app_env(tmp).items())
    started = time.perf_counter()
    _tmux(
        "-f", "/dev/null", "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40",
        f"exec env TERM=xterm-256color {exports} {exe} {args}",
    )  # fmt: skip
    return started


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_once(
    tokens: int, delay: float = 0.0, settle: float = 0.0, reasoning: int = 0
) -> dict[str, float]:
    """One reply of `tokens` tokens after `reasoning` reasoning tokens, written at full speed or
    `delay` seconds apart; the prompt is typed `settle` seconds after the first paint."""
    thoughts = ["I think about this. "[i % 5 * 4 : i % 5 * 4 + 4] for i in range(reasoning)]
    server = ServerProcess(generated_stream(reply_tokens(tokens), thoughts), splits=0, delay=delay)
    tmp = tempfile.mkdtemp()
    try:
        Path(f"{tmp}/config").mkdir()
        rate = os.environ.get("BENCH_REFRESH_RATE", "")  # default: the app's own
        ui = f"[ui]\nrefresh_rate = {rate}\n" if rate else ""
        Path(f"{tmp}/config/config.toml").write_text(
            f'{ui}[providers.zai]\nbase_url = "{server.url}"\n'
        )
        started = _launch(tmp)
        first_paint = _wait_for("thinking", 20) - started
        pid = int(_tmux("display-message", "-p", "-t", "bench", "#{pane_pid}").strip())
        time.sleep(settle)
        _tmux("send-keys", "-t", "bench", "-l", "go")
        _wait_for("go", 5)
        cpu0 = _cpu_seconds(pid)
        enter = time.perf_counter()
        _tmux("send-keys", "-t", "bench", "Enter")
        # A paced reply takes tokens x delay: look only near its end.
        shown_at = _wait_for(MARKER, 120, not_before=enter + tokens * delay - 0.5)
        shown = shown_at - enter
        lag = shown_at - server.last_write
        cpu = _cpu_seconds(pid) - cpu0
        peak = _peak_mb(pid)
        if os.environ.get("BENCH_APP"):
            _tmux("send-keys", "-t", "bench", "C-q")
            time.sleep(3)  # let a wrapped app (a profiler) finish what it records
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        raw = raw_read(server.url) if not delay else 0.0
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "first_paint_s": first_paint,
        "reply_s": shown,
        "lag_s": lag,
        "raw_s": raw,
        "cpu_s": cpu,
        "peak_mb": peak,
    }


def resume_once(messages: int) -> dict[str, float]:
    """Launch `glmchat --resume` on a long conversation: time until its last line shows, and
    the first paint of a fresh launch with the same files before it (the yardstick)."""
    tmp = tempfile.mkdtemp()
    try:
        os.environ.update(_app_env(tmp))
        time.sleep(0.5)  # a tmux server killed just before may not be gone yet
        started = _launch(tmp)
        fresh = _wait_for("thinking", 20) - started
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        time.sleep(0.5)
        seed_conversation(messages, last_words=CLOSING)
        started = _launch(tmp, "--resume")
        shown = _wait_for(MARKER, 20) - started
        pid = int(_tmux("display-message", "-p", "-t", "bench", "#{pane_pid}").strip())
        peak = _peak_mb(pid)
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"resume_s": shown, "fresh_s": fresh, "peak_mb": peak}


def main() -> None:
    if sys.argv[1:] == ["paced"]:
        # 2,000 tokens at 100 tokens/s: how far the screen ends behind the last token, and the
        # CPU the app used. The stream takes 20 s, so the raw read is not repeated.
        runs = [run_once(2000, delay=0.01) for _ in range(RUNS)]
        print(
            f"2,000 tokens at 100 tokens/s: Enter to last token on screen "
            f"{statistics.median(r['reply_s'] for r in runs):.2f} s; the last token is on "
            f"screen {statistics.median(r['lag_s'] for r in runs) * 1000:.0f} ms after the "
            f"server wrote it; CPU {statistics.median(r['cpu_s'] for r in runs):.2f} s, "
            f"peak {statistics.median(r['peak_mb'] for r in runs):.0f} MB"
        )
        return
    if sys.argv[1:2] == ["resume"]:  # resume [MESSAGES]: 1,000 unless given
        messages = int(sys.argv[2]) if sys.argv[2:] else 1000
        runs = [resume_once(messages) for _ in range(RUNS)]
        print(
            f"launch with --resume to the last line of a {messages:,}-message conversation: "
            f"{statistics.median(r['resume_s'] for r in runs):.3f} s, a fresh first paint "
            f"{statistics.median(r['fresh_s'] for r in runs):.3f} s, ratio "
            f"{statistics.median(r['resume_s'] / r['fresh_s'] for r in runs):.2f}x "
            f"(peak {statistics.median(r['peak_mb'] for r in runs):.0f} MB)"
        )
        return
    sizes = [int(a) for a in sys.argv[1:]] or [4000, 20000]
    # Typed at once after the first paint (the reply then includes the rest of the app's
    # warm-up, see glmchat/tui/app.py), or half a second later, as a person would.
    settles = [float(x) for x in os.environ.get("BENCH_SETTLE", "0,0.5").split(",")]
    print(
        f"{'tokens':>7}{'typed after s':>14}{'first paint s':>15}{'Enter to last s':>17}"
        f"{'raw read s':>12}{'ratio':>7}{'lag ms':>8}{'CPU s':>7}{'peak MB':>9}"
    )
    for tokens, settle in [(t, s) for t in sizes for s in settles]:
        runs = [run_once(tokens, settle=settle) for _ in range(RUNS)]

        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        ratio = statistics.median(r["reply_s"] / r["raw_s"] for r in runs)
        print(
            f"{tokens:>7,}{settle:>14.1f}{median('first_paint_s'):>15.3f}{median('reply_s'):>17.3f}"
            f"{median('raw_s'):>12.3f}{ratio:>6.1f}x{median('lag_s') * 1000:>8.0f}"
            f"{median('cpu_s'):>7.2f}{median('peak_mb'):>9.0f}"
        )


if __name__ == "__main__":
    main()
