"""simonw's `llm` on the same paced stream, in the same tmux terminal: the issue's bar is that
glmchat's paced CPU stays below llm's.

`llm` is not a dependency: install it into a virtual environment of its own and name its
executable in BENCH_LLM (or put it on PATH), e.g.

    python -m venv /tmp/llm-venv && /tmp/llm-venv/bin/pip install llm
    BENCH_LLM=/tmp/llm-venv/bin/llm python -m bench.bench_tmux llm

It is given an OpenAI-compatible model pointing at the loopback server
(`extra-openai-models.yaml` in its own LLM_USER_PATH) and run as `llm -m bench go` in a shell
that then prints `times`: the CPU of llm and everything it waited for.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench import tmux_app as tmux
from bench.loopback import ServerProcess
from bench.tmux_runs import marker, stream


def llm_executable() -> str | None:
    return os.environ.get("BENCH_LLM") or shutil.which("llm")


def _model(home: str, url: str) -> None:
    Path(home, "extra-openai-models.yaml").write_text(
        f'- model_id: bench\n  model_name: glm-4.5\n  api_base: "{url}"\n'
    )


def _user_dir(exe: str, url: str) -> str:
    """llm's own directory with the loopback model in it, its log database made by a first
    short reply (as on any machine where llm has been used before)."""
    home = tempfile.mkdtemp()
    warm = ServerProcess(stream(20), splits=0)
    try:
        _model(home, warm.url)
        env = {**os.environ, "LLM_USER_PATH": home}
        subprocess.run([exe, "-m", "bench", "hi"], env=env, capture_output=True, check=True)
    finally:
        warm.close()
    _model(home, url)
    return home


def reply(exe: str, tokens: int, delay: float, reasoning: int) -> dict[str, float]:
    """`llm -m bench go` on the paced stream: its CPU (user + system of the whole process tree,
    from the shell's `times`) and the lag from the last token's write to it on screen."""
    server = ServerProcess(stream(tokens, reasoning), splits=0, delay=delay)
    home = _user_dir(exe, server.url)
    times = Path(home, "times.txt")
    script = (
        f"LLM_USER_PATH={shlex.quote(home)} {shlex.quote(exe)} -m bench go; "
        f"times > {shlex.quote(str(times))}; exec sleep 600"
    )
    try:
        started = tmux.run_in_tmux(f"exec env TERM=xterm-256color bash -c {shlex.quote(script)}")
        end = started + (tokens + reasoning) * delay - 0.5
        shown_at = tmux.wait_for(marker(0), 120, not_before=end)
        lag = shown_at - server.token_write(0)
        while not times.exists() or len(times.read_text().splitlines()) < 2:
            time.sleep(0.05)
        # The second line is the children's user and system time: "0m3.120s 0m0.410s".
        spent = times.read_text().splitlines()[1].split()
        cpu = sum(int(t[: t.index("m")]) * 60 + float(t[t.index("m") + 1 : -1]) for t in spent)
        return {"cpu_s": cpu, "lag_s": lag}
    finally:
        tmux.stop()
        server.close()
        shutil.rmtree(home, ignore_errors=True)
