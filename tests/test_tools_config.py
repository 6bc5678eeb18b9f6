"""The `[tools]` and `[mcp.servers.NAME]` tables: loading, one line per problem with its
position, `config set`, and `config show` with secret headers and environment values masked."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from glmchat import paths
from glmchat.cli import main
from glmchat.config import ConfigError, load_settings, save_value
from glmchat.tools.base import McpServerConfig
from glmchat.tools.toolbox import tool_settings

TOKEN = "sk-mcp-0123456789abcdefWXYZ"


def write_config(text: str) -> Path:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(text: str) -> list[str]:
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    return [line.replace(str(path), "PATH") for line in str(info.value).splitlines()]


def test_tables_load_into_tool_settings() -> None:
    write_config(
        "[tools]\n"
        'approve = "read-only"\n'
        "max_rounds = 5\n"
        "timeout = 2.5\n"
        'builtin = ["list_dir", "read_file"]\n'
        'allowed_dirs = ["docs", "~/notes"]\n'
        "fetch_private = true\n"
        "[mcp.servers.files]\n"
        'command = "python"\n'
        'args = ["-m", "server"]\n'
        'env = { LEVEL = "debug" }\n'
        'approve = "all"\n'
        "[mcp.servers.remote]\n"
        'url = "http://127.0.0.1:9/mcp"\n'
        f'headers = {{ Authorization = "Bearer {TOKEN}" }}\n'
        "enabled = false\n"
    )
    settings = load_settings(environ={})
    assert settings.warnings == ()
    tools = tool_settings(settings)
    assert (tools.approve, tools.max_rounds, tools.timeout) == ("read-only", 5, 2.5)
    assert tools.builtin == ("list_dir", "read_file")
    assert tools.allowed_dirs == ("docs", "~/notes")
    assert tools.fetch_private and not tools.web_search
    assert tools.servers == (
        McpServerConfig(
            name="files",
            command="python",
            args=("-m", "server"),
            env=(("LEVEL", "debug"),),
            approve="all",
        ),
        McpServerConfig(
            name="remote",
            url="http://127.0.0.1:9/mcp",
            headers=(("Authorization", f"Bearer {TOKEN}"),),
            enabled=False,
        ),
    )
    assert settings.sources["mcp.servers.files"] == "file"
    assert settings.sources["tools.approve"] == "file"
    assert settings.sources["tools.web_search"] == "default"


def test_no_tables_no_tools() -> None:
    tools = tool_settings(load_settings(environ={}))
    assert tools.builtin == () and tools.servers == () and tools.approve == "ask"
    assert tools.allowed_dirs == (".",)


def test_every_problem_is_one_line_with_its_position() -> None:
    lines = problems(
        "[tools]\n"
        'approve = "sometimes"\n'  # 2
        'builtin = ["read_file", "rm_rf"]\n'  # 3
        "max_rounds = 0\n"  # 4
        "[mcp.servers.both]\n"  # 5
        'command = "x"\n'
        'url = "http://x"\n'
        "[mcp.servers.neither]\n"  # 8
        "enabled = true\n"
        '[mcp.servers."has.dot"]\n'  # 10
        'command = "x"\n'
        "[mcp.servers.web]\n"  # 12
        'url = "ftp://x"\n'  # 13
        'args = ["a"]\n'  # 14
        "[mcp.servers.local]\n"  # 15
        'command = "x"\n'
        'headers = { A = "b" }\n'  # 17
        'approve = "never"\n'  # 18
    )
    assert [line.split(": ")[0] for line in lines] == [
        "PATH:2:1",
        "PATH:3:1",
        "PATH:4:1",
        "PATH:5:1",
        "PATH:8:1",
        "PATH:10:1",
        "PATH:13:1",
        "PATH:14:1",
        "PATH:17:1",
        "PATH:18:1",
    ]
    assert 'tools.approve: expected one of "ask", "read-only", "all", got "sometimes"' in lines[0]
    assert 'unknown name "rm_rf"' in lines[1] and '"fetch_url"' in lines[1]
    assert "tools.max_rounds: expected a whole number from 1 to 100, got 0" in lines[2]
    assert "not both" in lines[3]
    assert "needs command (a stdio server) or url" in lines[4]
    assert 'may use only letters, digits, "-" and "_"' in lines[5]
    assert "mcp.servers.web.url: expected an http:// or https:// URL" in lines[6]
    assert "mcp.servers.web.args: applies only to a stdio server" in lines[7]
    assert "mcp.servers.local.headers: applies only to an HTTP server" in lines[8]
    assert "mcp.servers.local.approve: expected one of" in lines[9]


def test_a_builtin_listed_twice_is_refused() -> None:
    lines = problems('[tools]\nbuiltin = ["read_file", "read_file"]\n')
    assert lines == ["PATH:2:1: tools.builtin: a name is given twice"]


def test_unknown_keys_are_warnings_with_a_suggestion() -> None:
    write_config('[mcp]\nserver = 1\n[mcp.servers.a]\ncommand = "x"\ncomand = "y"\n')
    settings = load_settings(environ={})
    assert len(settings.warnings) == 2
    assert 'unknown key "mcp.server" ignored (did you mean "mcp.servers"?)' in settings.warnings[0]
    assert '(did you mean "mcp.servers.a.command"?)' in settings.warnings[1]
    assert settings.mcp_servers["a"].command == "x"


def test_config_set_reaches_tools_and_servers() -> None:
    save_value("tools.builtin", "read_file, fetch_url")
    save_value("mcp.servers.files.command", "python")
    settings = save_value("mcp.servers.files.args", "-m,server")
    doc = tomllib.loads(paths.config_path().read_text(encoding="utf-8"))
    assert doc == {
        "tools": {"builtin": ["read_file", "fetch_url"]},
        "mcp": {"servers": {"files": {"command": "python", "args": ["-m", "server"]}}},
    }
    assert settings.mcp_servers["files"].args == ("-m", "server")
    with pytest.raises(ConfigError, match="needs command"):
        save_value("mcp.servers.other.enabled", "false")
    with pytest.raises(ConfigError, match=r'did you mean "mcp.servers.files.command"'):
        save_value("mcp.servers.files.comand", "x")
    with pytest.raises(ConfigError, match='unknown name "nope"'):
        save_value("tools.builtin", "nope")


def test_show_masks_secret_headers_and_env(capsys: pytest.CaptureFixture[str]) -> None:
    write_config(
        "[mcp.servers.remote]\n"
        'url = "https://mcp.example.com/mcp"\n'
        f'headers = {{ Authorization = "Bearer {TOKEN}", X-Api-Key = "{TOKEN}", X-Title = "me" }}\n'
        "[mcp.servers.local]\n"
        'command = "uvx"\n'
        'args = ["some-server"]\n'
        f'env = {{ SOME_TOKEN = "{TOKEN}", MODE = "fast" }}\n'
    )
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out
    section = out.partition("mcp servers")[2].splitlines()[1:]
    assert section[0].split() == [
        "remote",
        "on",
        "https://mcp.example.com/mcp",
        "Authorization=Bearer",
        "****",  # a header's value shows no part of itself (test_secret_values.py)
        "X-Api-Key=****",
        "X-Title=me",
    ]
    assert section[1].split() == [
        "local",
        "on",
        "uvx",
        "some-server",
        "SOME_TOKEN=sk-…WXYZ",
        "MODE=fast",
    ]

    assert main(["config", "show", "--json"]) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out
    doc = json.loads(out)
    assert doc["mcp_servers"]["remote"]["headers"] == {
        "Authorization": "Bearer ****",
        "X-Api-Key": "****",
        "X-Title": "me",
    }
    assert doc["mcp_servers"]["local"]["env"] == {"SOME_TOKEN": "sk-…WXYZ", "MODE": "fast"}
    assert doc["mcp_servers"]["local"]["transport"] == "stdio"
    assert doc["settings"]["tools.allowed_dirs"] == {"value": ["."], "source": "default"}
