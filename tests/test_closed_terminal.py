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
