"""One error tree, one edge: every layer's errors share a root, the command line picks the exit
status, and an unexpected error shows its traceback only with GLMCHAT_DEBUG."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmchat.backend import errors as E
from glmchat.cli import main
from glmchat.cli.errors import CliError, exit_status
from glmchat.errors import GlmchatError
from glmchat.store import SessionStore, StoreError
from tests.wire_server import Reply, WireServer, sse_event

# DESIGN.md, "Exit status", written out again on purpose: the test is the contract's copy.
DESIGN_EXIT_STATUS = {
    "bad_request": 1,
    "context_length": 1,
    "protocol": 1,
    "schema": 1,
    "auth": 3,
    "rate_limit": 4,
    "overloaded": 4,
    "quota": 4,
    "network": 5,
    "server": 5,
    "interrupted": 6,
}


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_provider_error_kind_has_design_s_exit_status() -> None:
    classes = [E.ProviderError, *_subclasses(E.ProviderError)]
    assert {cls.kind for cls in classes} <= set(DESIGN_EXIT_STATUS)
    for cls in classes:
        error = cls("x")
        assert isinstance(error, GlmchatError)
        assert exit_status(error) == DESIGN_EXIT_STATUS[cls.kind], cls.__name__
        assert not hasattr(error, "exit_code")  # the backend knows kinds, not exit codes


def test_store_errors_share_the_root_and_are_the_user_s_to_fix() -> None:
    for cls in (StoreError, *_subclasses(StoreError)):
        error = cls("x")
        assert isinstance(error, GlmchatError) and exit_status(error) == 2, cls.__name__
    assert exit_status(CliError("x")) == 2 and exit_status(CliError("x", 4)) == 4


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (401, b'{"error":{"code":"1000","message":"bad key"}}', 3),
        (402, b'{"error":{"code":"1113","message":"no balance"}}', 4),
        (400, b'{"error":{"code":"1210","message":"bad parameter"}}', 1),
    ],
)
def test_a_provider_error_reaches_the_edge_unwrapped(
    wire: WireServer, capsys: pytest.CaptureFixture[str], status: int, body: bytes, code: int
) -> None:
    """`glmchat models` lets the provider's error through; the edge prints its message as the
    provider wrote it and picks the status from its kind."""
    wire.reply(Reply(body=body, status=status, headers={"Content-Type": "application/json"}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZAI_API_KEY", "sk-some-key-1234")
        assert main(["models", "--base-url", wire.url]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("glmchat: ")


def test_a_store_error_reaches_the_edge_unwrapped(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = isolated_dirs / "data"
    data.mkdir()
    (data / "glmchat.db").write_bytes(b"not a database at all, just text" * 4)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    for argv in (["sessions", "list"], ["sessions", "show", "abc"], ["ask", "-c", "hi"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "not a glmchat database" in err, argv
    (data / "glmchat.db").unlink()
    SessionStore(data / "glmchat.db").close()
    assert main(["sessions", "show", "nope"]) == 2
    assert "no conversation with id 'nope'" in capsys.readouterr().err


def _boom(*_args: object, **_kw: object) -> int:
    raise RuntimeError("a bug, not a user's mistake")


def test_an_unexpected_error_is_one_line_without_glmchat_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("glmchat.cli.sessions.run_list", _boom)
    assert main(["sessions", "list"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "glmchat: unexpected error: RuntimeError: a bug, not a user's mistake "
        "(set GLMCHAT_DEBUG=1 for details)\n"
    )


def test_an_unexpected_error_shows_its_traceback_with_glmchat_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLMCHAT_DEBUG", "1")
    monkeypatch.setattr("glmchat.cli.sessions.run_list", _boom)
    assert main(["sessions", "list"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert 'in _boom\n    raise RuntimeError("a bug' in err
    assert err.endswith("(set GLMCHAT_DEBUG=1 for details)\n")


def _explode_parse(*_args: object, **_kw: object) -> object:
    raise RuntimeError("the chunk parser broke")


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_inside_an_exchange_is_logged_only_with_glmchat_debug(
    wire: WireServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    debug: bool,
) -> None:
    """The engine turns a bug into the answer's error (exit 5, one line); its traceback, which
    the message cannot hold, goes to the log that GLMCHAT_DEBUG shows."""
    if debug:
        monkeypatch.setenv("GLMCHAT_DEBUG", "1")
    monkeypatch.setenv("ZAI_API_KEY", "sk-some-key-1234")
    monkeypatch.setattr("glmchat.backend.openai_compat.parse_stream", _explode_parse)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    wire.reply(Reply(body=sse_event({"content": "hi"}, finish_reason="stop")))
    assert main(["ask", "--no-save", "--base-url", wire.url, "hi"]) == 5
    err = capsys.readouterr().err
    assert "Unexpected error: RuntimeError: the chunk parser broke" in err
    if debug:
        assert "glmchat.engine" in err and "Traceback (most recent call last)" in err
        assert "in _explode_parse" in err
        assert logging.getLogger("glmchat").handlers == []  # for this command only
    else:
        assert err.count("\n") == 1 and "Traceback" not in err


def test_glmchat_debug_shows_the_traceback_of_the_installed_command(tmp_path: Path) -> None:
    """Through the console script too: logging is set up at the edge of a real process."""
    code = (
        "import glmchat.cli.sessions as s\n"
        "def boom(args): raise KeyError('deep')\n"
        "s.run_list = boom\n"
        "from glmchat.cli import main\n"
        "raise SystemExit(main(['sessions', 'list']))\n"
    )
    env = {"GLMCHAT_DATA_DIR": str(tmp_path), "GLMCHAT_CONFIG_DIR": str(tmp_path)}
    quiet = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30
    )
    loud = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, "GLMCHAT_DEBUG": "1"},
        timeout=30,
    )
    assert quiet.returncode == loud.returncode == 1
    assert "Traceback" not in quiet.stderr and quiet.stderr.count("\n") == 1
    assert "Traceback (most recent call last)" in loud.stderr and "KeyError: 'deep'" in loud.stderr


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["ask", "-c", "--session", "x", "hi"], "glmchat ask: argument --session: not allowed"),
        (["sessions", "list", "--limit", "0"], "glmchat sessions list: argument --limit:"),
        (["nosuch"], "glmchat: argument COMMAND: invalid choice: 'nosuch'"),
        (["sessions", "fork"], "glmchat sessions fork: the following arguments are required"),
        (["usage", "--by", "planet"], "glmchat usage: argument --by: invalid choice"),
        (["--no-such-flag"], "glmchat: unrecognized arguments: --no-such-flag"),
        # Named by the subcommand whose arguments they are (found by QA: "glmchat: ...").
        (["ask", "--bogus", "hi"], "glmchat ask: unrecognized arguments: --bogus"),
        (["ask", "hi", "extra"], "glmchat ask: unrecognized arguments: extra"),
        (["sessions", "list", "--bogus"], "glmchat sessions list: unrecognized arguments"),
        (["config", "show", "--x"], "glmchat config show: unrecognized arguments: --x"),
        (["sessions"], "glmchat sessions: the following arguments are required: COMMAND"),
        # An empty ID (`--session "$ID"`, ID unset) quietly started a new conversation.
        (["ask", "--session", "", "hi"], "glmchat ask: argument --session: an ID is needed"),
        (["ask", "--session", " ", "hi"], "glmchat ask: argument --session: an ID is needed"),
    ],
)
def test_a_command_line_mistake_is_one_line_and_status_2(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Found by QA: argparse printed its whole usage block before the error.
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(said), err
    assert err.rstrip().endswith("--help)")
