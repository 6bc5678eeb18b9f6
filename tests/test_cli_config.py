"""Tests for `glmchat config`: path, show, set, set-key (with --check) and unset-key."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.cells import cell_len

from glmchat import paths
from glmchat.backend.providers import BUILTIN_PROVIDERS
from glmchat.cli import main
from glmchat.config import SETTINGS, Declared
from glmchat.credentials import env_names

KEY = "sk-live-0123456789abcdefWXYZ"
OTHER_KEY = "or-key-9876543210zyxwvuQRST"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every file lives under tmp_path; no provider key leaks in from the real environment."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GLMCHAT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GLMCHAT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GLMCHAT_MODEL", raising=False)
    monkeypatch.delenv("GLMCHAT_DEBUG", raising=False)
    for provider in BUILTIN_PROVIDERS.values():
        for name in env_names(provider):
            monkeypatch.delenv(name, raising=False)
    return tmp_path


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)  # restored by the fixture below
    code = main(["config", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def restore_stdin() -> Iterator[None]:
    saved = sys.stdin
    yield
    sys.stdin = saved


def write_config(text: str) -> Path:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def stored_keys() -> dict[str, str]:
    path = paths.credentials_path()
    if not path.exists():
        return {}
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    return {name: entry["api_key"] for name, entry in doc.get("providers", {}).items()}


def glmchat(*argv: str, input: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "glmchat", *argv],
        input=input,
        capture_output=True,
        text=True,
        timeout=30,
        env=os.environ.copy(),
    )


# --- path -------------------------------------------------------------------------------


def test_path_lists_every_location(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    code, out, err = run(capsys, "path")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"config dir: {isolated / 'config'}",
        f"config file: {isolated / 'config' / 'config.toml'}",
        f"credentials: {isolated / 'config' / 'credentials.toml'}",
        f"data dir: {isolated / 'data'}",
        f"database: {isolated / 'data' / 'glmchat.db'}",
    ]


# --- show -------------------------------------------------------------------------------


def test_show_masks_keys_and_names_their_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "set-key", "openrouter", stdin=OTHER_KEY + "\n")[0] == 0
    monkeypatch.setenv("ZAI_API_KEY", KEY)
    code, out, err = run(capsys, "show")
    assert code == 0 and err == ""
    assert KEY not in out and OTHER_KEY not in out
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in provider_lines(out)}
    assert rows["zai"].startswith("api key: sk-…WXYZ (environment ZAI_API_KEY) ")
    assert rows["openrouter"].startswith("api key: or-…QRST (credentials.toml) ")
    # A coding-plan key is a Z.ai key: zai-coding falls back to ZAI_API_KEY.
    assert rows["zai-coding"].startswith("api key: sk-…WXYZ (environment ZAI_API_KEY) ")
    assert rows["bigmodel"].startswith("api key: not set ")
    assert rows["ollama"].startswith("api key: not needed ")
    assert "https://api.z.ai/api/paas/v4" in rows["zai"]


def provider_lines(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("providers ("))
    return lines[start + 1 :]


def test_show_aligns_every_column(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        'system_prompt = "Réponds en français, 简洁地回答, and keep every answer short please"\n'
        "[providers.my-very-long-local-name]\n"
        'base_url = "http://127.0.0.1:8000/v1"\n'
    )
    monkeypatch.setenv("ZAI_API_KEY", KEY)
    code, out, _ = run(capsys, "show")
    assert code == 0
    providers = provider_lines(out)
    assert len(providers) == len(BUILTIN_PROVIDERS) + 1
    # Each provider row: name, api key, base URL, source, each column starting at one place.
    starts = {(line.index("api key:"), line.index("http"), line.rindex("(")) for line in providers}
    assert len(starts) == 1, providers
    # Settings rows: the source column lines up, however long or wide the value.
    settings = [line for line in out.splitlines()[1:] if line.startswith("  ")][: -len(providers)]
    assert len({cell_len(line[: line.rindex("(")]) for line in settings}) == 1, settings
    prompt = next(line for line in settings if line.split()[0] == "system_prompt")
    assert "…" in prompt and "(file)" in prompt


def test_show_lists_every_problem_of_a_broken_config(capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config('theme = "nope"\n[keys]\nsend = "ctrl+q"\nquit = "notakey+++"\n')
    code, out, err = run(capsys, "show")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert [line.split(": ")[1] for line in lines] == [f"{path}:1:1", f"{path}:3:1", f"{path}:4:1"]
    assert all(line.startswith("glmchat: ") for line in lines)
    assert "theme: expected one of" in lines[0] and '"textual-dark"' in lines[0]
    assert 'keys.send: "ctrl+q" is already the key of quit' in lines[1]
    assert 'keys.quit: "notakey+++" is not a key' in lines[2]


def test_show_gives_each_setting_its_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config('thinking = false\n[keys]\nsend = "ctrl+s"\n')
    monkeypatch.setenv("GLMCHAT_MODEL", "zai/glm-4.5-air")
    code, out, _ = run(capsys, "show")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["thinking"].split()[1:] == ["false", "(file)"]
    assert lines["default_model"].split()[1:] == ['"zai/glm-4.5-air"', "(environment)"]
    assert lines["theme"].split()[1:] == ['"textual-dark"', "(default)"]
    assert lines["keys.send"].split()[1:] == ['"ctrl+s"', "(file)"]
    assert lines["keys.quit"].split()[1:] == ['"ctrl+q"', "(default)"]


def test_show_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    write_config("thinkng = false\n")
    monkeypatch.setenv("ZAI_API_KEY", KEY)
    code, out, err = run(capsys, "show", "--json")
    assert code == 0
    doc = json.loads(out)
    assert KEY not in out
    assert doc["settings"]["thinking"] == {"value": True, "source": "default"}
    assert doc["providers"]["zai"]["api_key"] == "sk-…WXYZ"
    assert doc["providers"]["zai"]["api_key_source"] == "environment (ZAI_API_KEY)"
    assert doc["providers"]["zai-coding"]["api_key"] == "sk-…WXYZ"
    assert doc["providers"]["bigmodel"]["api_key"] is None
    assert doc["providers"]["zai"]["base_url"] == BUILTIN_PROVIDERS["zai"].base_url
    # Warnings go to stderr, and are in the document too.
    assert 'did you mean "thinking"?' in err
    assert len(doc["warnings"]) == 1


def test_show_broken_config_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config("thinking = \n")
    code, out, err = run(capsys, "show")
    assert code == 2 and out == ""
    assert err == f"glmchat: {path}:1:12: Invalid value\n"


# --- set --------------------------------------------------------------------------------


def test_set_writes_the_value(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "set", "thinking", "off")
    assert code == 0 and err == ""
    assert "thinking" in out
    assert tomllib.loads(paths.config_path().read_text(encoding="utf-8")) == {"thinking": False}
    code, _, _ = run(capsys, "set", "providers.zai.read_timeout", "30")
    assert code == 0
    doc = tomllib.loads(paths.config_path().read_text(encoding="utf-8"))
    assert doc["providers"]["zai"]["read_timeout"] == 30


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["thinking", "yes please"], 'thinking: expected true or false (or on/off), got "yes'),
        (["top_p", "2"], "top_p: expected a number from 0 to 1, got 2"),
        (["thinkng", "true"], 'unknown key "thinkng" (did you mean "thinking"?)'),
    ],
)
def test_set_invalid_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "set", *argv)
    assert code == 2 and out == ""
    assert err.startswith("glmchat: ") and err.count("\n") == 1
    assert message in err
    assert not paths.config_path().exists()


@pytest.mark.parametrize("key", ['models."zai/glm-4.5".context', "models.zai/glm-4.5.context"])
def test_set_a_models_table_quoted_or_not(capsys: pytest.CaptureFixture[str], key: str) -> None:
    # A model's name has dots of its own: the field is what follows the last one.
    code, out, err = run(capsys, "set", key, "1000")
    assert (code, err) == (0, "")
    code, _, err = run(capsys, "set", key.replace("context", "price_output"), "2.5")
    assert (code, err) == (0, "")
    doc = tomllib.loads(paths.config_path().read_text(encoding="utf-8"))
    assert doc == {"models": {"zai/glm-4.5": {"context": 1000, "price_output": 2.5}}}
    from glmchat.catalogue import lookup
    from glmchat.config import load_settings

    info = lookup(load_settings(), "zai", "glm-4.5")
    assert info.context == 1000 and info.price_output == 2.5
    # An empty value removes the key, and the table with its last key.
    for field in ("context", "price_output"):
        assert run(capsys, "set", key.replace("context", field), "")[0] == 0
    assert tomllib.loads(paths.config_path().read_text(encoding="utf-8")) == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "models.zai/glm-4.5.contxt",
            "5",
            'unknown model setting "contxt" (did you mean "context"?)',
        ),
        ("models.nope/x.context", "5", 'unknown provider "nope"'),
        ("models.glm-4.5.context", "5", 'write models."PROVIDER/MODEL".FIELD'),
        ('models."zai/glm-4.5"', "5", 'write models."PROVIDER/MODEL".FIELD'),
        ("models.zai/glm-4.5", "5", 'write models."PROVIDER/MODEL".FIELD'),
        ("models.zai/glm-4.5.context", "big", "expected a whole number from 1 to 100000000"),
        ("models.zai/glm-4.5.thinking", "maybe", "models.zai/glm-4.5.thinking: expected one of"),
    ],
)
def test_set_a_models_table_refuses_in_one_line(
    capsys: pytest.CaptureFixture[str], key: str, value: str, message: str
) -> None:
    code, out, err = run(capsys, "set", key, value)
    assert code == 2 and out == ""
    assert err.startswith("glmchat: ") and err.count("\n") == 1
    assert message in err, err
    assert not paths.config_path().exists()


def _another_value(declared: Declared) -> tuple[str, object]:
    """A valid value other than the default, as typed after `config set KEY` and as loaded."""
    rule = declared.rule
    if rule.kind == "bool":
        return str(not declared.default).lower(), not declared.default
    if rule.kind in ("float", "int") and rule.hi is not None:
        number = float(rule.hi) if rule.kind == "float" else int(rule.hi)
        return (f"{rule.hi:g}" if rule.kind == "float" else str(number)), number
    if rule.kind in ("choice", "code_theme"):
        choice = next(c for c in reversed(rule.choices) if c != declared.default)
        return choice, choice
    if rule.kind == "model":
        return "openrouter/z-ai/glm-4.5-air", "openrouter/z-ai/glm-4.5-air"
    if rule.kind == "text":
        return "Answer in French.", "Answer in French."
    if rule.kind == "choice_list":
        return ",".join(rule.choices), list(rule.choices)
    if rule.kind == "str_list":
        return "docs, ~/notes", ["docs", "~/notes"]
    raise AssertionError(f"{declared.key}: teach this test a value of kind {rule.kind}")


@pytest.mark.parametrize("declared", SETTINGS.values(), ids=list(SETTINGS))
def test_every_declared_setting_is_set_shown_and_checked(
    capsys: pytest.CaptureFixture[str], declared: Declared
) -> None:
    """Declaring a setting is all it takes: `config set` parses it by its rule, `config show`
    lists it with its source, a wrong value in the file is refused at its position, and an
    empty value restores the default."""
    raw, value = _another_value(declared)
    code, _, err = run(capsys, "set", declared.key, raw)
    assert (code, err) == (0, "")
    _, out, _ = run(capsys, "show", "--json")
    assert json.loads(out)["settings"][declared.key] == {"value": value, "source": "file"}

    code, _, _ = run(capsys, "set", declared.key, "")
    assert code == 0
    _, out, _ = run(capsys, "show", "--json")
    shown = json.loads(out)["settings"][declared.key]
    default = json.loads(json.dumps(declared.default))  # a tuple is shown as an array
    assert shown == {"value": default, "source": "default"}

    header = f"[{declared.table}]\n" if declared.table else ""
    path = write_config(f"{header}{declared.name} = [1]\n")
    code, out, err = run(capsys, "show")
    line = 2 if declared.table else 1
    assert code == 2 and out == ""
    assert err.startswith(f"glmchat: {path}:{line}:1: {declared.key}: expected ")
    assert err.endswith("got an array\n") and err.count("\n") == 1


# --- one error tree, exit statuses at the edge --------------------------------------------


def test_config_and_credential_errors_share_the_root() -> None:
    from glmchat.backend.providers import BUILTIN_PROVIDERS as BUILTIN
    from glmchat.cli.errors import CliError, exit_status
    from glmchat.config import ConfigError
    from glmchat.credentials import CredentialsError, MissingKeyError
    from glmchat.errors import GlmchatError

    errors = [
        ConfigError("x"),
        CredentialsError("x"),
        MissingKeyError(BUILTIN["zai"]),
        CliError("x", 4),
    ]
    assert all(isinstance(exc, GlmchatError) for exc in errors)
    assert [exit_status(exc) for exc in errors] == [2, 2, 2, 4]


def test_models_reports_a_broken_config_through_the_edge(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_config('theme = "nope"\n')
    code = main(["models", "--configured"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith(f"glmchat: {path}:1:1: theme: expected one of") and err.count("\n") == 1


def test_models_without_a_key_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    # A provider glmchat has no catalogue for is asked for its list, which needs its key (the
    # Z.ai family is shown from the catalogue, with no key: tests/test_models_command.py).
    write_config('[providers.myhost]\nbase_url = "http://127.0.0.1:9/v1"\nrequires_key = true\n')
    code = main(["models", "--provider", "myhost"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == (
        "glmchat: No API key for myhost. Set MYHOST_API_KEY or run: glmchat config set-key myhost\n"
    )


def test_set_leaves_a_broken_file_byte_for_byte(capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config("# notes\r\ntheme = 'nord'\r\n[ui\r\ncompact = true\r\n")
    before = path.read_bytes()
    code, out, err = run(capsys, "set", "thinking", "false")
    assert code == 2 and out == ""
    assert err.startswith(f"glmchat: {path}:3:")
    assert path.read_bytes() == before
    assert not path.with_name("config.toml.bak").exists()


def test_set_keeps_a_commented_file_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(
        '# my settings\ntheme = "nord"  # dark\n\n[ui]\n# slower\nrefresh_rate = 6\n'
    )
    code, _, err = run(capsys, "set", "thinking", "false")
    assert (code, err) == (0, "")
    code, _, err = run(capsys, "set", "ui.refresh_rate", "8")
    assert (code, err) == (0, "")
    assert path.read_text(encoding="utf-8") == (
        '# my settings\ntheme = "nord"  # dark\nthinking = false\n\n'
        "[ui]\n# slower\nrefresh_rate = 8.0\n"
    )
    assert not path.with_name("config.toml.bak").exists()


def test_set_keeps_a_backup_of_a_commented_file_it_must_rewrite(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A key added to a table written inline cannot be added in place (a new [ui] table would
    # define it twice): the whole file is rewritten, and the original kept beside it.
    original = "# my settings\nui = { compact = true }\n"
    path = write_config(original)
    code, _, err = run(capsys, "set", "ui.refresh_rate", "8")
    assert code == 0
    backup = path.with_name("config.toml.bak")
    assert backup.read_text(encoding="utf-8") == original
    assert str(backup) in err and "comments" in err
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {
        "ui": {"compact": True, "refresh_rate": 8.0}
    }


def test_set_default_model_notes_an_environment_override(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLMCHAT_MODEL", "zai/glm-4.5-air")
    code, _, err = run(capsys, "set", "default_model", "zai/glm-4.5-flash")
    assert code == 0
    assert "GLMCHAT_MODEL" in err


# --- set-key / unset-key ----------------------------------------------------------------


def test_set_key_reads_stdin_strips_and_masks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "set-key", "zai", stdin=f"  {KEY}\n\n")
    assert code == 0
    assert stored_keys() == {"zai": KEY}
    assert KEY not in out + err
    assert "sk-…WXYZ" in out
    if sys.platform != "win32":
        assert stat.S_IMODE(paths.credentials_path().stat().st_mode) == 0o600


def test_set_key_on_a_terminal_uses_getpass(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return KEY

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    sys.stdin = Tty("this must not be read")
    code, out, _ = run(capsys, "set-key", "zai")
    assert code == 0
    assert prompts and "zai" in prompts[0]
    assert stored_keys() == {"zai": KEY}


def test_set_key_notes_an_environment_override(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZAI_API_KEY", OTHER_KEY)
    code, _, err = run(capsys, "set-key", "zai", stdin=KEY)
    assert code == 0
    assert "ZAI_API_KEY is set in the environment" in err
    assert OTHER_KEY not in err


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["zai"], "  \n", "no API key given"),
        (["zai"], "sk-one two", "contains whitespace"),
        (["nowhere"], KEY, 'unknown provider "nowhere"; known providers: zai, zai-coding'),
    ],
)
def test_set_key_refusals_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], stdin: str, message: str
) -> None:
    code, out, err = run(capsys, "set-key", *argv, stdin=stdin)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1
    assert stored_keys() == {}


def test_set_key_knows_custom_providers(capsys: pytest.CaptureFixture[str]) -> None:
    write_config('[providers.box]\nbase_url = "http://127.0.0.1:1/v1"\n')
    assert run(capsys, "set-key", "box", stdin=KEY)[0] == 0
    assert stored_keys() == {"box": KEY}


def test_set_key_from_stdin_in_a_subprocess() -> None:
    result = glmchat("config", "set-key", "zai", input=KEY + "\n")
    assert result.returncode == 0, result.stderr
    assert stored_keys() == {"zai": KEY}
    assert KEY not in result.stdout + result.stderr
    shown = glmchat("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert "api key: sk-…WXYZ (credentials.toml)" in provider_lines(shown.stdout)[0]
    assert KEY not in shown.stdout + shown.stderr


def test_unset_key(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "set-key", "zai", stdin=KEY)
    run(capsys, "set-key", "openrouter", stdin=OTHER_KEY)
    code, out, _ = run(capsys, "unset-key", "zai")
    assert code == 0 and "removed" in out
    assert stored_keys() == {"openrouter": OTHER_KEY}
    code, out, _ = run(capsys, "unset-key", "zai")
    assert code == 0 and out == f"no key stored for zai in {paths.credentials_path()}\n"
    code, _, err = run(capsys, "unset-key", "nowhere")
    assert code == 2 and 'unknown provider "nowhere"' in err


MINE = '[providers.mine]\nbase_url = "http://127.0.0.1:1/v1"\n'
CONFIG_STATES = {
    "valid": MINE,
    "not TOML": f'{MINE}theme = "nord\n',  # a quote left open, outside the provider's table
    "not TOML in its table": '[providers.mine]\nbase_url = "http://127.0.0.1:1/v1\n',
    "a wrong value": f"{MINE}theme = 5\n",
    "its table wrong": "[providers.mine]\nbase_url = 5\n",
}


@pytest.mark.parametrize("state", list(CONFIG_STATES))
@pytest.mark.parametrize("name", ["zai", "mine"])
def test_unset_key_removes_a_stored_key_whatever_state_config_toml_is_in(
    capsys: pytest.CaptureFixture[str], state: str, name: str
) -> None:
    # Stored while config.toml was fine, then the file went wrong: the key can still go.
    write_config(MINE)
    assert run(capsys, "set-key", name, stdin=KEY)[0] == 0
    assert run(capsys, "set-key", "openrouter", stdin=OTHER_KEY)[0] == 0
    write_config(CONFIG_STATES[state])
    code, out, err = run(capsys, "unset-key", name)
    assert (code, err) == (0, "")
    assert out == f"removed the API key for {name} from {paths.credentials_path()}\n"
    assert stored_keys() == {"openrouter": OTHER_KEY}
    code, out, err = run(capsys, "unset-key", name)
    assert (code, err) == (0, "")
    assert out == f"no key stored for {name} in {paths.credentials_path()}\n"
    assert stored_keys() == {"openrouter": OTHER_KEY}


def test_unset_key_with_a_broken_config_cannot_tell_a_typo_and_says_nothing_is_stored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(CONFIG_STATES["not TOML"])
    code, out, err = run(capsys, "unset-key", "nowhere")
    assert (code, err) == (0, "")
    assert out == f"no key stored for nowhere in {paths.credentials_path()}\n"
    assert not paths.credentials_path().exists()  # nothing written
    # With a file that parses, an unknown name is still a mistake.
    write_config(CONFIG_STATES["a wrong value"])
    code, out, err = run(capsys, "unset-key", "nowhere")
    assert code == 2 and out == "" and 'unknown provider "nowhere"' in err


def test_unset_key_of_a_custom_provider_in_a_subprocess() -> None:
    write_config(MINE)
    assert glmchat("config", "set-key", "mine", input=KEY).returncode == 0
    write_config(CONFIG_STATES["not TOML"])
    result = glmchat("config", "unset-key", "mine")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("removed the API key for mine from ")
    assert stored_keys() == {}
    assert KEY not in result.stdout + result.stderr
    again = glmchat("config", "unset-key", "mine")
    assert again.returncode == 0 and again.stdout.startswith("no key stored for mine in ")


def test_corrupt_credentials_file_is_exit_2_and_untouched(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = paths.credentials_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b'[providers.zai\napi_key = "x"\n')
    os.chmod(path, 0o600)
    for argv, stdin in ((["set-key", "zai"], KEY), (["unset-key", "zai"], None), (["show"], None)):
        code, _, err = run(capsys, *argv, stdin=stdin)
        assert code == 2
        assert err.startswith(f"glmchat: {path}:1:")
        assert err.count("\n") == 1
    assert path.read_bytes() == b'[providers.zai\napi_key = "x"\n'


# --- set-key --check against a local server ---------------------------------------------


@pytest.fixture
def models_server() -> Iterator[str]:
    """GET /models: the model list with the right Bearer key, Z.ai's 401 body otherwise."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if not self.path.endswith("/models"):
                self.send_error(404)
                return
            if self.headers.get("Authorization") == f"Bearer {KEY}":
                status, body = 200, {"data": [{"id": "glm-4.5"}]}
            else:
                body = {"error": {"code": "401", "message": "token expired or incorrect"}}
                status = 401
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/paas/v4"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def checkable(models_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        from glmchat.backend.openai_compat import list_models  # noqa: F401
    except ImportError:
        pytest.skip("glmchat.backend.openai_compat.list_models is not there yet")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    write_config(f'[providers.zai]\nbase_url = "{models_server}"\n')


