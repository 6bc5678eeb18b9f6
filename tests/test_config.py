"""Tests for glmchat.paths and glmchat.config: loading, validation, and safe rewriting."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from glmchat import paths
from glmchat.backend.providers import BUILTIN_PROVIDERS, ProviderConfig
from glmchat.config import (
    BINDING_IDS,
    MCP_SERVER_RULES,
    PROVIDER_RULES,
    SETTINGS,
    ConfigError,
    Declared,
    Settings,
    StillBroken,
    ToolsTable,
    UiSettings,
    load_settings,
    save_value,
)
from glmchat.config.rules import validate, value_range
from glmchat.config.settings import MODEL_RULES

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every file lives under tmp_path; nothing reads or writes the real home directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / ".local" / "share"))
    monkeypatch.setenv("GLMCHAT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GLMCHAT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GLMCHAT_MODEL", raising=False)
    return tmp_path


def write_config(text: str) -> Path:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- paths ------------------------------------------------------------------------------


def test_paths_follow_the_environment(isolated: Path) -> None:
    assert paths.config_dir() == isolated / "config"
    assert paths.data_dir() == isolated / "data"
    assert paths.config_path() == isolated / "config" / "config.toml"
    assert paths.credentials_path() == isolated / "config" / "credentials.toml"
    assert paths.database_path() == isolated / "data" / "glmchat.db"
    # Computing paths creates nothing: writers do that.
    assert not (isolated / "config").exists()
    assert not (isolated / "data").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="XDG layout")
def test_paths_default_to_platformdirs(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLMCHAT_CONFIG_DIR")
    monkeypatch.delenv("GLMCHAT_DATA_DIR")
    assert paths.config_dir() == isolated / "home" / ".config" / "glmchat"
    assert paths.data_dir() == isolated / "home" / ".local" / "share" / "glmchat"


# --- loading ----------------------------------------------------------------------------


def test_missing_file_gives_defaults() -> None:
    settings = load_settings()
    assert settings.default_model == "zai/glm-4.5"
    assert settings.thinking is True
    assert settings.theme == "textual-dark"
    assert (settings.temperature, settings.top_p, settings.max_tokens) == (None, None, None)
    assert settings.system_prompt is None
    assert settings.ui == UiSettings()
    assert dict(settings.providers) == BUILTIN_PROVIDERS
    assert dict(settings.keys) == {}
    assert settings.warnings == ()
    assert settings.path == paths.config_path()
    assert set(settings.sources.values()) == {"default"}
    assert settings.resolve_model() == (BUILTIN_PROVIDERS["zai"], "glm-4.5")


def test_values_from_the_file_and_their_sources() -> None:
    write_config(
        'default_model = "openrouter/z-ai/glm-4.5-air"\n'
        "thinking = false\n"
        "temperature = 1\n"
        "top_p = 0.9\n"
        "max_tokens = 4096\n"
        'system_prompt = "Be brief."\n'
        "[ui]\nrefresh_rate = 60\ncompact = true\n"
    )
    settings = load_settings()
    assert settings.thinking is False
    assert settings.temperature == 1.0 and isinstance(settings.temperature, float)
    assert settings.top_p == 0.9
    assert settings.max_tokens == 4096
    assert settings.system_prompt == "Be brief."
    assert settings.ui.refresh_rate == 60.0
    assert settings.ui.compact is True
    assert settings.ui.show_thinking is True
    assert settings.sources["thinking"] == "file"
    assert settings.sources["ui.compact"] == "file"
    assert settings.sources["theme"] == "default"
    assert settings.sources["ui.show_thinking"] == "default"
    provider, model = settings.resolve_model()
    assert (provider.name, model) == ("openrouter", "z-ai/glm-4.5-air")
    # A bare model name goes to the default model's provider.
    assert settings.resolve_model("z-ai/glm-4.5")[0].name == "openrouter"


def test_parse_error_names_path_line_and_column() -> None:
    path = write_config("thinking = true\ntemperature = \n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == f"{path}:2:15: Invalid value"


def test_parse_error_at_end_of_file_still_has_a_position() -> None:
    path = write_config('thinking = true\ntheme = """never closed')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert re.fullmatch(rf"{re.escape(str(path))}:2:\d+: .+", str(info.value))
    assert "\n" not in str(info.value)


def test_invalid_utf8_names_the_position() -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b'thinking = true\ntheme = "\xff"\n')
    with pytest.raises(ConfigError, match=re.escape(f"{path}:2:10: not valid UTF-8")):
        load_settings()


