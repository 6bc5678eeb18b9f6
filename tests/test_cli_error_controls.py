"""Error lines never carry a control character raw, whatever stderr is (found by QA).

An error line quotes what was typed (a model, a provider, a key, a file name, an option), and a
typed argument may hold escape sequences (`$'\\e]0;T\\a'` retitles the window, `$'\\e[2J'`
clears the screen). stderr is read by a person even when it is a pipe (`2>&1 | less -R`, ssh or
docker exec without a tty, a CI log), so it is neutralised always; stdout stays exact when
piped. Each command QA named runs as the installed console script, on a real pseudo-terminal
and with stderr piped.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.test_ask_cli import GLMCHAT
from tests.test_cli_terminal_safety import ALL_KINDS, assert_inert, run_in_pty, seed

TITLE = "\x1b]0;PWNED\x07"  # OSC 0: the window's title
CLEAR = "\x1b[2J"
# Every kind of sequence the terminal-safety tests use, but NUL (an argument cannot hold one).
TYPED = ALL_KINDS.replace("\x00", "")

# Every path to an error line QA found, and its neighbours: the edge's GlmchatError lines
# (config, provider, store), argparse's own usage errors at the top level and in a subcommand.
ERRORS = {
    "ask_model": ["ask", "-m", f"no{TITLE}/x", "hi"],
    "chat_model": ["-m", f"no{TITLE}/x"],
    "models_provider": ["models", "--provider", f"X{TITLE}"],
    "set_key_provider": ["config", "set-key", f"X{TITLE}"],
    "set_unknown_key": ["config", "set", f"foo{CLEAR}", "1"],
    "import_missing": ["sessions", "import", f"/nonexist{TITLE}{TYPED}"],
    "show_unknown_id": ["sessions", "show", f"x{CLEAR}"],
    "subcommand_option": ["tools", "list", f"--x{TITLE}"],
    "top_option": [f"--x{TITLE}{TYPED}"],
    "unknown_command": [f"bogus{CLEAR}"],
    "bad_choice": ["usage", "--by", f"day{TITLE}"],
    "bad_int": ["sessions", "list", "--limit", f"1{CLEAR}"],
}


def _one_error_line(screen: str) -> None:
    assert_inert(screen.replace("\n", ""))
    assert screen.startswith("glmchat") and screen.count("\n") == 1, screen
    assert "\\x1b" in screen  # shown as text, not dropped


@pytest.mark.parametrize("argv", ERRORS.values(), ids=list(ERRORS))
def test_error_lines_on_a_real_terminal(argv: list[str]) -> None:
    code, screen = run_in_pty(*argv)
    assert code == 2, screen
    _one_error_line(screen)


# Without a terminal the chat screen says so before it reads -m (a line quoting nothing).
PIPED = {name: argv for name, argv in ERRORS.items() if name != "chat_model"}


@pytest.mark.parametrize("argv", PIPED.values(), ids=list(PIPED))
def test_error_lines_on_a_piped_stderr(argv: list[str]) -> None:
    # Bytes: text mode would read a raw CR as a line end.
    done = subprocess.run(
        [GLMCHAT, *argv], stdin=subprocess.DEVNULL, capture_output=True, timeout=30
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == b""
    _one_error_line(done.stderr.decode("utf-8"))


def test_a_piped_stdout_stays_exact_while_stderr_is_neutralised() -> None:
    seed(ALL_KINDS)
    done = subprocess.run(
        [GLMCHAT, "sessions", "show", "hostile1"], capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert f"answer {ALL_KINDS}".encode() in done.stdout  # the output itself: exact
    done = subprocess.run(
        [GLMCHAT, "sessions", "show", f"x{TYPED}"], capture_output=True, timeout=30
    )
    assert done.returncode == 2 and done.stdout == b""
    _one_error_line(done.stderr.decode("utf-8"))
