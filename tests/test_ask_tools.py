"""`glmchat ask` with tools, through the console script against scripted multi-request
conversations on the loopback server: --yes, approval on a real terminal (pexpect) and without
one, --no-tools, --tools with none configured, --json tool_calls, --show-thinking tool lines,
MCP servers started and stopped around the answer, and the shared recordings' tool calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from tests.test_ask_cli import GLMCHAT, ask
from tests.wire_server import Reply, WireServer, sse_body, sse_event

USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
RECORDED = Path(__file__).resolve().parents[2] / "shared" / "wire" / "recorded"
MCP_SERVER = str(Path(__file__).with_name("mcp_server.py"))
CALL_KEYS = {"id", "name", "arguments", "status", "result", "seconds"}


def tool_round(*calls: tuple[str, str, str], text: str = "") -> Reply:
    """Z.ai's shape A: reasoning, optional text, each call whole in one delta."""
    events = [sse_event({"reasoning_content": "I should look. "})]
    if text:
        events.append(sse_event({"content": text}))
    events.append(
        sse_event(
            {
                "tool_calls": [
                    {
                        "id": i,
                        "index": n,
                        "type": "function",
                        "function": {"name": f, "arguments": a},
                    }
                    for n, (i, f, a) in enumerate(calls)
                ]
            },
            finish_reason="tool_calls",
        )
    )
    events.append(sse_event({"content": ""}, finish_reason="tool_calls", usage=USAGE))
    return Reply(body=sse_body(*events), splits=9)


def answer(text: str) -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"content": text}), sse_event({}, finish_reason="stop", usage=USAGE)
        )
    )


