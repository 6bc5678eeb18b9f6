"""A terminal closed under a pane whose conversation is not saved yet (a new one, a ctrl+n pane
beside a saved one, also under the unsent-prompt question): with no one to ask, the
conversation is saved for the text, titled from it and with no messages, the text its draft,
so `--resume` finds it (found by QA: the typed text was lost). A real process on a pty."""

from __future__ import annotations

import os
import signal
import time

import pexpect
import pytest

from glmchat import paths
from glmchat.store import SessionStore
from tests.test_closed_terminal import _gone
from tests.test_tui_pty import Terminal, _glmchat, terminal_env
from tests.tui_helpers import message, seed

SAVED = "aaaa00000002"


def _end(term: Terminal, how: str) -> None:
    time.sleep(0.2)
    try:
        if how == "closed":  # a closed window, `tmux kill-session`: the pty goes, a SIGHUP comes
            term.child.close(force=False)
            _gone(term)
        else:
            term.child.kill(getattr(signal, how))
            _drained(term)
    finally:
        if term.child.isalive():
            os.kill(term.child.pid, signal.SIGKILL)


def _drained(term: Terminal, timeout: float = 10.0) -> None:
    """Wait for the end, reading what the app writes as it goes: a pty that is not read fills
    up, and the app's last screen would wait on it."""
    deadline = time.monotonic() + timeout
    while term.child.isalive() and time.monotonic() < deadline:
        try:
            term.pump()
        except pexpect.EOF:
            break
    _gone(term, timeout=1.0)


def _kept() -> dict[str, tuple[str, int, str]]:
    """Each conversation's title, message count and draft, by id."""
    with SessionStore(paths.database_path()) as store:
        return {
            c.id: (c.title or "", c.message_count, store.draft(c.id))
            for c in store.list_conversations()
        }


@pytest.mark.parametrize("how", ["closed", "SIGHUP", "SIGTERM"])
def test_a_new_conversations_text_is_kept_when_the_terminal_closes(how: str) -> None:
    term = Terminal(_glmchat(), terminal_env())
    term.wait_for("New conversation")
    term.child.send("Plan the garden beds")
    term.wait_for("Plan the garden beds")
    _end(term, how)
    [(conversation_id, kept)] = _kept().items()
    assert kept == ("Plan the garden beds", 0, "Plan the garden beds")
    # Found again as it was: the box holds the text, and sending it starts the conversation.
    again = Terminal(f"{_glmchat()} --resume {conversation_id}", terminal_env())
    try:
        again.wait_for("Plan the garden beds")
    finally:
        again.child.terminate(force=True)


def test_a_ctrl_n_pane_beside_a_saved_conversation_is_kept_too() -> None:
    seed(SAVED, "Sourdough starter", [message("user", "Feed it?"), message("assistant", "Yes.")])
    term = Terminal(f"{_glmchat()} --resume {SAVED}", terminal_env())
    term.wait_for("Sourdough starter")
    term.child.send("rye next time")
    term.wait_for("rye next time")
    term.child.send("\x0e")  # ctrl+n: a new pane
    term.wait_for("New conversation")
    term.child.send("a new question")
    term.wait_for("a new question")
    _end(term, "SIGHUP")
    kept = _kept()
    assert kept.pop(SAVED) == ("Sourdough starter", 2, "rye next time")
    assert list(kept.values()) == [("a new question", 0, "a new question")]


def test_the_text_is_kept_when_the_terminal_closes_under_the_unsent_prompt_question() -> None:
    term = Terminal(_glmchat(), terminal_env())
    term.wait_for("New conversation")
    term.child.send("half a thought")
    term.wait_for("half a thought")
    term.child.send("\x11")  # ctrl+q: the app asks before losing it
    term.wait_for("Unsent prompt")
    _end(term, "SIGHUP")
    assert list(_kept().values()) == [("half a thought", 0, "half a thought")]


def test_an_empty_new_pane_saves_nothing() -> None:
    term = Terminal(_glmchat(), terminal_env())
    term.wait_for("New conversation")
    _end(term, "SIGTERM")
    assert _kept() == {}
