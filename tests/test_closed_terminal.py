"""A terminal closed under the app (SIGHUP: the window closed, `tmux kill-session`) or the app
told to end (SIGTERM) ends it as the quit key does, without its question: every pane keeps its
unsent prompt with its conversation, a cleared box stays cleared (found by QA: the process died
where it stood, the draft was lost and a cleared one came back). A real process on a pty."""

from __future__ import annotations

import os
import signal
import time

import pytest

from glmchat import paths
from glmchat.store import SessionStore
from tests.test_tui_pty import Terminal, _glmchat, terminal_env
from tests.tui_helpers import message, seed

ID = "aaaa00000001"


def _draft() -> str:
    with SessionStore(paths.database_path()) as store:
        return store.draft(ID)


def _gone(term: Terminal, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while term.child.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not term.child.isalive(), "glmchat did not end"


@pytest.mark.parametrize("typed", ["half a thought", ""])
@pytest.mark.parametrize("how", ["closed", "SIGHUP", "SIGTERM"])
def test_a_closed_terminal_keeps_the_unsent_prompt(how: str, typed: str) -> None:
    seed(ID, "Sourdough starter", [message("user", "Feed it?"), message("assistant", "Yes.")])
    with SessionStore(paths.database_path()) as store:
        store.save_draft(ID, "an old draft, cleared before the close")
    term = Terminal(f"{_glmchat()} --resume {ID}", terminal_env())
    try:
        term.wait_for("an old draft")
        term.child.send("\x15")  # ctrl+u: the box is emptied
        deadline = time.monotonic() + 10
        while "an old draft" in term.text and time.monotonic() < deadline:
            term.pump()
        if typed:
            term.child.send(typed)
            term.wait_for(typed)
        time.sleep(0.2)
        if how == "closed":
            # As a closed window or `tmux kill-session`: the terminal's end goes, and with it
            # comes a SIGHUP.
            term.child.close(force=False)
        else:
            term.child.kill(getattr(signal, how))
        _gone(term)
    finally:
        if term.child.isalive():
            os.kill(term.child.pid, signal.SIGKILL)
    assert _draft() == typed
    if how == "SIGTERM":
        assert term.child.exitstatus == 128 + signal.SIGTERM  # ended, as asked, not killed


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_the_process_ends_even_when_its_loop_is_stuck(sig: signal.Signals) -> None:
    """Found in the benchmarks: after tmux's kill-server one exit in three or four waited for
    ever on the terminal writer. The handler is the interpreter's (it runs while the loop is
    stuck, as on a write to a terminal nobody reads) and a watchdog ends the process if the
    clean exit has not within its grace."""
    import subprocess
    import sys

    code = (
        "import asyncio, os, time\n"
        "from glmchat.tui import closed_terminal\n"
        "class App:\n"
        "    panes = []\n"
        "    def exit(self, return_code):\n"
        "        os._exit(99)  # the clean exit: never reached while the loop is stuck\n"
        "async def main():\n"
        "    closed_terminal.GRACE = 0.5\n"
        "    closed_terminal.end_on_signals(App())\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)  # the loop stuck\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 128 + sig
    finally:
        proc.kill()
        proc.wait()
