"""No command-line output lets stored or remote text drive the terminal.

Titles, answers, reasoning, model names, provider errors, config values and file names may hold
escape sequences (clear the screen, set the window title, write the clipboard with OSC 52, the
one-byte C1 CSI, bare CR and backspace that overwrite a line, bidi overrides). On a terminal every
command shows them as visible text; piped, and in JSON, they stay exact.

Two ways in: a real pseudo-terminal around the installed console script (the real isatty path),
and, for the many command x sequence pairs, `main()` in-process with a stdout that says it is a
terminal.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
from pathlib import Path

import pytest

from glmchat import paths
from glmchat.cli import main
from glmchat.store import SessionStore, parse_documents
from glmchat.terminal_text import dumps_json, neutralize_controls
from tests.test_ask_cli import GLMCHAT
from tests.wire_server import SSE_DONE, Reply, WireServer, sse_event

KINDS = {
    "csi_clear_screen": "\x1b[2J\x1b[H",
    "osc_window_title": "\x1b]0;PWNED\x07",
    "osc52_clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "osc_st_terminated": "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",
    "c1_csi": "\x9b2J",
    "c1_osc": "\x9d0;PWNED\x9c",
    "bare_cr": "harmless\rEVIL",
    "backspace": "abc\x08\x08\x08EVIL",
    "delete": "x\x7fy",
    "bidi_override": "abc\u202edcba\u202c \u2066iso\u2069",
    "nul_and_bell": "a\x00b\x07c",
}
# What must never reach a terminal raw (tab and newline are fine).
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ALL_KINDS = "".join(KINDS.values())


def assert_inert(text: str) -> None:
    found = RAW.search(text)
    assert found is None, f"raw {found.group()!r} reached the terminal in {text!r}"


# --- the mechanism ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_neutralize_leaves_nothing_raw_and_keeps_the_text_visible(kind: str) -> None:
    shown = neutralize_controls(f"before {KINDS[kind]} after\tTAB\nline")
    assert_inert(shown.replace("\t", "").replace("\n", ""))
    assert shown.startswith("before ") and shown.endswith(" after\tTAB\nline")
    assert "PWNED" not in KINDS[kind] or "PWNED" in shown  # shown as text, not dropped


def test_neutralize_forms() -> None:
    assert neutralize_controls("\x1b[2J") == "\\x1b[2J"
    assert neutralize_controls("\x9b") == "\\x9b"
    assert neutralize_controls("\u202e") == "\\u202e"
    assert neutralize_controls("a\r\nb") == "a\nb"  # CRLF is a newline, not an overwrite


@pytest.mark.parametrize("kind", KINDS)
def test_dumps_json_is_exact_and_inert(kind: str) -> None:
    value = {"text": KINDS[kind], "list": [KINDS[kind]], "ünï": "中文"}
    text = dumps_json(value, indent=2)
    assert json.loads(text) == value
    assert_inert(text.replace("\n", ""))
    assert "中文" in text  # readable text stays readable


# --- in-process: every command with every kind --------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_on_terminal(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str]:
    out, err = FakeTerminal(), FakeTerminal()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


def seed(payload: str, conv_id: str = "hostile1") -> str:
    doc = {
        "format": "glmchat-conversation",
        "version": 1,
        "id": conv_id,
        "title": f"title {payload} end",
        "model": f"glm{payload}",
        "provider": f"zai{payload}",
        "system_prompt": f"system {payload}",
        "messages": [
            {"role": "user", "content": f"prompt {payload} needle"},
            {
                "role": "assistant",
                "content": f"answer {payload}",
                "reasoning": f"thought {payload}",
                "status": "partial",
                "error": f"provider said {payload}",
                "model": f"glm{payload}",
                "provider": f"zai{payload}",
            },
        ],
    }
    with SessionStore(paths.database_path()) as store:
        store.insert_conversations(parse_documents(json.dumps(doc)))
    return conv_id


COMMANDS = {
    "list": ["sessions", "list"],
    "search": ["sessions", "list", "--search", "needle"],
    "show": ["sessions", "show", "hostile1"],
    "export_stdout": ["sessions", "export", "hostile1"],
    "rm": ["sessions", "rm", "hostile1"],
    "unknown_id": ["sessions", "show", "{payload}"],
    "rename": ["sessions", "rename", "hostile1", "new {payload} title"],
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", COMMANDS)
def test_sessions_commands_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, command: str, kind: str
) -> None:
    payload = KINDS[kind]
    seed(payload)
    argv = [arg.replace("{payload}", payload) for arg in COMMANDS[command]]
    code, shown = run_on_terminal(monkeypatch, *argv)
    assert_inert(shown.replace("\n", "").replace("\t", ""))
    if command == "unknown_id":
        assert code == 2 and shown.count("\n") == 1
    else:
        assert code == 0, shown
        marker = {"show": "answer", "export_stdout": "answer", "rm": "deleted"}
        assert marker.get(command, "hostile1") in shown


@pytest.mark.parametrize("kind", KINDS)
def test_import_error_quoting_a_file_name_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    missing = tmp_path / f"export{KINDS[kind]}.json"
    code, shown = run_on_terminal(monkeypatch, "sessions", "import", str(missing))
    assert code == 2 and shown.count("\n") == 1
    assert_inert(shown.replace("\n", ""))


@pytest.mark.parametrize("kind", KINDS)
def test_config_show_on_a_terminal(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    config = paths.config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"system_prompt = {json.dumps(KINDS[kind])}\n", encoding="utf-8")
    code, shown = run_on_terminal(monkeypatch, "config", "show")
    assert code == 0, shown
    assert_inert(shown.replace("\n", ""))
    code, shown = run_on_terminal(monkeypatch, "config", "show", "--json")
    assert code == 0 and json.loads(shown)["settings"]["system_prompt"]["value"] == KINDS[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_json_on_a_terminal_stays_exact(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    payload = KINDS[kind]
    seed(payload)
    code, shown = run_on_terminal(monkeypatch, "sessions", "list", "--json")
    assert code == 0
    [item] = json.loads(shown)
    assert item["title"] == f"title {payload} end"
    code, shown = run_on_terminal(monkeypatch, "sessions", "show", "hostile1", "--format", "json")
    assert json.loads(shown)["messages"][1]["content"] == f"answer {payload}"
    assert_inert(shown.replace("\n", ""))


def test_piped_output_is_exact(capsys: pytest.CaptureFixture[str]) -> None:
    seed(ALL_KINDS)
    assert main(["sessions", "show", "hostile1"]) == 0
    assert f"answer {ALL_KINDS}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "bad_id", ["a/b", "..", "a\\b", "x\x1b[2J", "x\u202e", "-rf", "", "a" * 65]
)
def test_imported_ids_are_validated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bad_id: str
) -> None:
    doc = {"format": "glmchat-conversation", "version": 1, "id": bad_id, "messages": []}
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(doc))
    code, shown = run_on_terminal(monkeypatch, "sessions", "import", str(file))
    assert code == 2 and shown.count("\n") == 1, shown
    assert '"id"' in shown and "nothing imported" in shown
    assert_inert(shown.replace("\n", ""))
    with SessionStore(paths.database_path()) as store:
        assert store.count_conversations() == 0


# --- a real pseudo-terminal ----------------------------------------------------------------


def run_in_pty(*argv: str, timeout: float = 30.0) -> tuple[int, str]:
    """The console script with stdin, stdout and stderr on a pty; what the terminal got."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [GLMCHAT, *argv], stdin=slave, stdout=slave, stderr=slave, env=dict(os.environ)
    )
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                raise AssertionError(f"no output for {timeout} s: {b''.join(chunks)!r}")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        code = proc.wait(timeout)
    # The terminal turns each LF into CRLF; anything else that is raw came from us.
    return code, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["sessions", "list"],
        ["sessions", "list", "--search", "needle"],
        ["sessions", "show", "hostile1"],
        ["sessions", "export", "hostile1"],
        ["sessions", "rename", "hostile1", "renamed"],
        ["sessions", "rm", "hostile1"],
    ],
    ids=lambda argv: "-".join(argv[:2]),
)
def test_sessions_commands_in_a_real_terminal(argv: list[str]) -> None:
    seed(ALL_KINDS)
    code, screen = run_in_pty(*argv)
    assert code == 0, screen
    assert_inert(screen.replace("\n", ""))
    if argv[1] in ("show", "export"):
        assert "answer \\x1b[2J" in screen and "\\x9b2J" in screen and "\\u202e" in screen