@pytest.mark.usefixtures("checkable")
def test_set_key_check_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "set-key", "zai", "--check", stdin=KEY)
    assert code == 0, err
    assert out.splitlines()[0] == "accepted"
    assert stored_keys() == {"zai": KEY}


@pytest.mark.usefixtures("checkable")
def test_set_key_check_rejected_exits_3_and_keeps_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "set-key", "zai", "--check", stdin="sk-wrong-0000000000000")
    assert code == 3
    assert "accepted" not in out
    assert err.startswith("glmchat: ") and err.count("\n") == 1
    assert "not saved" in err
    assert "Set a valid key" not in err  # this is set-key (found by QA)
    assert "sk-wrong-0000000000000" not in out + err
    assert stored_keys() == {}


# --- the TUI with a broken config -------------------------------------------------------


def test_the_tui_does_not_start_with_a_broken_keys_table() -> None:
    """In a real terminal: one clear line naming the file, line and column, exit 2, and the
    screen never taken over (no alternate screen)."""
    import pexpect

    path = write_config('theme = "nord"\n[keys]\nsend = "ctrl+q"\n')
    child = pexpect.spawn(
        sys.executable,
        ["-m", "glmchat"],
        env=os.environ.copy(),
        dimensions=(40, 120),
        timeout=30,
    )
    output = child.read().decode("utf-8")
    child.close()
    assert child.exitstatus == 2
    assert "\x1b[?1049h" not in output
    assert output.splitlines() == [
        f'glmchat: {path}:3:1: keys.send: "ctrl+q" is already the key of quit (its default); '
        "pick another key, or give keys.quit another key too"
    ]


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ('["list_dir", "read_file"]', ["list_dir", "read_file"]),  # as config.example.toml has it
        ("['list_dir']", ["list_dir"]),
        ("list_dir, read_file", ["list_dir", "read_file"]),
        ("[]", []),
    ],
)
def test_set_a_list_as_toml_or_with_commas(
    capsys: pytest.CaptureFixture[str], value: str, stored: list[str]
) -> None:
    # Found by QA: the TOML list form was read as one name, '["list_dir"]', and refused.
    code, _, err = run(capsys, "set", "tools.builtin", value)
    assert (code, err) == (0, "")
    doc = tomllib.loads(paths.config_path().read_text(encoding="utf-8"))
    assert doc == {"tools": {"builtin": stored}}


