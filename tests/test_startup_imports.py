"""What a command imports before it does its work: start-up is mostly imports, so the modules a
command loads are pinned here (a set that must not grow), in a fresh interpreter each time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from glmchat.cli import COMMANDS, build_parser

COMMAND_MODULES = {module for module, _ in COMMANDS.values()}

# Everything `glmchat usage` may load of glmchat: the command, config, the store, the plan.
USAGE_MODULES = {
    "glmchat",
    "glmchat.cli.cells",  # the table's columns, measured as shown
    "glmchat.backend",
    "glmchat.backend.providers",
    "glmchat.catalogue",
    "glmchat.catalogue.lookup",
    "glmchat.catalogue.model_info",
    "glmchat.catalogue.shipped",
    "glmchat.cli",
    "glmchat.cli.errors",
    "glmchat.cli.usage_cmd",
    "glmchat.code_themes",
    "glmchat.coding_plan",
    "glmchat.config",
    "glmchat.config.loading",
    "glmchat.config.report",  # a file's problems, each at its place
    "glmchat.config.rules",
    "glmchat.config.settings",
    "glmchat.config.writing",
    "glmchat.costs",
    "glmchat.errors",
    "glmchat.keybindings",
    "glmchat.paths",
    "glmchat.store",
    "glmchat.store.connection",
    "glmchat.store.database",
    "glmchat.store.drafts",
    "glmchat.store.export",
    "glmchat.store.importing",
    "glmchat.store.migrations",
    "glmchat.store.models",
    "glmchat.store.reads",
    "glmchat.store.recorder",
    "glmchat.store.rows",
    "glmchat.store.search",
    "glmchat.store.search_index",
    "glmchat.store.sessions",
    "glmchat.store.tree",
    "glmchat.store.tree_edits",
    "glmchat.store.usage",
    "glmchat.terminal_text",
    "glmchat.textual_names",
    "glmchat.toml_positions",
    "glmchat.tools",
    "glmchat.tools.base",
}


def _modules_after(argv: list[str], env_dirs: Path) -> set[str]:
    """The modules loaded by `glmchat ARGV` run in a fresh interpreter (output discarded)."""
    code = (
        "import contextlib, io, json, sys\n"
        "from glmchat.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        main({argv!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {
        "GLMCHAT_CONFIG_DIR": str(env_dirs / "config"),
        "GLMCHAT_DATA_DIR": str(env_dirs / "data"),
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_version_imports_no_command(tmp_path: Path) -> None:
    """The parser lists the commands without importing them: `--version` loads none of them,
    nor config, the store or the engine."""
    loaded = _modules_after(["--version"], tmp_path)
    ours = {m for m in loaded if m.startswith("glmchat")}
    assert ours <= {"glmchat", "glmchat.cli", "glmchat.cli.errors", "glmchat.errors"} | {
        "glmchat.terminal_text"
    }


@pytest.mark.parametrize("args", [[], ["--by", "model"], ["--by", "conversation", "--json"]])
def test_usage_imports_only_what_it_reads(tmp_path: Path, args: list[str]) -> None:
    """`glmchat usage` loads its own command, config and the store: no other command, no
    engine or backend events, no TUI, HTTP or hashing modules, no platformdirs when the
    directories are given."""
    (tmp_path / "data").mkdir()
    from glmchat.store import SessionStore

    with SessionStore(tmp_path / "data" / "glmchat.db") as store:  # one answer to sum
        cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
        store.add_message(cid, "user", "hi", provider="zai", model="glm-4.5")
        mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
        usage = {"prompt_tokens": 100, "completion_tokens": 20}
        store.finish_assistant(mid, content="hello", reasoning="", status="complete", usage=usage)
    loaded = _modules_after(["usage", *args], tmp_path)
    ours = {m for m in loaded if m.startswith("glmchat")}
    assert ours - USAGE_MODULES == set()
    assert not loaded & {
        "textual",
        "httpx",
        "hashlib",
        "secrets",
        "platformdirs",
        "asyncio",
        "_strptime",
        "difflib",
        "tomllib",  # no config.toml here: nothing to parse
    }


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_is_built_when_chosen(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`glmchat CMD --help` shows the command's own description and options (its module's
    parser replaced the stand-in), and `glmchat --help` lists every command with its line."""
    with pytest.raises(SystemExit):
        build_parser().parse_args([name, "--help"])
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: glmchat {name} [-h]")
    assert len(shown.splitlines()) > 4  # more than the stand-in's bare usage line
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    listing = capsys.readouterr().out
    assert COMMANDS[name][1].split()[0] in listing
    assert f"    {name} " in listing


def test_building_the_parser_imports_no_command() -> None:
    code = (
        "import sys\nfrom glmchat.cli import build_parser\nbuild_parser()\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('glmchat.cli.'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(filter(None, proc.stdout.strip().split(",")))
    assert loaded & COMMAND_MODULES == set()