@pytest.mark.parametrize(
    ("toml", "at", "message"),
    [
        ('thinking = "yes"', "1:1", 'thinking: expected true or false, got "yes"'),
        ("temperature = 3", "1:1", "temperature: expected a number from 0 to 2, got 3"),
        ("temperature = true", "1:1", "temperature: expected a number from 0 to 2, got true"),
        ("top_p = -0.1", "1:1", "top_p: expected a number from 0 to 1, got -0.1"),
        ("max_tokens = 0", "1:1", "max_tokens: expected a whole number from 1 to 1048576, got 0"),
        ("max_tokens = 1048577", "1:1", "max_tokens: expected a whole number from 1 to 1048576"),
        ("max_tokens = 1.5", "1:1", "max_tokens: expected a whole number from 1 to 1048576"),
        ("theme = 3", "1:1", 'theme: expected one of "ansi-dark", "ansi-light", '),
        ("system_prompt = []", "1:1", "system_prompt: expected a string, got an array"),
        ("ui = 1", "1:1", "ui: expected a table, got 1"),
        ("[ui]\nrefresh_rate = 500", "2:1", "ui.refresh_rate: expected a number from 1 to 120"),
        ('[ui]\ncompact = "no"', "2:1", 'ui.compact: expected true or false, got "no"'),
        ('[ui]\ncode_theme = "nope"', "2:1", 'ui.code_theme: expected one of "ansi_dark", "ansi'),
        ("[ui]\ncode_theme = 1", "2:1", 'ui.code_theme: expected one of "ansi_dark", "ansi'),
        ("[keys]\nsend = 3", "2:1", "keys.send: expected key names separated by commas"),
        ('[keys]\nsend = "ctrl+j,,x"', "2:1", "keys.send: expected key names separated by"),
        (
            '[providers.zai]\ndialect = "grpc"',
            "2:1",
            'providers.zai.dialect: expected one of "zai", "openrouter", "openai", got "grpc"',
        ),
        ('[providers.zai]\nthinking_param = "on"', "2:1", "providers.zai.thinking_param: "),
        ('[providers.zai]\nbase_url = "ftp://x"', "2:1", "providers.zai.base_url: expected an"),
        ('[providers.zai]\nbase_url = "localhost"', "2:1", "providers.zai.base_url: expected"),
        ("[providers.zai]\nread_timeout = 0", "2:1", "providers.zai.read_timeout: expected a"),
        ("[providers.zai]\nmodels = [1]", "2:1", "providers.zai.models: expected an array of"),
        ('[providers.zai]\napi_key_env = "MY KEY"', "2:1", "providers.zai.api_key_env: expected"),
        ("[providers.zai]\nheaders = { a = 1 }", "2:1", "providers.zai.headers: expected a table"),
        ('[providers."a.b"]\nbase_url = "http://x"', "1:1", "providers.a.b: a provider name may"),
        ("providers = 3", "1:1", "providers: expected a table, got 3"),
        ('default_model = "nope/glm-4.5"', "1:1", 'default_model: unknown provider "nope"'),
        ('default_model = "zai/"', "1:1", 'default_model: no model name in "zai/"'),
        # Positions inside inline tables, dotted keys and after multi-line values.
        ('providers = { zai = { dialect = "grpc" } }', "1:23", "providers.zai.dialect: expected"),
        ('x = """\n[ui]\n"""\nui.compact = "no"', "4:1", "ui.compact: expected true or false"),
        ("[providers]\n  zai.read_timeout = 0", "2:3", "providers.zai.read_timeout: expected"),
        ("[ui]\nx = [\n  1,\n]\n\tcompact = 2 # c", "5:2", "ui.compact: expected true or"),
    ],
)
def test_wrong_value_names_the_key_its_position_and_what_is_allowed(
    toml: str, at: str, message: str
) -> None:
    path = write_config(toml + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    # The wrong value's line; an unknown key around it is listed too (its own line).
    [text] = [line for line in str(info.value).splitlines() if "ignored" not in line]
    assert text.startswith(f"{path}:{at}: ")
    assert message in text


@pytest.mark.parametrize(
    ("toml", "suggestion"),
    [
        ("thinkng = true", '"thinkng" ignored (did you mean "thinking"?)'),
        ("[ui]\ncompat = true", '"ui.compat" ignored (did you mean "ui.compact"?)'),
        (
            '[providers.zai]\nbase_ur = "http://x"',
            '"providers.zai.base_ur" ignored (did you mean "providers.zai.base_url"?)',
        ),
    ],
)
def test_unknown_key_is_a_warning_with_a_suggestion(toml: str, suggestion: str) -> None:
    path = write_config(toml + "\n")
    settings = load_settings()
    assert len(settings.warnings) == 1
    assert re.match(rf"{re.escape(str(path))}:\d+:1: unknown key ", settings.warnings[0])
    assert suggestion in settings.warnings[0]


def test_top_level_unknown_key_suggests_the_nearest() -> None:
    write_config("thinkng = false\n")
    settings = load_settings()
    assert settings.warnings[0].endswith('(did you mean "thinking"?)')
    assert settings.thinking is True  # the misspelt key does nothing


def test_environment_model_beats_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('default_model = "zai/glm-4.5-air"\n')
    assert load_settings().sources["default_model"] == "file"
    monkeypatch.setenv("GLMCHAT_MODEL", "openrouter/z-ai/glm-4.5")
    settings = load_settings()
    assert settings.default_model == "openrouter/z-ai/glm-4.5"
    assert settings.sources["default_model"] == "environment"
    assert settings.resolve_model()[0].name == "openrouter"
    # An explicit environ mapping is honoured instead of os.environ.
    assert load_settings(environ={}).default_model == "zai/glm-4.5-air"


def test_bad_environment_model_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLMCHAT_MODEL", "nowhere/glm")
    with pytest.raises(ConfigError, match=r'^GLMCHAT_MODEL: unknown provider "nowhere"'):
        load_settings()


def test_key_remapping_is_parsed() -> None:
    write_config('[keys]\nsend = "ctrl+enter"\nnewline = "enter, ctrl+j"\n')
    settings = load_settings()
    assert dict(settings.keys) == {"send": "ctrl+enter", "newline": "enter,ctrl+j"}
    assert settings.key_for("send") == "ctrl+enter"
    assert settings.key_for("quit") == "ctrl+q"
    assert settings.sources["keys.send"] == "file"
    assert settings.sources["keys.quit"] == "default"


def test_binding_ids_are_the_documented_set() -> None:
    assert BINDING_IDS == {
        "toggle_thinking": "ctrl+t",
        "send": "enter",
        "newline": "ctrl+j,shift+enter",
        "stop": "escape",
        "new_pane": "ctrl+n",
        "close_pane": "ctrl+w",
        "prev_pane": "ctrl+pageup",
        "next_pane": "ctrl+pagedown",
        "scroll_up": "pageup",
        "scroll_down": "pagedown",
        "resume": "ctrl+r",
        "fold_thinking": "ctrl+o",
        "copy_answer": "ctrl+y",
        "command_palette": "ctrl+p",
        "quit": "ctrl+q",
        # The message selection and the conversation tree (DESIGN.md "Branches").
        "select_prev": "alt+up",
        "select_next": "alt+down",
        "edit_message": "e",
        "regenerate": "r",
        "prev_sibling": "left_square_bracket",
        "next_sibling": "right_square_bracket",
    }


def test_custom_provider_table_creates_a_provider() -> None:
    write_config(
        "[providers.my-vllm]\n"
        'base_url = "http://127.0.0.1:8000/v1"\n'
        'models = ["zai-org/GLM-4.5-Air"]\n'
        'headers = { "X-Team" = "a" }\n'
        "extra_body = { top_k = 40 }\n"
    )
    settings = load_settings()
    p = settings.providers["my-vllm"]
    assert p.base_url == "http://127.0.0.1:8000/v1"
    assert p.dialect == "openai"
    assert p.api_key_env == "MY_VLLM_API_KEY"
    assert p.thinking_param == "chat_template_kwargs"
    assert p.requires_key is False
    assert p.models == ("zai-org/GLM-4.5-Air",)
    assert p.headers == (("X-Team", "a"),)
    assert p.extra_body == (("top_k", 40),)
    assert p.display_name == "my-vllm"
    assert settings.sources["providers.my-vllm"] == "file"
    assert settings.resolve_model("my-vllm/zai-org/GLM-4.5-Air") == (p, "zai-org/GLM-4.5-Air")


def test_builtin_override_changes_only_the_given_keys() -> None:
    write_config('[providers.zai]\nbase_url = "http://127.0.0.1:9/v4"\nread_timeout = 5\n')
    p = load_settings().providers["zai"]
    builtin = BUILTIN_PROVIDERS["zai"]
    assert (p.base_url, p.read_timeout) == ("http://127.0.0.1:9/v4", 5.0)
    assert (p.dialect, p.api_key_env, p.models, p.label) == (
        builtin.dialect,
        builtin.api_key_env,
        builtin.models,
        builtin.label,
    )


def test_new_provider_without_base_url_is_an_error_with_a_hint() -> None:
    write_config('[providers.openroute]\napi_key_env = "X"\n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert 'did you mean "openrouter"?' in str(info.value)
    assert "needs base_url" in str(info.value)


def test_resolve_model_unknown_provider_lists_known() -> None:
    with pytest.raises(ConfigError) as info:
        Settings().resolve_model("mistral/large")
    assert 'unknown provider "mistral"' in str(info.value)
    assert "zai, zai-coding, bigmodel, openrouter, ollama, openai" in str(info.value)


# --- config.example.toml ----------------------------------------------------------------


def test_example_config_loads_with_no_warnings() -> None:
    settings = load_settings(EXAMPLE, environ={})
    assert settings.warnings == ()
    assert settings.default_model == "zai/glm-4.5"
    assert dict(settings.keys) == BINDING_IDS
    assert settings.ui == UiSettings()


def test_example_config_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = [*(d.name for d in SETTINGS.values()), *BINDING_IDS, *PROVIDER_RULES]
    for key in [*keys, *MCP_SERVER_RULES, *MODEL_RULES]:
        assert re.search(rf"^#?\s*{key}\s*=", text, re.MULTILINE), key
    for section in ("[ui]", "[keys]", "[providers.", "[tools]", "[mcp.servers.", "[models."):
        assert section in text


def _example_entries() -> dict[str, tuple[str, str]]:
    """Each key line of the example by dotted key: (the line, its help) where the help is the
    comment lines right above it (up to a blank line or another key) and its own trailing
    comment, "#" and line breaks removed."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    entries: dict[str, tuple[str, str]] = {}
    table = ""
    for i, line in enumerate(lines):
        if header := re.match(r"#?\s*\[([\w.-]+)\]\s*$", line):
            table = header.group(1)
            continue
        if not (m := re.match(r"(#\s?)?(\w+)\s*=", line)):
            continue
        above: list[str] = []
        j = i - 1
        while j >= 0 and lines[j].startswith("#") and not re.match(r"#\s*(\w+\s*=|\[)", lines[j]):
            above.insert(0, lines[j].lstrip("#"))
            j -= 1
        trailing = line.partition(" # ")[2]
        key = f"{table}.{m.group(2)}" if table else m.group(2)
        entries[key] = (line, " ".join(" ".join([*above, trailing]).split()))
    return entries


@pytest.mark.parametrize("declared", SETTINGS.values(), ids=list(SETTINGS))
def test_example_config_follows_each_declaration(declared: Declared) -> None:
    """The example repeats what each setting's one declaration says: its help line, its range
    or choices, and its default (given as is, or commented out when there is none)."""
    entries = _example_entries()
    assert declared.key in entries, f"{declared.key} is not in config.example.toml"
    line, help_text = entries[declared.key]
    assert declared.doc in help_text
    rule = declared.rule
    if rule.lo is not None:
        assert value_range(rule).removeprefix("from ") in help_text
    if rule.kind == "choice":
        assert [c for c in rule.choices if f'"{c}"' not in help_text] == []
    # A setting without a default is shown commented out; every other is given its default.
    assert line.startswith("#") == declared.optional
    settings = load_settings(EXAMPLE, environ={})
    if not declared.optional:
        assert settings.sources[declared.key] == "file"
        assert settings.value_of(declared) == declared.default


def test_example_config_states_provider_ranges_and_choices() -> None:
    providers = EXAMPLE.read_text(encoding="utf-8").partition("# Providers.")[2]
    for name, rule in PROVIDER_RULES.items():
        line = next(ln for ln in providers.splitlines() if re.match(rf"#\s+{name}\s+=", ln))
        if rule.lo is not None:
            assert value_range(rule).removeprefix("from ") in line, name
        assert [c for c in rule.choices if f'"{c}"' not in providers] == [], name


def test_every_setting_is_declared_once_with_its_rule() -> None:
    """A new field on Settings or UiSettings must be declared with `setting()`: then loading,
    `config set`, `config show` and the example test all pick it up from that one place."""
    tables = {"providers", "keys", "ui", "tools", "mcp_servers", "models", "budget", "coding_plan"}
    bookkeeping = {"warnings", "sources", "path"}
    assert {f.name for f in dataclasses.fields(Settings)} - tables - bookkeeping == {
        d.name for d in SETTINGS.values() if not d.table
    }
    assert {f.name for f in dataclasses.fields(UiSettings)} == {
        d.name for d in SETTINGS.values() if d.table == "ui"
    }
    assert {f.name for f in dataclasses.fields(ToolsTable)} == {
        d.name for d in SETTINGS.values() if d.table == "tools"
    }
    assert Settings().ui == UiSettings()
    assert Settings().tools == ToolsTable()
    for declared in SETTINGS.values():
        assert Settings().value_of(declared) == declared.default
        if not declared.optional:
            assert validate(declared.rule, declared.default) == declared.default, declared.key
    assert set(PROVIDER_RULES) <= {f.name for f in dataclasses.fields(ProviderConfig)}


def test_example_config_commented_examples_are_valid(tmp_path: Path) -> None:
    # Uncomment the optional top-level keys and the provider, MCP server and model examples: still
    # no warnings.
    lines = [
        line[2:]
        if re.match(r'# (\[(providers|mcp\.servers)\.[\w-]+\]|\[models\."[^"]+"\]|\w+ = )', line)
        else line
        for line in EXAMPLE.read_text(encoding="utf-8").splitlines()
    ]
    uncommented = tmp_path / "uncommented.toml"
    uncommented.write_text("\n".join(lines), encoding="utf-8")
    settings = load_settings(uncommented, environ={})
    assert settings.warnings == ()
    assert settings.temperature is not None and settings.system_prompt
    assert {"vllm", "llamacpp"} <= set(settings.providers)
    assert settings.providers["ollama"].extra_body
    assert set(settings.mcp_servers) == {"fetch", "zai-search"}
    assert settings.models["ollama/glm-4.5-air"].context == 65536
    assert settings.mcp_servers["zai-search"].headers


# --- save_value -------------------------------------------------------------------------


def test_save_value_parses_each_type() -> None:
    save_value("thinking", "off")
    save_value("ui.compact", "on")
    save_value("temperature", "0.6")
    save_value("max_tokens", "2048")
    save_value("theme", "nord")
    save_value("keys.send", "ctrl+s")
    save_value("providers.local.base_url", "http://127.0.0.1:8080/v1")
    settings = save_value("providers.local.models", "a, b")
    doc = tomllib.loads(paths.config_path().read_text(encoding="utf-8"))
    assert doc["thinking"] is False
    assert doc["ui"]["compact"] is True
    assert doc["temperature"] == 0.6
    assert doc["max_tokens"] == 2048
    assert doc["keys"]["send"] == "ctrl+s"
    assert doc["providers"]["local"] == {
        "base_url": "http://127.0.0.1:8080/v1",
        "models": ["a", "b"],
    }
    assert settings.thinking is False and settings.ui.compact and settings.theme == "nord"
    assert settings.providers["local"].models == ("a", "b")
    assert settings.warnings == ()


def test_save_value_writes_atomically(monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config("thinking = true\n")
    before = path.read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_value("thinking", "false")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]  # no temp left
    monkeypatch.undo()
    monkeypatch.setenv("GLMCHAT_CONFIG_DIR", str(path.parent))

    inode = path.stat().st_ino
    save_value("thinking", "false")
    assert path.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_value_changes_a_commented_file_in_place() -> None:
    path = write_config("# my notes\nthinking = true  # keep on\n")
    settings = save_value("thinking", "false")
    assert path.read_text(encoding="utf-8") == "# my notes\nthinking = false  # keep on\n"
    assert not path.with_name("config.toml.bak").exists()
    assert settings.warnings == ()


def test_save_value_keeps_a_backup_when_it_rewrites_a_commented_file() -> None:
    original = "# my notes\nkeys = { send = 'ctrl+s' }  # mine\n"
    path = write_config(original)
    settings = save_value("keys.quit", "ctrl+x")  # a new key of an inline table
    backup = path.with_name("config.toml.bak")
    assert backup.read_text(encoding="utf-8") == original
    assert any(str(backup) in w and "comments" in w for w in settings.warnings)
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {
        "keys": {"send": "ctrl+s", "quit": "ctrl+x"}
    }


def test_save_value_without_comments_makes_no_backup() -> None:
    path = write_config("thinking = true\n")
    settings = save_value("thinking", "false")
    assert not path.with_name("config.toml.bak").exists()
    assert settings.warnings == ()


def test_save_value_creates_the_file_and_directory() -> None:
    assert not paths.config_dir().exists()
    save_value("theme", "nord")
    assert tomllib.loads(paths.config_path().read_text(encoding="utf-8")) == {"theme": "nord"}


@pytest.mark.parametrize(
    "broken",
    [
        "thinking = \n# a comment\n",  # does not parse
        "[ui\ncompact = true\n",
    ],
)
def test_save_value_never_touches_a_file_that_does_not_parse(broken: str) -> None:
    # One that parses but has wrong values is repaired one key at a time: tests/test_cli_config.py
    path = write_config(broken)
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    with pytest.raises(ConfigError) as info:
        save_value("theme", "nord")
    assert str(info.value).startswith(str(path))
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("thinking", "maybe", 'thinking: expected true or false (or on/off), got "maybe"'),
        ("temperature", "3", "temperature: expected a number from 0 to 2, got 3"),
        ("temperature", "warm", 'temperature: expected a number from 0 to 2, got "warm"'),
        ("max_tokens", "1.5", "max_tokens: expected a whole number from 1 to 1048576"),
        ("providers.zai.dialect", "grpc", "providers.zai.dialect: expected one of"),
        ("providers.zai.headers", "X=1", "providers.zai.headers: expected a JSON object"),
        ("thinkng", "true", 'unknown key "thinkng" (did you mean "thinking"?)'),
        ("ui", "x", "ui is a table"),
        ("default_model", "nope/x", 'unknown provider "nope"'),
        ("providers.newone.label", "X", "a new provider needs base_url"),
    ],
)
def test_save_value_rejects_bad_input_and_writes_nothing(
    key: str, value: str, message: str
) -> None:
    path = write_config('theme = "nord"\n')
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        save_value(key, value)
    assert message in str(info.value)
    assert path.read_bytes() == before


def test_save_value_empty_string_restores_the_default() -> None:
    path = write_config('theme = "nord"\n[ui]\ncompact = true\n')
    save_value("ui.compact", "")
    settings = save_value("temperature", "none")
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {"theme": "nord"}
    assert settings.ui.compact is False


def test_save_value_provider_table_value_from_json() -> None:
    settings = save_value("providers.zai.headers", '{"X-Title": "me"}')
    assert settings.providers["zai"].headers == (("X-Title", "me"),)
    assert settings.providers["zai"].base_url == BUILTIN_PROVIDERS["zai"].base_url


def test_save_value_with_a_bad_environment_model_writes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_config('theme = "nord"\n')
    monkeypatch.setenv("GLMCHAT_MODEL", "nowhere/x")
    with pytest.raises(ConfigError, match="^GLMCHAT_MODEL: "):
        save_value("thinking", "false")
    assert path.read_text(encoding="utf-8") == 'theme = "nord"\n'


# --- [keys] and theme -------------------------------------------------------------------


def config_errors(toml: str) -> list[str]:
    """The lines of the ConfigError a file gives, each checked for `PATH:LINE:COL: `."""
    path = write_config(toml)
    with pytest.raises(ConfigError) as info:
        load_settings()
    lines = str(info.value).split("\n")
    for line in lines:
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: \S", line), line
    return [line[len(str(path)) + 1 :] for line in lines]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("notakey+++", '"notakey+++" is not a key; write KEY or MODIFIER+KEY'),
        ("ctrl+", '"ctrl+" is not a key'),
        ("+ctrl", '"+ctrl" is not a key'),
        ("ctrl++", '"ctrl++" is not a key'),
        ("ctrl+q x", '"ctrl+q x" is not a key'),
        ("cmd+q", '"cmd+q": "cmd" is not a modifier; modifiers: alt, ctrl, hyper, meta, shift'),
        ("control+q", '"control" is not a modifier'),
        ("ctrl+ctrl+q", '"ctrl+ctrl+q" names a modifier twice'),
        ("ctrl+pgup", '"ctrl+pgup": Textual knows no key "pgup" (did you mean "pageup"?)'),
        ("f99", 'Textual knows no key "f99"'),
        ("ctrl", 'Textual knows no key "ctrl"'),
        ("ctrl+shift", 'Textual knows no key "shift"'),
        ("ctrl+q,notakey", 'Textual knows no key "notakey"'),
        ("ctrl+\x07", "is not a key"),
    ],
)
def test_a_malformed_key_is_an_error(value: str, message: str) -> None:
    lines = config_errors('[keys]\nsend = "ctrl+s"\nquit = ' + json.dumps(value) + "\n")
    assert len(lines) == 1
    assert lines[0].startswith("3:1: keys.quit: ")
    assert message in lines[0]


def test_an_unknown_binding_id_is_an_error_with_a_suggestion() -> None:
    (line,) = config_errors('theme = "nord"\n[keys]\nsned = "f5"\n')
    assert line.startswith('3:1: keys.sned: no binding has this id (did you mean "keys.send"?)')
    assert "toggle_thinking, send, newline" in line


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # The default of another binding (ctrl+q quits, with the prompt lost).
        ('send = "ctrl+q"', '"ctrl+q" is already the key of quit (its default)'),
        ('copy_answer = "ctrl+t"', '"ctrl+t" is already the key of toggle_thinking'),
        ('new_pane = "ctrl+j"', '"ctrl+j" is already the key of newline'),
        # One of several keys, written in another form Textual treats as the same key.
        ('fold_thinking = "f2,ctrl+m"', '"ctrl+m" is already the key of send'),
        ('resume = "newline"', '"newline" is already the key of newline'),
        ('stop = "shift+ctrl+pageup"', '"ctrl+shift+pageup"'),
        # Keys Textual keeps.
        ('copy_answer = "ctrl+c"', '"ctrl+c" is kept for copying selected text'),
        ('new_pane = "tab"', '"tab" is kept for moving focus'),
        ('new_pane = "ctrl+i"', '"ctrl+i" is kept for moving focus'),
        ('prev_pane = "shift+tab"', '"shift+tab" is kept for moving focus'),
        # Keys that type text into the prompt.
        ('new_pane = "n"', '"n" types text into the prompt; add a modifier, like "ctrl+n"'),
        ('send = "?"', '"question_mark" types text into the prompt'),
        ('send = "space"', '"space" types text'),
        ('quit = "shift+q"', '"shift+q" types text'),
    ],
)
def test_a_key_that_cannot_work_is_an_error(toml: str, message: str) -> None:
    if "shift+ctrl+pageup" in toml:  # clashes once written in Textual's order
        toml = 'prev_pane = "ctrl+shift+pageup"\n' + toml
    lines = config_errors("[keys]\n" + toml + "\n")
    assert len(lines) == 1
    assert message in lines[0]
    assert lines[0].startswith(f"{toml.count(chr(10)) + 2}:1: keys.")


def test_a_key_given_to_two_bindings_is_reported_on_the_later_one() -> None:
    lines = config_errors('[keys]\nnew_pane = "f2"\nresume = "f3"\nfold_thinking = "f2"\n')
    assert lines == [
        '4:1: keys.fold_thinking: "f2" is also given to keys.new_pane; pick another key'
    ]


def test_keys_are_written_as_textual_matches_them() -> None:
    write_config(
        "[keys]\n"
        'quit = "ctrl+x"\n'
        'send = "ctrl+q"\n'  # free once quit has moved
        'new_pane = "shift+ctrl+n"\n'
        'copy_answer = "ctrl+?"\n'
        'resume = " f5 , f5,alt+r "\n'
        'stop = "escape,ctrl+left_square_brace"\n'  # one key, twice: not a clash with itself
        'fold_thinking = "ctrl+@"\n'
    )
    settings = load_settings()
    assert dict(settings.keys) == {
        "quit": "ctrl+x",
        "send": "ctrl+q",
        "new_pane": "ctrl+shift+n",
        "copy_answer": "ctrl+question_mark",
        "resume": "f5,alt+r",
        "stop": "escape,ctrl+left_square_brace",
        "fold_thinking": "ctrl+@",
    }
    assert settings.warnings == ()


def test_an_unknown_theme_lists_the_choices() -> None:
    (line,) = config_errors('thinking = true\ntheme = "nrod"\n')
    assert line.startswith('2:1: theme: expected one of "ansi-dark", "ansi-light"')
    for theme in ("textual-dark", "textual-light", "nord", "gruvbox", "tokyo-night"):
        assert f'"{theme}"' in line
    assert line.endswith('got "nrod" (did you mean "nord"?)')


def test_every_problem_is_reported_with_its_line_and_column_in_file_order() -> None:
    text = (
        "# my settings\n"
        'theme = "nope"\n'
        'providers.other = { base_url = "http://127.0.0.1:1/v1", read_timeout = -1 }\n'
        "temperature = 9\n"
        "thinkng = true\n"  # a warning alone; listed among the errors here
        "[ui]\n"
        "  refresh_rate = 0\n"
        "[keys]\n"
        'send = "ctrl+q"\n'
        'quit = "notakey+++"\n'
        'sned = "f5"\n'
        "[providers.zai]\n"
        'base_url = "ftp://x"\n'
        "headers = { a = 1 }\n"
        "[providers.local]\n"
        'models = ["x"]\n'
        "[providers.vllm]\n"
        'base_url = "http://127.0.0.1:2/v1"\n'
        "extra_body = { a = 1 }\n"
        'dialect = "grpc"\n'
    )
    lines = config_errors(text)
    inline = text.splitlines()[2].index("read_timeout") + 1
    assert [line.partition(": ")[0] + " " + line.split(": ")[1] for line in lines] == [
        "2:1 theme",
        f"3:{inline} providers.other.read_timeout",
        "4:1 temperature",
        '5:1 unknown key "thinkng" ignored (did you mean "thinking"?)',
        "7:3 ui.refresh_rate",
        "9:1 keys.send",
        "10:1 keys.quit",
        "11:1 keys.sned",
        "13:1 providers.zai.base_url",
        "14:1 providers.zai.headers",
        "15:1 providers.local",
        "20:1 providers.vllm.dialect",
    ]
    assert '"ctrl+q" is already the key of quit' in lines[5]
    assert "needs base_url" in lines[10]


def test_a_good_file_is_not_scanned_for_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions cost a scan of the file; only a file with something to report pays it."""
    from glmchat import toml_positions  # imported by the loader when it has a problem to place

    def no_scan(text: str) -> dict[tuple[str, ...], tuple[int, int]]:
        raise AssertionError("scanned")

    monkeypatch.setattr(toml_positions, "key_positions", no_scan)
    write_config('theme = "nord"\n[keys]\nsend = "ctrl+s"\n')
    assert load_settings().theme == "nord"


# --- config set: keys and theme ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("keys.send", "ctrl+q", 'keys.send: "ctrl+q" is already the key of quit (its default)'),
        ("keys.quit", "notakey+++", 'keys.quit: "notakey+++" is not a key'),
        ("keys.copy_answer", "ctrl+c", 'keys.copy_answer: "ctrl+c" is kept for copying'),
        ("keys.new_pane", "n", 'keys.new_pane: "n" types text into the prompt'),
        ("keys.new_pane", "ctrl+s", '"ctrl+s" is also given to keys.send'),
        ("keys.sned", "f5", 'unknown key "keys.sned" (did you mean "keys.send"?)'),
        ("theme", "nrod", 'theme: expected one of "ansi-dark"'),
        ("ui.code_theme", "monokia", '"zenburn", got "monokia" (did you mean "monokai"?)'),
    ],
)
def test_save_value_rejects_keys_and_themes_that_cannot_work(
    key: str, value: str, message: str
) -> None:
    path = write_config('[keys]\nsend = "ctrl+s"\n')
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        save_value(key, value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == before


def test_save_value_blames_the_key_being_set_for_a_clash() -> None:
    write_config('[keys]\nsend = "ctrl+s"\nquit = "ctrl+x"\n')
    with pytest.raises(ConfigError) as info:
        save_value("keys.send", "ctrl+x")
    assert str(info.value) == 'keys.send: "ctrl+x" is also given to keys.quit; pick another key'


def test_save_value_on_a_file_with_problems_writes_and_lists_them_all() -> None:
    path = write_config('theme = "nope"\n[keys]\nquit = "notakey+++"\nsend = "ctrl+c"\n')
    with pytest.raises(StillBroken) as info:
        save_value("thinking", "false")
    # The value is written (after the last top-level key); every other problem is listed,
    # placed in the file as it is now.
    lines = str(info.value).split("\n")
    assert [line.removeprefix(f"{path}:").split(": ")[:2] for line in lines] == [
        ["1:1", "theme"],
        ["4:1", "keys.quit"],
        ["5:1", "keys.send"],
    ]
    assert tomllib.loads(path.read_text(encoding="utf-8"))["thinking"] is False


def test_save_value_keys_are_stored_as_textual_matches_them() -> None:
    settings = save_value("keys.new_pane", "shift+ctrl+n, f2")
    assert settings.keys["new_pane"] == "ctrl+shift+n,f2"
    doc = tomllib.loads(paths.config_path().read_text(encoding="utf-8"))
    assert doc == {"keys": {"new_pane": "ctrl+shift+n,f2"}}