@pytest.mark.parametrize("value", ['["list_dir", 3]', "[nope", '{"a": 1}'])
def test_set_a_list_that_is_not_one_is_one_line(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, out, err = run(capsys, "set", "tools.builtin", value)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "tools.builtin: expected names separated by commas (a,b) or a TOML list" in err or (
        value.startswith("{") and "unknown name" in err
    )
    assert not paths.config_path().exists()


def test_a_table_may_be_given_as_toml_and_a_bad_one_is_not_echoed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Found by QA: the TOML form was refused, and the refusal quoted the value (a header or an
    # environment table holds secrets).
    assert run(capsys, "set", "mcp.servers.s.command", "echo")[0] == 0
    code, _, err = run(capsys, "set", "mcp.servers.s.env", '{API_KEY = "secret-token-123456"}')
    assert (code, err) == (0, "")
    doc = tomllib.loads(paths.config_path().read_text(encoding="utf-8"))
    assert doc["mcp"]["servers"]["s"]["env"] == {"API_KEY": "secret-token-123456"}
    code, _, err = run(capsys, "set", "mcp.servers.s.env", '{API_KEY = "secret-token-123456"')
    assert code == 2 and "secret" not in err and "a TOML inline table" in err


def test_show_lists_the_models_tables(capsys: pytest.CaptureFixture[str]) -> None:
    # Found by QA: a [models] table set with `config set` was nowhere in `config show`.
    assert run(capsys, "set", "models.zai/glm-4.5.context", "65536")[0] == 0
    code, out, _ = run(capsys, "show")
    assert code == 0 and "zai/glm-4.5  context=65536" in out
    code, out, _ = run(capsys, "show", "--json")
    assert json.loads(out)["models"] == {"zai/glm-4.5": {"context": 65536}}


# --- repairing a broken config.toml -------------------------------------------------------
# `config set` edits one setting of a file that does not validate, and `config set-key` stores
# a key whatever state config.toml is in (keys live in credentials.toml).

BAD_THEME = '# my settings\ntheme = "neon-nope"\n'
CLASH = '[keys]\nsend = "ctrl+q"\n'  # quit's default key
UNPARSEABLE = "# notes\r\ntheme = 'nord'\r\n[ui\r\ncompact = true\r\n"


def loaded() -> dict[str, object]:
    from glmchat.config import load_settings

    load_settings()  # raises if the file is still wrong
    return tomllib.loads(paths.config_path().read_text(encoding="utf-8"))


@pytest.mark.parametrize("declared", SETTINGS.values(), ids=list(SETTINGS))
def test_set_repairs_a_wrong_value_of_every_setting(
    capsys: pytest.CaptureFixture[str], declared: Declared
) -> None:
    header = f"[{declared.table}]\n" if declared.table else ""
    write_config(f"# mine\n{header}{declared.name} = [1]\n")
    raw, value = _another_value(declared)
    code, out, err = run(capsys, "set", declared.key, raw)
    assert code == 0, err
    assert out == f"{declared.key} set in {paths.config_path()}\n"
    table = loaded()
    if declared.table:
        table = table[declared.table]  # type: ignore[assignment]
    assert table == {declared.name: value}
    # The wrong value is replaced where it was written; the comment stays, no backup needed.
    assert paths.config_path().read_text(encoding="utf-8").startswith(f"# mine\n{header}")
    assert not paths.config_path().with_name("config.toml.bak").exists()


@pytest.mark.parametrize(
    ("text", "key", "value", "expected"),
    [
        (BAD_THEME, "theme", "nord", {"theme": "nord"}),
        (BAD_THEME, "theme", "", {}),  # back to the default
        (CLASH, "keys.send", "ctrl+s", {"keys": {"send": "ctrl+s"}}),
        (CLASH, "keys.quit", "ctrl+x", {"keys": {"send": "ctrl+q", "quit": "ctrl+x"}}),
        (
            '[providers.zai]\nread_timeout = "slow"\n',
            "providers.zai.read_timeout",
            "30",
            {"providers": {"zai": {"read_timeout": 30}}},
        ),
        (
            '[providers.box]\ndialect = "openai"\n',  # a new provider needs base_url
            "providers.box.base_url",
            "http://127.0.0.1:9/v1",
            {"providers": {"box": {"dialect": "openai", "base_url": "http://127.0.0.1:9/v1"}}},
        ),
        (
            '[models."zai/glm-4.5"]\ncontext = -1\n',
            "models.zai/glm-4.5.context",
            "1000",
            {"models": {"zai/glm-4.5": {"context": 1000}}},
        ),
        (
            "[mcp.servers.files]\nenabled = true\n",  # needs command or url
            "mcp.servers.files.command",
            "python",
            {"mcp": {"servers": {"files": {"enabled": True, "command": "python"}}}},
        ),
    ],
)
def test_set_repairs_the_problem_it_names(
    capsys: pytest.CaptureFixture[str], text: str, key: str, value: str, expected: object
) -> None:
    write_config(text)
    code, _, err = run(capsys, "set", key, value)
    assert code == 0, err
    assert "glmchat: /" not in err  # no problem left to report
    assert loaded() == expected


def test_set_with_other_settings_wrong_writes_and_lists_what_remains(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_config(BAD_THEME + "top_p = 2\n" + CLASH)
    code, out, err = run(capsys, "set", "thinking", "false")
    assert code == 2
    assert out == f"thinking set in {path}\n"
    # One line per problem left, placed in the file as it is now.
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    problems = [line for line in err.splitlines() if not line.startswith("glmchat: warning: ")]
    assert len(problems) == 3
    for problem, (key, needle) in zip(
        problems,
        [
            ("theme", 'theme = "neon-nope"'),
            ("top_p", "top_p = 2"),
            ("keys.send", 'send = "ctrl+q"'),
        ],
        strict=True,
    ):
        assert problem.startswith(f"glmchat: {path}:")
        at = int(problem.removeprefix(f"glmchat: {path}:").split(":")[0])
        assert lines[at - 1] == needle and f": {key}: " in problem
    doc = tomllib.loads(text)
    assert doc["thinking"] is False and doc["theme"] == "neon-nope" and doc["top_p"] == 2
    assert "comments are not kept" not in err  # the value was written in place

    # Fixing the others, one by one: the last one leaves a file that loads.
    assert run(capsys, "set", "theme", "nord")[0] == 2
    assert run(capsys, "set", "top_p", "")[0] == 2
    code, _, err = run(capsys, "set", "keys.send", "ctrl+s")
    assert (code, err) == (0, "")
    assert loaded() == {"theme": "nord", "thinking": False, "keys": {"send": "ctrl+s"}}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("theme", "neon-two", 'theme: expected one of "ansi-dark"'),
        ("thinking", "maybe", "thinking: expected true or false"),
        ("keys.quit", "ctrl+s", "keys.quit: "),  # clashes with send, set in the file
        ("models.nope/m.context", "5", 'models.nope/m: unknown provider "nope"'),
        ("thinkng", "true", 'unknown key "thinkng"'),
    ],
)
def test_set_on_a_broken_file_still_refuses_a_bad_new_value(
    capsys: pytest.CaptureFixture[str], key: str, value: str, message: str
) -> None:
    path = write_config(BAD_THEME + '[keys]\nsend = "ctrl+s"\n')
    before = path.read_bytes()
    code, out, err = run(capsys, "set", key, value)
    assert code == 2 and out == ""
    assert err.startswith(f"glmchat: {message}") and err.count("\n") == 1, err
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("raw", "at"),
    [
        (UNPARSEABLE.encode(), "3:4"),
        (b'theme = "nord"\nthinking = \n', "2:12"),
        (b'theme = "n\xffrd"\n', "1:11"),  # not UTF-8
    ],
)
def test_set_does_not_touch_a_file_that_is_not_toml(
    capsys: pytest.CaptureFixture[str], raw: bytes, at: str
) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    code, out, err = run(capsys, "set", "theme", "nord")
    assert code == 2 and out == ""
    assert err.startswith(f"glmchat: {path}:{at}: ") and err.count("\n") == 1
    line, column = at.split(":")
    assert "config set cannot change a file that is not valid TOML" in err
    assert f"fix line {line}, column {column} first (the file is unchanged)" in err
    assert path.read_bytes() == raw
    assert not path.with_name("config.toml.bak").exists()


