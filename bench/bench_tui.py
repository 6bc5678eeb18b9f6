"""The whole app against a loopback server: start-up, full-speed and paced replies, long history.

Each scenario runs in a fresh process (`python -m bench.bench_tui SCENARIO`); with no argument
all of them run and a table is printed. Headless (`App.run_test`, 120x40) except cold start,
which launches the console script in a pseudo-terminal."""

from __future__ import annotations

import asyncio
import json
import os
import resource
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

ROOT = Path(__file__).resolve().parent.parent  # subprocesses run `python -m bench.bench_tui` here
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def _env(tmp: str, url: str) -> None:
    os.environ["GLMCHAT_CONFIG_DIR"] = f"{tmp}/config"
    os.environ["GLMCHAT_DATA_DIR"] = f"{tmp}/data"
    os.environ["ZAI_API_KEY"] = "sk-bench-0000"
    Path(f"{tmp}/config").mkdir(parents=True, exist_ok=True)
    rate = os.environ.get("BENCH_REFRESH_RATE", "")
    ui = f"[ui]\nrefresh_rate = {rate}\n" if rate else ""
    Path(f"{tmp}/config/config.toml").write_text(f'{ui}[providers.zai]\nbase_url = "{url}"\n')


async def _run_reply(url_tokens: int, history: int, paced: bool) -> dict[str, float]:
    from glmchat import paths
    from glmchat.config import load_settings
    from glmchat.credentials import CredentialStore
    from glmchat.store import SessionStore
    from glmchat.tui.app import GlmChatApp

    resume = seed_conversation(history) if history else None
    store = SessionStore(paths.database_path())
    app = GlmChatApp(load_settings(), store=store, credentials=CredentialStore(), resume=resume)
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        out["open_s"] = time.perf_counter() - t0
        pane = app.active_pane
        assert pane is not None
        out["widgets"] = len(list(pane.log_view.children))
        # Time the last event without creating the client here: the app makes it on the first
        # request, and that cost belongs to the reply.
        from glmchat.backend.openai_compat import OpenAICompatClient

        last_event = [0.0]
        real_stream = OpenAICompatClient.stream

        async def timed_stream(self, request):  # type: ignore[no-untyped-def]
            async for event in real_stream(self, request):
                last_event[0] = time.perf_counter()
                yield event

        OpenAICompatClient.stream = timed_stream  # type: ignore[method-assign]
        # The moment the answer was finished on screen (its last text rendered).
        from glmchat.tui.widgets.messages import AssistantMessage as Shown

        ended = [0.0]
        real_finish = Shown.finish

        def timed_finish(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            real_finish(self, *args, **kwargs)
            ended[0] = time.perf_counter()

        Shown.finish = timed_finish  # type: ignore[method-assign]
        if history:
            # 500 answers of 300 tokens are over glm-4.5's window: the app would refuse the
            # prompt and offer to leave out the oldest turns. Take that choice, as a user would;
            # all 1,000 messages stay in the conversation (the mounted window is the same).
            from glmchat.engine.budget import DoesNotFit

            try:
                pane.engine.check_fit("go")
            except DoesNotFit as exc:
                assert exc.omit_before is not None, str(exc)
                pane.engine.leave_out_before(exc.omit_before)
        pane.prompt.text = "go"
        cpu0 = time.process_time()
        start = time.perf_counter()
        turns_before = len(pane.turns)
        # What Enter does, without Pilot's own waiting for the screen to settle after a key.
        pane.prompt.action_submit()
        # The turn list grows by two (prompt, answer) once the answer has fully arrived.
        # Polled every 20 ms: every 2 ms, the polling itself was a third of a paced reply's
        # CPU. The end of the stream is timed by the hook below, not by the polling.
        while len(pane.turns) < turns_before + 2 or pane.streaming is not None:
            await asyncio.sleep(0.02)
        from glmchat.tui.widgets.messages import AssistantMessage

        message = list(pane.log_view.query(AssistantMessage))[-1]
        # Done when the last block is rendered and the log has followed it to the bottom.
        log = pane.log_view
        done = ended[0]
        while (
            message.answer.blocks.dirty
            or log.scroll_y < log.max_scroll_y
            or not (message.answer.blocks.line_count)
        ):
            await asyncio.sleep(0.002)
            done = time.perf_counter()
        out["reply_s"] = done - start
        out["lag_s"] = done - last_event[0]
        out["cpu_s"] = time.process_time() - cpu0
        assert len(message.text) > url_tokens * 3, "answer incomplete"
    store.close()
    return out


def scenario(name: str) -> dict[str, float | str]:
    tokens = {
        "full4k": 4000,
        "full20k": 20000,
        "net4k": 4000,
        "net20k": 20000,
        "paced2k": 2000,
        "history4k": 4000,
        "paced500": 500,
    }[name]
    paced = name.startswith("paced")
    body = generated_stream(markdown_reply(tokens))
    # One write per event, as a provider flushes each token; paced adds 10 ms between them.
    if name.startswith("net"):
        # Paced like the network the issue measured: a raw read takes about 0.36 s for 4,000
        # tokens and 0.8 s for 20,000 (1 ms pauses between groups of events).
        group = 11 if tokens == 4000 else 25
        server = ServerProcess(body, splits=-group, delay=0.001)
    else:
        server = ServerProcess(body, splits=0, delay=0.01 if paced else 0.0)
    tmp = tempfile.mkdtemp()
    try:
        _env(tmp, server.url)
        raw = raw_read(server.url)
        result = asyncio.run(_run_reply(tokens, 1000 if name == "history4k" else 0, paced))
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    result["raw_s"] = raw
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def cold_start() -> dict[str, float | str]:
    import pexpect

    exe = shutil.which("glmchat") or str(Path(sys.executable).parent / "glmchat")
    tmp = tempfile.mkdtemp()
    env = dict(
        os.environ,
        GLMCHAT_CONFIG_DIR=f"{tmp}/c",
        GLMCHAT_DATA_DIR=f"{tmp}/d",
        ZAI_API_KEY="sk-bench",
        TERM="xterm-256color",
    )
    times = []
    for _ in range(3):
        start = time.perf_counter()
        child = pexpect.spawn(exe, env=env, dimensions=(40, 120), encoding="utf-8")
        child.expect("thinking", timeout=20)
        times.append(time.perf_counter() - start)
        child.sendcontrol("q")
        child.expect(pexpect.EOF, timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)
    times.sort()
    return {"first_paint_s": times[1]}


def main() -> None:
    if len(sys.argv) > 1:
        name = sys.argv[1]
        print(json.dumps(cold_start() if name == "cold" else scenario(name)))
        return
    # Medians of RUNS fresh processes per scenario: single runs on this machine vary by +-30 %.
    rows: dict[str, dict[str, float]] = {}
    for name in ("cold", "full4k", "full20k", "net4k", "net20k", "paced2k", "history4k"):
        runs = []
        for _ in range(RUNS):
            proc = subprocess.run(
                [sys.executable, "-m", "bench.bench_tui", name],
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=600,
            )
            if proc.returncode != 0:
                print(f"{name}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr)
                break
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        if runs:
            rows[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"{'scenario':<34}{'seconds':>9}{'raw read s':>11}{'ratio':>7}{'lag ms':>8}"
        f"{'CPU s':>7}{'peak MB':>9}"
    )
    if "cold" in rows:
        print(f"{'cold start to first paint (pty)':<34}{rows['cold']['first_paint_s']:>9.3f}")
    labels = {
        "full4k": "4,000 tokens, full speed",
        "full20k": "20,000 tokens, full speed",
        "net4k": "4,000 tokens, network pace",
        "net20k": "20,000 tokens, network pace",
        "paced2k": "2,000 tokens at 100 tok/s",
        "history4k": "4,000 tokens, 1,000-msg history",
    }
    for name, label in labels.items():
        r = rows.get(name)
        if not r:
            continue
        print(
            f"{label:<34}{r['reply_s']:>9.3f}{r['raw_s']:>11.3f}{r['reply_s'] / r['raw_s']:>6.1f}x"
            f"{r['lag_s'] * 1000:>8.0f}{r['cpu_s']:>7.2f}{r['peak_mb']:>9.0f}"
        )
    if "history4k" in rows:
        r = rows["history4k"]
        print(
            f"{'resume 1,000-msg conversation':<34}{r['open_s']:>9.3f}"
            f"   (widgets mounted in the log: {r['widgets']:.0f})"
        )
        if "full4k" in rows:
            print(f"history/empty streaming ratio: {r['reply_s'] / rows['full4k']['reply_s']:.2f}x")


if __name__ == "__main__":
    main()
