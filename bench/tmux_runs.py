"""One run of each bench_tmux scenario: the app in tmux against the loopback server, and the
yardstick process on the same stream from the same server in the same run.

Every run returns a flat dict of seconds and megabytes; bench_tmux.py takes medians.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time

from bench import tmux_app as tmux
from bench.loopback import ServerProcess, generated_stream, markdown_reply, seed_conversation
from bench.yardstick import read_stream

FIRST_PAINT = "thinking"  # the status bar's "thinking ON": the first screen is drawn
DOES_NOT_FIT = "does not fit the model"  # the dialog that offers to leave out old turns
SEED_MARKER = "ZZ-SEED-ZZ"
FIRST_THOUGHT = "I think"  # the reasoning's first words (see `stream`) in the thinking panel
AFTER = 0.5  # CPU is read this long after the last token shows: the stream's end is included


def marker(k: int = 0) -> str:
    return f"ZZ-END-{k:02d}-ZZ"


def reply_tokens(tokens: int, k: int = 0) -> list[str]:
    """A Markdown reply of about `tokens` tokens whose last token ends with marker k: the
    marker is whole on screen exactly when the last token is."""
    closing = f"\n\nThat is the whole answer: {marker(k)}"
    tail = [closing[i : i + 4] for i in range(0, len(closing), 4)]
    return markdown_reply(tokens - len(tail)) + tail


def stream(tokens: int, reasoning: int = 0, k: int = 0) -> bytes:
    thoughts = ["I think about this. "[i % 5 * 4 : i % 5 * 4 + 4] for i in range(reasoning)]
    return generated_stream(reply_tokens(tokens, k), thoughts)


def _send(prompt: str, resumed: bool) -> float:
    """Type `prompt` and press Enter; in a conversation over the model's window, take the
    dialog's offer to leave out the oldest turns, as a user would. Returns Enter's moment."""
    tmux.type_text(prompt)
    tmux.wait_for(prompt, 5)
    enter = time.perf_counter()
    tmux.keys("Enter")
    if resumed:
        tmux.wait_for(DOES_NOT_FIT, 10)
        tmux.keys("l")
    return enter


def reply(
    tokens: int,
    *,
    delay: float = 0.0,
    settle: float = 0.0,
    reasoning: int = 0,
    data: str | None = None,
    yardstick: bool = True,
    saved: bool = True,
) -> dict[str, float]:
    """One reply of `tokens` tokens after `reasoning` reasoning tokens, written at full speed or
    `delay` seconds apart, typed `settle` seconds after the first paint; with `data`, into the
    conversation saved there (launched with --resume). Then the yardstick process reads the
    same stream from the same server. `saved=False` for an app that keeps no glmchat store
    (bench/floor_app.py)."""
    server = ServerProcess(stream(tokens, reasoning), splits=0, delay=delay)
    tmp = tempfile.mkdtemp()
    out: dict[str, float] = {}
    try:
        tmux.write_config(tmp, server.url)
        if data:
            shutil.copytree(data, f"{tmp}/data")
        started = tmux.launch(tmp, "--resume" if data else "")
        out["first_paint_s"] = tmux.wait_for(SEED_MARKER if data else FIRST_PAINT, 30) - started
        pid = tmux.app_pid()
        time.sleep(settle)
        cpu0 = tmux.tree_cpu(pid)
        enter = _send("go", resumed=bool(data))
        if reasoning:
            # The stream itself, without what comes before its first token (in a resumed
            # conversation: reading the rest of it, the does-not-fit dialog, leaving out turns).
            tmux.wait_for(FIRST_THOUGHT, 30)
            out["cpu_stream0"] = tmux.tree_cpu(pid)
        # A paced reply takes its events x delay: look only near its end.
        end = enter + (tokens + reasoning) * delay - 0.5
        shown_at = tmux.wait_for(marker(0), 120, not_before=end)
        out["reply_s"] = shown_at - enter
        out["lag_s"] = shown_at - server.token_write(0)
        time.sleep(AFTER)
        whole = tmux.tree_cpu(pid)
        out["cpu_s"] = whole - cpu0
        if reasoning:
            out["cpu_stream_s"] = whole - out.pop("cpu_stream0")
        out["cpu_whole_s"] = whole
        out["peak_mb"] = tmux.peak_mb(pid)
        tmux.stop()
        if saved:
            answer = "".join(reply_tokens(tokens))
            out["complete"] = _complete_answers(f"{tmp}/data/glmchat.db", [answer])
        if yardstick:
            raw = read_stream(server.url)
            out |= {
                "y_wall_s": raw.wall_s,
                "y_cpu_s": raw.cpu_s,
                "y_read_s": raw.read_s,
                "y_lag_s": raw.lag(server.last_write_of(0)),
            }
    finally:
        tmux.stop()
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def first_paint(mcp: bool) -> float:
    """Launch to the first screen, with the tests' real MCP server configured or not. With it,
    the run also waits for the server's tools to be on (they start after the first paint), to
    be sure the server was really started."""
    tmp = tempfile.mkdtemp()
    try:
        tmux.write_config(tmp, "http://127.0.0.1:9", mcp=mcp)
        started = tmux.launch(tmp)
        shown = tmux.wait_for(FIRST_PAINT, 30) - started
        if mcp:
            tmux.wait_for("tools 1", 30)  # "tools 11": the MCP server's tools
    finally:
        tmux.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return shown


def seed(messages: int) -> str:
    """A data directory holding one conversation of `messages` messages whose last line is the
    seed marker; copy it for each run (a reply adds to it)."""
    data = tempfile.mkdtemp()
    saved = os.environ.get("GLMCHAT_DATA_DIR")
    os.environ["GLMCHAT_DATA_DIR"] = data
    try:
        seed_conversation(messages, last_words=f"\n\nThat is the whole answer: {SEED_MARKER}")
    finally:
        if saved is None:
            del os.environ["GLMCHAT_DATA_DIR"]
        else:
            os.environ["GLMCHAT_DATA_DIR"] = saved
    return data


def resume(data: str) -> dict[str, float]:
    """`glmchat --resume` on the conversation in `data`: launch to its last line on screen."""
    tmp = tempfile.mkdtemp()
    try:
        tmux.write_config(tmp, "http://127.0.0.1:9")
        shutil.copytree(data, f"{tmp}/data")
        started = tmux.launch(tmp, "--resume")
        shown = tmux.wait_for(SEED_MARKER, 30) - started
        peak = tmux.peak_mb(tmux.app_pid())
    finally:
        tmux.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"resume_s": shown, "peak_mb": peak}


def panes(n: int, tokens: int, delay: float, reasoning: int) -> dict[str, float]:
    """`n` panes each streaming its own reply (marker k for the k-th request), opened with the
    app's keys one after the other; the last one opened stays visible. Lag is the visible
    pane's; CPU is the process tree's from the first Enter to after the last token. The hidden
    panes' answers are checked in the store afterwards: each must be whole and complete."""
    bodies = [stream(tokens, reasoning, k) for k in range(n)]
    server = ServerProcess(bodies, splits=0, delay=delay)
    tmp = tempfile.mkdtemp()
    out: dict[str, float] = {}
    try:
        tmux.write_config(tmp, server.url)
        tmux.launch(tmp)
        tmux.wait_for(FIRST_PAINT, 30)
        pid = tmux.app_pid()
        cpu0 = tmux.tree_cpu(pid)
        for k in range(n):
            if k:
                tmux.keys("C-n")
                tmux.wait_for("New conversation", 5)  # the others are titled by now
            enter = _send(f"go {k}", resumed=False)
            deadline = time.perf_counter() + 10
            while server.requests <= k:  # request k is pane k's: body k, marker k
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"pane {k} sent nothing:\n{tmux.screen()}")
                time.sleep(0.005)
        end = enter + (tokens + reasoning) * delay - 0.5
        shown_at = tmux.wait_for(marker(n - 1), 120, not_before=end)
        out["lag_s"] = shown_at - server.token_write(n - 1)
        time.sleep(AFTER)
        out["cpu_s"] = tmux.tree_cpu(pid) - cpu0
        out["peak_mb"] = tmux.peak_mb(pid)
        # The last pane was opened last, so the others' streams have ended too; wait for
        # their last writes before reading what was saved.
        while min(server.last_write_of(k) for k in range(n)) == 0.0:
            time.sleep(0.05)
        time.sleep(AFTER)
        tmux.stop()
        answers = ["".join(reply_tokens(tokens, k)) for k in range(n)]
        out["complete"] = _complete_answers(f"{tmp}/data/glmchat.db", answers)
    finally:
        tmux.stop()
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _complete_answers(db: str, answers: list[str]) -> float:
    """How many of `answers` were saved whole, as complete assistant messages."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT content FROM messages WHERE role = 'assistant' AND status = 'complete'"
        ).fetchall()
    finally:
        conn.close()
    saved = {content for (content,) in rows}
    return float(sum(answer in saved for answer in answers))