def test_import_prints_only_validated_ids_in_a_real_terminal(tmp_path: Path) -> None:
    seed(ALL_KINDS)
    exported = tmp_path / "x.json"
    assert (
        run_in_pty("sessions", "export", "hostile1", "--format", "json", "-o", str(exported))[0]
        == 0
    )
    assert json.loads(exported.read_text(encoding="utf-8"))["title"] == f"title {ALL_KINDS} end"
    code, screen = run_in_pty("sessions", "import", str(exported))
    assert code == 0 and "imported hostile1 as " in screen
    assert_inert(screen.replace("\n", ""))


def _hostile_answer() -> Reply:
    body = (
        sse_event({"reasoning_content": f"think {ALL_KINDS}"})
        + sse_event({"content": "answer "})
        # A sequence cut between two chunks is caught as surely as a whole one.
        + sse_event({"content": "split \x1b"})
        + sse_event({"content": "]0;PWNED\x07 " + ALL_KINDS}, finish_reason="stop")
        + SSE_DONE
    )
    return Reply(body=body)


def test_ask_answer_and_reasoning_in_a_real_terminal(wire: WireServer) -> None:
    wire.reply(_hostile_answer(), _hostile_answer())
    env_key = {"ZAI_API_KEY": "sk-test-1234"}
    os.environ.update(env_key)
    try:
        code, screen = run_in_pty(
            "ask", "--no-save", "--show-thinking", "--base-url", wire.url, "q"
        )
        assert code == 0, screen
        assert_inert(screen.replace("\n", ""))
        assert "split \\x1b]0;PWNED\\x07" in screen and "think " in screen
        code, screen = run_in_pty("ask", "--json", "--no-save", "--base-url", wire.url, "q")
        assert code == 0
        assert json.loads(screen)["content"] == "answer split \x1b]0;PWNED\x07 " + ALL_KINDS
    finally:
        for key in env_key:
            os.environ.pop(key, None)


def test_provider_error_and_models_in_a_real_terminal(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZAI_API_KEY", "sk-test-1234")
    error = {"error": {"code": "1214", "message": f"bad {ALL_KINDS} request"}}
    wire.reply(
        Reply(
            body=json.dumps(error).encode(),
            status=400,
            headers={"Content-Type": "application/json"},
        )
    )
    code, screen = run_in_pty("ask", "--no-save", "--base-url", wire.url, "q")
    assert code == 1 and "bad " in screen
    assert_inert(screen.replace("\n", ""))
    models = {"data": [{"id": f"glm{ALL_KINDS}"}, {"id": "glm-4.5"}]}
    wire.reply(
        Reply(body=json.dumps(models).encode(), headers={"Content-Type": "application/json"})
    )
    code, screen = run_in_pty("models", "--base-url", wire.url)
    # The hostile id's spelling is wide: at this width the table gives the shared `zai/` to
    # its header and cuts the id (the footnote says so), but never draws its escapes.
    lines = screen.splitlines()
    assert code == 0 and lines[0].startswith("zai/MODEL"), screen
    assert any(line.split()[:1] == ["glm-4.5"] for line in lines), screen
    assert_inert(screen.replace("\n", ""))