@pytest.mark.parametrize(
    ("text", "key", "value", "where"),
    [
        ("ui = 3\n", "ui.compact", "true", "1:1: ui: expected a table, got 3"),
        ('[providers]\nzai = "x"\n', "providers.zai.read_timeout", "5", "2:1: providers.zai: "),
    ],
)
def test_set_inside_a_value_that_is_not_a_table_is_refused(
    capsys: pytest.CaptureFixture[str], text: str, key: str, value: str, where: str
) -> None:
    # Replacing it would lose what the user wrote: the line says where, and to fix it first.
    path = write_config(text)
    code, out, err = run(capsys, "set", key, value)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"glmchat: {path}:{where}")
    assert err.endswith(f"; fix that first to set {key} (the file is unchanged)\n")
    assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    "text",
    [
        BAD_THEME,
        CLASH,
        '[providers.zai]\nread_timeout = "slow"\n',  # the provider's own table
        "providers = 5\n",
        UNPARSEABLE,
    ],
)
@pytest.mark.parametrize("provider", ["zai", "openrouter", "ollama"])
def test_set_key_for_a_built_in_provider_ignores_a_broken_config(
    capsys: pytest.CaptureFixture[str], text: str, provider: str
) -> None:
    path = write_config(text)
    before = path.read_bytes()
    code, out, err = run(capsys, "set-key", provider, stdin=KEY + "\n")
    assert code == 0, err
    assert stored_keys() == {provider: KEY}
    assert KEY not in out + err
    assert out == f"saved the API key for {provider} (sk-…WXYZ) in {paths.credentials_path()}\n"
    # One line says config.toml is wrong, and that the key is safe all the same.
    assert err.count("\n") == 1 and err.startswith(f"glmchat: warning: {path}")
    assert err.endswith("; the key is stored apart from it\n")
    assert path.read_bytes() == before