def write_config(text: str) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A directory list_dir may look in, configured as the only built-in."""
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text("hello\n")
    (root / "sub").mkdir()
    write_config(f'[tools]\nbuiltin = ["list_dir"]\nallowed_dirs = [{json.dumps(str(root))}]\n')
    return root


def list_call(root: Path) -> tuple[str, str, str]:
    return ("call_1", "list_dir", json.dumps({"path": str(root)}))


def tool_message(request: Any) -> dict[str, Any]:
    [message] = [m for m in request.json["messages"] if m["role"] == "tool"]
    return message


def test_yes_runs_a_builtin_tool_and_the_model_gets_its_result(
    wire: WireServer, files: Path
) -> None:
    wire.reply(tool_round(list_call(files), text="Looking."), answer("There is notes.txt."))
    proc = ask("--no-save", "--yes", "--base-url", wire.url, "What is in there?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Looking.\n\nThere is notes.txt.\n"  # each round its own paragraph
    assert proc.stderr == ""
    first, second = wire.requests
    assert [t["function"]["name"] for t in first.json["tools"]] == ["list_dir"]
    assert first.json["tool_choice"] == "auto"
    sent = second.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[1]["reasoning_content"] == "I should look. "  # Z.ai: inside the loop
    result = tool_message(second)
    assert result["tool_call_id"] == "call_1"
    assert "notes.txt  6 bytes" in result["content"] and "sub/" in result["content"]


def test_json_tool_calls_shape(wire: WireServer, files: Path) -> None:
    wire.reply(
        tool_round(list_call(files), ("call_2", "list_dir", '{"path": "/etc"}')),
        answer("Done."),
    )
    proc = ask("--json", "--no-save", "--yes", "--base-url", wire.url, "look")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    doc = json.loads(proc.stdout)
    assert doc["content"] == "Done." and doc["error"] is None
    ok, refused = doc["tool_calls"]
    assert set(ok) == CALL_KEYS and set(refused) == CALL_KEYS
    assert (ok["id"], ok["name"], ok["status"]) == ("call_1", "list_dir", "ok")
    assert ok["arguments"] == json.dumps({"path": str(files)})
    assert "notes.txt" in ok["result"] and isinstance(ok["seconds"], float)
    # Outside allowed_dirs: the tool says no, the model reads why.
    assert refused["status"] == "error" and refused["result"].startswith("Error")
    assert doc["usage"]["prompt_tokens"] == 40  # both model calls


def test_without_a_terminal_calls_are_denied_with_a_note_and_the_model_told(
    wire: WireServer, files: Path
) -> None:
    wire.reply(tool_round(list_call(files)), answer("I could not look."))
    proc = ask("--no-save", "--base-url", wire.url, "What is in there?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "I could not look.\n"
    [note] = proc.stderr.splitlines()
    assert "denied the tool call list_dir" in note and "--yes" in note
    assert tool_message(wire.requests[1])["content"] == "The user denied this tool call."

    wire.reply(tool_round(list_call(files)), answer("I could not look."))
    quiet = ask("--json", "--no-save", "--base-url", wire.url, "again")
    assert quiet.stderr == ""  # --json: the JSON says it
    [call] = json.loads(quiet.stdout)["tool_calls"]
    assert call["status"] == "denied" and call["seconds"] is None


def test_no_tools_sends_no_tools(wire: WireServer, files: Path) -> None:
    wire.reply(answer("Plain."))
    proc = ask("--no-save", "--no-tools", "--base-url", wire.url, "q")
    assert proc.returncode == 0, proc.stderr
    body = wire.requests[0].json
    assert "tools" not in body and "tool_choice" not in body and "tool_stream" not in body


def test_tools_flag_with_none_configured_is_one_line(wire: WireServer) -> None:
    proc = ask("--no-save", "--tools", "--base-url", wire.url, "q")
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert "no tools are configured" in line and "[tools]" in line
    assert wire.requests == []
    wire.reply(answer("Plain."))
    assert ask("--no-save", "--base-url", wire.url, "q").returncode == 0  # no flag: no tools
    assert "tools" not in wire.requests[0].json


def test_show_thinking_shows_tool_activity(wire: WireServer, files: Path) -> None:
    wire.reply(tool_round(list_call(files)), answer("Two entries."))
    proc = ask("--no-save", "--yes", "--show-thinking", "--base-url", wire.url, "look")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    started = next(i for i, line in enumerate(lines) if line.startswith("[tool] list_dir {"))
    assert str(files) in lines[started]
    done = lines[started + 1]
    assert done.startswith("[tool] list_dir ok in ") and done.endswith(f"{files}:")
    assert lines[0] == "I should look. "  # reasoning first, on a line of its own
    assert proc.stdout == "Two entries.\n"


def test_a_tool_line_starts_a_line_after_a_rounds_text(wire: WireServer, files: Path) -> None:
    """Found by QA: on a terminal (stdout and stderr one screen) a round's text that ended
    mid-line had the `[tool]` line glued to it (`...evil[tool] list_dir {`). The answer itself
    is unchanged: the line break is the one the next round's paragraph starts with anyway."""
    wire.reply(tool_round(list_call(files), text="Looking."), answer("Two entries."))
    env = dict(os.environ, ZAI_API_KEY="sk-zai-secret-9876")
    args = ["ask", "--no-save", "--yes", "--show-thinking", "--base-url", wire.url, "look"]
    together = subprocess.run(
        [GLMCHAT, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env, timeout=30,
    )  # fmt: skip
    assert together.returncode == 0, together.stdout
    assert "Looking.\n[tool] list_dir {" in together.stdout
    wire.reply(tool_round(list_call(files), text="Looking."), answer("Two entries."))
    apart = ask("--no-save", "--yes", "--show-thinking", "--base-url", wire.url, "look")
    assert apart.stdout == "Looking.\n\nTwo entries.\n"


def test_tool_lines_say_how_a_refused_call_ended(wire: WireServer, files: Path) -> None:
    wire.reply(tool_round(("c9", "no_such_tool", "{}")), answer("Sorry."))
    proc = ask("--no-save", "--yes", "--show-thinking", "--base-url", wire.url, "q")
    assert "[tool] no_such_tool error: Error: there is no tool named 'no_such_tool'." in (
        proc.stderr.splitlines()
    )


# --- a real terminal --------------------------------------------------------------------


def spawn_ask(*args: str) -> Any:
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, ZAI_API_KEY="sk-zai-secret-9876", TERM="xterm")
    return pexpect.spawn(GLMCHAT, ["ask", *args], env=env, encoding="utf-8", timeout=20)


@pytest.mark.parametrize(("reply", "status"), [("y", "ok"), ("n", "denied"), ("a", "ok")])
def test_approval_on_a_terminal(wire: WireServer, files: Path, reply: str, status: str) -> None:
    wire.reply(tool_round(list_call(files)), answer("Answered."))
    child = spawn_ask("--no-save", "--base-url", wire.url, "What is in there?")
    child.expect("run the tool list_dir ")
    child.expect(r"\[y\] once")
    child.sendline(reply)
    child.expect("Answered.")
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 0
    result = tool_message(wire.requests[1])["content"]
    if status == "ok":
        assert "notes.txt" in result
    else:
        assert result == "The user denied this tool call."


def test_a_terminal_answer_that_is_not_one_asks_again(wire: WireServer, files: Path) -> None:
    wire.reply(tool_round(list_call(files), ("call_2", "list_dir", "{}")), answer("Done."))
    child = spawn_ask("--no-save", "--json", "--base-url", wire.url, "look")
    child.expect(r"\[n\] no: ")
    child.sendline("maybe")
    child.expect("answer y")
    child.sendline("a")  # always: the second call to the same tool is not asked
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 0
    assert child.before.count("run the tool") == 0  # asked once, before `maybe`
    statuses = [m["content"] for m in wire.requests[1].json["messages"] if m["role"] == "tool"]
    assert all("denied" not in s for s in statuses) and len(statuses) == 2


def pexpect_eof() -> Any:
    import pexpect

    return pexpect.EOF


# --- MCP servers -------------------------------------------------------------------------


