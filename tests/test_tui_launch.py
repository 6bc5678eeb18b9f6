"""`glmchat` started without a terminal: one line on stderr and status 2, at once."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator

import pytest

# Generous: the fixed launcher answers in well under a second; the broken one never returned.
TIMEOUT = 30


@pytest.fixture
def tty() -> Iterator[int]:
    """One end of a pseudo-terminal: a file descriptor that is a terminal."""
    controller, terminal = pty.openpty()
    try:
        yield terminal
    finally:
        os.close(terminal)
        os.close(controller)


def _glmchat(*args: str, stdin: object, stdout: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "glmchat", *args],
        stdin=stdin,  # type: ignore[arg-type]
        stdout=stdout,  # type: ignore[arg-type]
        stderr=subprocess.PIPE,
        timeout=TIMEOUT,
        check=False,
    )


def _one_clear_line(proc: subprocess.CompletedProcess[bytes], *missing: str) -> None:
    assert proc.returncode == 2
    [line] = proc.stderr.decode().splitlines()
    assert line.startswith("glmchat: the chat screen needs a terminal")
    for name in missing:
        assert name in line
    assert "glmchat ask" in line


@pytest.mark.parametrize("args", [(), ("--resume", ""), ("--resume",)])
def test_without_a_terminal_it_exits_with_one_line(args: tuple[str, ...]) -> None:
    """The report: `glmchat --resume ""` from a script spun at 97% CPU for ever."""
    proc = _glmchat(*args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    _one_clear_line(proc, "stdin", "stdout")
    assert proc.stdout == b""  # no escape sequences written into the pipe


def test_a_piped_stdin_with_a_terminal_for_output(tty: int) -> None:
    proc = _glmchat(stdin=subprocess.PIPE, stdout=tty)
    _one_clear_line(proc, "stdin")
    assert "stdout" not in proc.stderr.decode()


def test_a_terminal_for_input_with_stdout_piped(tty: int) -> None:
    proc = _glmchat(stdin=tty, stdout=subprocess.PIPE)
    _one_clear_line(proc, "stdout")
    assert proc.stdout == b""