def test_set_key_for_a_custom_provider_in_a_file_wrong_elsewhere(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(BAD_THEME + '[providers.box]\nbase_url = "http://127.0.0.1:1/v1"\n')
    code, out, err = run(capsys, "set-key", "box", stdin=KEY)
    assert code == 0, err
    assert stored_keys() == {"box": KEY}
    assert KEY not in out + err


@pytest.mark.parametrize(
    ("text", "argv", "lines", "message"),
    [
        (
            '[providers.box]\nbase_url = "http://127.0.0.1:1/v1"\ndialect = "nope"\n',
            ["box"],
            2,
            'cannot store a key for "box": [providers.box] in config.toml is wrong',
        ),
        (
            "providers = 5\n",
            ["box"],
            2,
            'cannot store a key for "box": [providers.box] in config.toml is wrong',
        ),
        (
            UNPARSEABLE,
            ["box"],
            1,
            'not valid TOML, so glmchat cannot tell whether it defines a provider "box": '
            "fix line 3, column 4 first",
        ),
        (
            '[providers.zai]\nread_timeout = "slow"\n',
            ["zai", "--check"],
            2,
            "--check cannot try the key: [providers.zai] in config.toml is wrong",
        ),
        (
            UNPARSEABLE,
            ["zai", "--check"],
            1,
            "--check cannot tell which [providers.zai] settings to try the key with: fix line 3",
        ),
        (BAD_THEME, ["nowhere"], 1, 'unknown provider "nowhere"'),
    ],
)
def test_set_key_refuses_what_a_broken_config_leaves_unknown(
    capsys: pytest.CaptureFixture[str], text: str, argv: list[str], lines: int, message: str
) -> None:
    path = write_config(text)
    code, out, err = run(capsys, "set-key", *argv, stdin=KEY)
    assert code == 2 and out == ""
    assert message in err.splitlines()[0], err
    # Said, not silent: the key the user gave was not kept; nor is it echoed.
    assert err.splitlines()[0].endswith("; nothing was saved")
    assert err.count("\n") == lines and all(
        line.startswith("glmchat: ") for line in err.splitlines()
    )
    if lines > 1:
        assert err.splitlines()[1].startswith(f"glmchat: {path}:")
    assert KEY not in out + err
    assert stored_keys() == {}


def test_set_key_and_set_repair_in_a_subprocess() -> None:
    path = write_config(BAD_THEME)
    result = glmchat("config", "set-key", "zai", input=KEY + "\n")
    assert result.returncode == 0, result.stderr
    assert stored_keys() == {"zai": KEY}
    assert KEY not in result.stdout + result.stderr
    result = glmchat("config", "set", "theme", "nord")
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {"theme": "nord"}
    assert glmchat("config", "show").returncode == 0