def test_mcp_tools_run_and_the_servers_stop_after_the_answer(wire: WireServer) -> None:
    write_config(
        "[mcp.servers.calc]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(MCP_SERVER)}]\n"
        "[mcp.servers.broken]\n"
        'command = "/no/such/mcp-server"\n'
    )
    wire.reply(
        tool_round(("c1", "calc__add", '{"a": 2, "b": 3}'), ("c2", "calc__pid", "{}")),
        answer("5."),
    )
    proc = ask("--json", "--no-save", "--yes", "--base-url", wire.url, "2+3?")
    assert proc.returncode == 0, proc.stderr
    [warning] = proc.stderr.splitlines()  # the broken one: one line, the answer goes on
    assert 'MCP server "broken" failed' in warning and "without its tools" in warning
    names = [t["function"]["name"] for t in wire.requests[0].json["tools"]]
    assert "calc__add" in names and not any(n.startswith("broken") for n in names)
    added, pid = json.loads(proc.stdout)["tool_calls"]
    assert (added["status"], added["result"]) == ("ok", "5")
    server_pid = int(pid["result"])
    assert not _alive(server_pid)  # stopped with the run


def _alive(pid: int) -> bool:
    for _ in range(50):  # the child may still be being reaped by init
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


# --- the shared recordings --------------------------------------------------------------


def recorded_with_tools() -> list[str]:
    if not RECORDED.is_dir():
        return []
    out = []
    for sidecar in sorted(RECORDED.glob("*.json")):
        if (json.loads(sidecar.read_text()).get("expected_extra") or {}).get("tool_calls"):
            out.append(sidecar.stem)
    return out


@pytest.mark.skipif(not RECORDED.is_dir(), reason="../shared/wire/recorded is not beside the tree")
@pytest.mark.parametrize("name", recorded_with_tools())
def test_recorded_tool_calls_through_ask_json_yes(wire: WireServer, files: Path, name: str) -> None:
    sidecar = json.loads((RECORDED / f"{name}.json").read_text())
    body = (RECORDED / sidecar["body_file"]).read_bytes()
    headers = dict(sidecar.get("response_headers") or {"Content-Type": "text/event-stream"})
    wire.reply(Reply(body=body, status=sidecar["http_status"], headers=headers, splits=97))
    wire.reply(answer("All done."))
    model = "openrouter/z-ai/glm-4.6" if sidecar["provider"] == "openrouter" else "zai/glm-4.5"
    env = {"OPENROUTER_API_KEY": "sk-or-secret-5555"}
    proc = ask("--json", "--no-save", "--yes", "-m", model, "--base-url", wire.url, "go", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["content"] == "All done." and doc["error"] is None
    expected = sidecar["expected_extra"]["tool_calls"]
    got = doc["tool_calls"]
    assert [(c["id"], c["name"], c["arguments"]) for c in got] == [
        (c["id"], c["name"], c["arguments"]) for c in expected
    ]
    # None of these tools is configured here: the model is told so, call by call.
    assert all(set(c) == CALL_KEYS and c["status"] == "error" for c in got)
    sent = wire.requests[1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", *["tool"] * len(expected)]
    assert [c["id"] for c in sent[1]["tool_calls"]] == [c["id"] for c in expected]
    assert [m["tool_call_id"] for m in sent[2:]] == [c["id"] for c in expected]


def test_sigterm_mid_tool_stops_the_tool_and_the_servers_and_keeps_the_record(
    wire: WireServer,
) -> None:
    import subprocess

    write_config(
        "[mcp.servers.calc]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(MCP_SERVER)}]\n"
    )
    wire.reply(
        tool_round(("c1", "calc__pid", "{}"), ("c2", "calc__slow", '{"seconds": 60}')),
        answer("never sent"),
    )
    env = dict(os.environ, ZAI_API_KEY="sk-zai-secret-9876")
    child = subprocess.Popen(
        [GLMCHAT, "ask", "--yes", "--show-thinking", "--base-url", wire.url, "wait"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stderr is not None
    lines = []
    for line in child.stderr:  # the pid's line, then the slow call starting
        lines.append(line)
        if line.startswith("[tool] calc__slow {"):
            break
    server_pid = int(next(x for x in lines if "calc__pid ok" in x).rsplit(": ", 1)[1])
    child.terminate()
    _, rest = child.communicate(timeout=30)
    assert child.returncode == 6
    assert "[tool] calc__slow cancelled" in rest
    assert len(wire.requests) == 1  # the model was not called again
    assert not _alive(server_pid)
    # What happened is saved: the call that ran, and the one that was stopped.
    from glmchat.store import SessionStore

    store = SessionStore(paths.database_path())
    [conversation] = store.list_conversations()
    rows = store.get_conversation(conversation.id).messages
    tools = [row.tool_calls[0]["status"] for row in rows if row.role == "tool"]
    assert tools == ["ok", "cancelled"]
