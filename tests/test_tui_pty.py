"""One real terminal: the installed `glmchat` in a pseudo-terminal, read through a VT screen model.

It catches what headless tests cannot: the console script, terminal setup and teardown, and the
bytes real keys send (Enter is CR, Ctrl+Q is DC1, which raw mode must not take as XON).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest

from glmchat.config import save_value
from tests.tui_helpers import API_KEY, stream
from tests.wire_server import Reply, WireServer

COLUMNS, ROWS = 120, 40


def _glmchat() -> str:
    found = Path(sys.executable).parent / "glmchat"
    if found.exists():
        return str(found)
    which = shutil.which("glmchat")
    if which is None:
        pytest.skip("the glmchat console script is not installed")
    return which


def terminal_env() -> dict[str, str]:
    """What the app gets in a terminal: the test's own directories and key, nothing else."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "GLMCHAT_CONFIG_DIR": os.environ["GLMCHAT_CONFIG_DIR"],
        "GLMCHAT_DATA_DIR": os.environ["GLMCHAT_DATA_DIR"],
        "ZAI_API_KEY": API_KEY,
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }


class Terminal:
    """A child process on a pty, with its output fed into a pyte screen."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(command, env=env, dimensions=(ROWS, COLUMNS), timeout=5)

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def pump(self, timeout: float = 0.1) -> None:
        try:
            self.stream.feed(self.child.read_nonblocking(65536, timeout=timeout))
        except pexpect.TIMEOUT:
            pass

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text:
            if time.monotonic() > deadline or not self.child.isalive():
                raise AssertionError(f"{text!r} never appeared; the screen:\n{self.text}")
            self.pump()

    def wait_for_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            try:
                self.pump()
            except pexpect.EOF:
                break
        if self.child.isalive():
            self.child.terminate(force=True)
            raise AssertionError(f"glmchat did not exit; the screen:\n{self.text}")
        self.child.close()
        return self.child.exitstatus


def test_glmchat_in_a_real_terminal_sends_a_prompt_and_quits(wire: WireServer) -> None:
    save_value("providers.zai.base_url", wire.url)
    wire.reply(Reply(chunks=stream(["The capital ", "of Burkina Faso is ", "Ouagadougou."])))
    term = Terminal(_glmchat(), terminal_env())
    try:
        term.wait_for("thinking ON")  # the status bar: the app is up
        # One write, as a fast typist, a paste or `tmux send-keys TEXT Enter` delivers it: the
        # Enter must still come after the text it follows.
        term.child.send("capital?\r")
        term.wait_for("Ouagadougou.")
        assert "The capital of Burkina Faso is Ouagadougou." in term.text
        term.child.send("\x11")  # ctrl+q
        status = term.wait_for_exit(timeout=5)
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    assert status == 0
    [request] = wire.requests
    assert request.json["messages"] == [{"role": "user", "content": "capital?"}]


def test_a_paste_with_escape_codes_and_a_byte_that_is_not_utf8(wire: WireServer) -> None:
    """Found by QA: a bracketed paste holding an escape character (a log with colours) became
    key presses, its newline an Enter that sent the first line at once; one byte that is not
    UTF-8 ended the app (traceback, exit 0, the draft lost)."""
    save_value("providers.zai.base_url", wire.url)
    term = Terminal(_glmchat(), terminal_env())
    try:
        term.wait_for("thinking ON")
        # Line breaks as terminals paste them: CR.
        pasted = "log: \x1b[31mERROR\x1b[0m disk full\rnext line\x1b]0;PWNED\x07 end"
        term.child.send("\x1b[200~" + pasted + "\x1b[201~")
        term.wait_for("next line")
        term.child.send(b"\xff")  # a byte no UTF-8 text holds
        term.child.send(" kept")
        term.wait_for("end\ufffd kept")
        shown = term.text
        assert "log: \\x1b[31mERROR\\x1b[0m disk full" in shown
        assert "next line\\x1b]0;PWNED\\x07 end" in shown
        assert "\\x0d" not in shown  # a line break, not its spelling
        assert wire.requests == []  # nothing was sent: a paste is text, not keys
        term.child.send("\x11")  # the prompt, never sent, would be lost: asked, quit again
        term.wait_for("Unsent prompt")
        term.child.send("\x11")
        status = term.wait_for_exit(timeout=5)
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    assert status == 0
