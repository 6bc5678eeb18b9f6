"""The installed `glmchat` in tmux (120x40), driven and watched as an outside check does it.

Keys go in with `tmux send-keys`; the screen is read back with `tmux capture-pane`; CPU and
memory come from /proc. Used by bench_tmux.py and its scenarios.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SOCKET = f"glmchat-bench-{os.getpid()}"
POLL = 0.005
MCP_SERVER = Path(__file__).parent.parent / "tests" / "mcp_server.py"


def tmux(*args: str, check: bool = True) -> str:
    return subprocess.run(
        ["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=check
    ).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", "bench")


def wait_for(text: str, timeout: float, not_before: float = 0.0) -> float:
    """When `text` is first seen on the screen (polled every POLL seconds, from `not_before`:
    polling itself takes CPU, with a process per look)."""
    time.sleep(max(0.0, not_before - time.perf_counter()))
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if text in screen():
            return time.perf_counter()
        time.sleep(POLL)
    raise TimeoutError(f"{text!r} never appeared on the screen:\n{screen()}")


def keys(*names: str, check: bool = True) -> None:
    """Named keys (Enter, C-n, ...), one tmux call."""
    tmux("send-keys", "-t", "bench", *names, check=check)


def type_text(text: str) -> None:
    tmux("send-keys", "-t", "bench", "-l", text)


def app_env(tmp: str) -> dict[str, str]:
    return {
        "GLMCHAT_CONFIG_DIR": f"{tmp}/config",
        "GLMCHAT_DATA_DIR": f"{tmp}/data",
        "ZAI_API_KEY": "sk-bench-0000",
    }


def write_config(tmp: str, url: str, mcp: bool = False) -> None:
    """config.toml pointing the default provider at the loopback server; with `mcp`, the
    tests' real stdio MCP server (the official SDK) configured too."""
    Path(f"{tmp}/config").mkdir(exist_ok=True)
    rate = os.environ.get("BENCH_REFRESH_RATE", "")  # default: the app's own
    text = f"[ui]\nrefresh_rate = {rate}\n" if rate else ""
    text += f'[providers.zai]\nbase_url = "{url}"\n'
    if mcp:
        text += f'[mcp.servers.bench]\ncommand = "{sys.executable}"\nargs = ["{MCP_SERVER}"]\n'
    Path(f"{tmp}/config/config.toml").write_text(text)


def launch(tmp: str, args: str = "") -> float:
    """Start the app (or BENCH_APP, e.g. a profiling wrapper) in a 120x40 tmux session with its
    files in `tmp`; returns the moment it was started."""
    exe = (
        os.environ.get("BENCH_APP")
        or shutil.which("glmchat")
        or str(Path(sys.executable).parent / "glmchat")
    )
    exports = " ".join(f"{k}={v}" for k, v in app_env(tmp).items())
    return run_in_tmux(f"exec env TERM=xterm-256color {exports} {exe} {args}")


def run_in_tmux(command: str) -> float:
    """Run a shell command in a new 120x40 tmux session; returns the moment it was started."""
    started = time.perf_counter()
    tmux(
        "-f", "/dev/null", "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", command
    )  # fmt: skip
    return started


def app_pid() -> int:
    return int(tmux("display-message", "-p", "-t", "bench", "#{pane_pid}").strip())


def _serving() -> bool:
    return subprocess.run(["tmux", "-L", SOCKET, "ls"], capture_output=True).returncode == 0


def stop() -> None:
    """Quit a wrapped app (a profiler records on the way out), then end the tmux server. The
    app may have quit already, or the server been stopped: then there is nothing to do."""
    if not _serving():
        return
    if os.environ.get("BENCH_APP"):
        keys("C-q", check=False)
        time.sleep(3)
    pid = tmux("display-message", "-p", "-t", "bench", "#{pane_pid}", check=False).strip()
    tmux("kill-server", check=False)
    # A server just killed may still hold its socket (the next launch would fail on it), and
    # the app may still be ending (its CPU would count in the next run).
    deadline = time.perf_counter() + 10
    while _serving() or (pid and _alive(int(pid))):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the tmux server {SOCKET} or the app (pid {pid}) would not stop")
        time.sleep(0.05)


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    """Running, not a zombie (an orphan may wait a while to be reaped)."""
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def _tree(root: int) -> list[int]:
    """`root` and its live descendants (MCP servers, a profiler's child...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(int(_stat(int(entry))[1]), []).append(int(entry))
            except (OSError, IndexError):
                continue  # gone meanwhile
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_cpu(root: int) -> float:
    """CPU seconds of the process tree: each live process's user and system time, with what
    its reaped children used (cutime, cstime)."""
    ticks = 0
    for pid in _tree(root):
        try:
            fields = _stat(pid)
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
