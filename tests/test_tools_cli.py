"""`glmchat tools list [--json]`: every tool offered, MCP servers started through config (the
real test server), failed and disabled servers with their state, and no server left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from glmchat import paths
from glmchat.cli import main

SERVER = str(Path(__file__).with_name("mcp_server.py"))


def write_config(text: str) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def servers_config() -> str:
    return (
        "[tools]\n"
        'builtin = ["read_file", "fetch_url"]\n'
        "web_search = true\n"
        "[mcp.servers.test]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(SERVER)}]\n"
        'approve = "read-only"\n'
        "[mcp.servers.broken]\n"
        'command = "/nonexistent/mcp-server"\n'
        "[mcp.servers.off]\n"
        'command = "x"\n'
        "enabled = false\n"
    )


def test_json_lists_every_tool_with_its_server_state(capsys: pytest.CaptureFixture[str]) -> None:
    write_config(servers_config())
    assert main(["tools", "list", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert captured.err == ""
    by_name = {entry["name"]: entry for entry in doc if entry["name"]}
    assert [entry["name"] for entry in doc[:3]] == ["read_file", "fetch_url", "web_search"]
    assert by_name["read_file"] == {
        "name": "read_file",
        "title": "read_file",
        "source": "builtin",
        "read_only": True,
        "description": by_name["read_file"]["description"],
        "server": None,
        "state": None,
        "reason": None,
    }
    assert by_name["web_search"]["source"] == "zai"
    echo = by_name["test__echo"]
    assert (echo["title"], echo["source"], echo["server"], echo["state"]) == (
        "test__echo",
        "mcp:test",
        "test",
        "ready",
    )
    assert echo["read_only"] is True and echo["description"] == "Echo the text back"
    assert by_name["test__add"]["read_only"] is False
    assert by_name["test__dotted_name-v2"]["title"] == "test__dotted.name-v2"
    servers = {entry["server"]: entry for entry in doc if entry["name"] is None}
    assert servers["broken"]["state"] == "failed"
    assert (
        servers["broken"]["reason"]
        == "cannot run /nonexistent/mcp-server: No such file or directory"
    )
    assert servers["off"]["state"] == "disabled"
    assert all(entry.keys() == echo.keys() for entry in doc)  # one shape for every entry


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    write_config(servers_config())
    assert main(["tools", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "SOURCE", "READ-ONLY", "STATE", "DESCRIPTION"]
    rows = {line.split()[0]: line.split()[1:4] for line in lines[1:] if "__" in line.split()[0]}
    assert rows["test__echo"] == ["mcp:test", "yes", "ready"]
    assert rows["test__add"] == ["mcp:test", "no", "ready"]
    assert lines[1].split()[:4] == ["read_file", "builtin", "yes", "-"]
    # Every column starts at one place.
    starts = {line.index(" mcp:test ") for line in lines if " mcp:test " in line}
    assert len(starts) == 1
    assert lines[-2] == (
        'MCP server "broken" failed: cannot run /nonexistent/mcp-server: No such file or directory'
    )
    assert lines[-1] == 'MCP server "off" is disabled (enabled = false)'


def test_nothing_configured(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "list"]) == 0
    assert capsys.readouterr().out.startswith("no tools are offered: ")
    assert main(["tools", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_broken_config_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    write_config('[tools]\napprove = "always"\n')
    assert main(["tools", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tools.approve: expected one of" in err


def test_in_a_subprocess_no_server_is_left_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = tmp_path / "server.py"
    script.write_text(
        "import os, runpy, sys\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        f"sys.argv = [{SERVER!r}]\n"
        f"runpy.run_path({SERVER!r}, run_name='__main__')\n",
        encoding="utf-8",
    )
    write_config(
        "[mcp.servers.test]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(script))}]\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "glmchat", "tools", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert any(entry["name"] == "test__echo" for entry in json.loads(proc.stdout))
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
