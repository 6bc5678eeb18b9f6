"""Tests for glmchat.credentials: masking, the key store, file modes and precedence."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import stat
import sys
import traceback
from pathlib import Path

import pytest

from glmchat import paths
from glmchat.backend.providers import BUILTIN_PROVIDERS, ProviderConfig
from glmchat.credentials import (
    CredentialsError,
    CredentialStore,
    MissingKeyError,
    Secret,
    env_names,
    key_problem,
    mask,
    require_key,
)

ZAI = BUILTIN_PROVIDERS["zai"]
OLLAMA = BUILTIN_PROVIDERS["ollama"]
KEY = "sk-live-0123456789abcdefWXYZ"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every file lives under tmp_path; no provider key leaks in from the real environment."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GLMCHAT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GLMCHAT_DATA_DIR", str(tmp_path / "data"))
    for provider in BUILTIN_PROVIDERS.values():
        for name in env_names(provider):
            monkeypatch.delenv(name, raising=False)
    return tmp_path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- masking ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("sk-abcdefghijklmnop1234", "sk-…1234"),
        ("sk-or-v1-0123456789abcdef0123456789abcdef", "sk-…cdef"),
        ("0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOp", "012…MnOp"),
        ("abcd-efghijklmnop", "abc…mnop"),  # the dash is too far in: 3 characters only
        ("abcdefghij", "…ij"),
        ("abcdefg", "****"),
        ("", "****"),
    ],
)
def test_mask(key: str, masked: str) -> None:
    assert mask(key) == masked


@pytest.mark.parametrize("length", range(0, 80))
def test_mask_never_reveals_much(length: int) -> None:
    key = "".join(chr(ord("A") + i % 26) + str(i % 10) for i in range(length))[:length]
    shown = mask(key)
    assert len(shown.replace("…", "").replace("*", "")) <= 8
    if length >= 8:
        assert key not in shown


# --- Secret -----------------------------------------------------------------------------


def test_secret_is_masked_in_repr_str_and_format() -> None:
    secret = Secret(KEY)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>20}"):
        assert KEY not in text
        assert "sk-…WXYZ" in text
    assert secret.reveal() == KEY
    assert secret.masked == "sk-…WXYZ"


def test_secret_equality_and_hash_by_value() -> None:
    assert Secret(KEY) == Secret(KEY)
    assert Secret(KEY) != Secret(KEY + "x")
    assert Secret(KEY) != KEY  # never equal to the plain string: no accidental comparisons
    assert len({Secret(KEY), Secret(KEY)}) == 1
    assert not Secret("")


def test_secret_has_no_dict_and_refuses_pickle() -> None:
    secret = Secret(KEY)
    assert not hasattr(secret, "__dict__")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert copy.deepcopy(secret) is secret


def test_anything_holding_a_secret_is_masked() -> None:
    @dataclasses.dataclass
    class Request:
        url: str
        key: Secret

    request = Request("https://api.z.ai", Secret(KEY))
    assert KEY not in repr(request)
    assert KEY not in str(dataclasses.asdict(request))
    assert KEY not in repr({"headers": [Secret(KEY)]})


def test_traceback_with_a_secret_in_locals_does_not_show_it() -> None:
    def send(api_key: Secret) -> None:
        raise RuntimeError(f"request failed with {api_key}")

    try:
        send(Secret(KEY))
    except RuntimeError as exc:
        plain = "".join(traceback.format_exception(exc))
        with_locals = "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
    assert "api_key" in with_locals  # the local is shown, masked
    assert "sk-…WXYZ" in with_locals
    assert KEY not in plain
    assert KEY not in with_locals


# --- the store --------------------------------------------------------------------------


def test_set_creates_the_file_with_mode_0600() -> None:
    store = CredentialStore()
    store.set("zai", KEY)
    path = paths.credentials_path()
    assert store.path == path
    if sys.platform != "win32":
        assert mode_of(path) == 0o600
        assert mode_of(path.parent) == 0o700
    assert path.read_text(encoding="utf-8") == f'[providers.zai]\napi_key = "{KEY}"\n'
    assert store.get(ZAI) == Secret(KEY)
    assert store.source(ZAI) == "credentials.toml"
    assert sorted(p.name for p in path.parent.iterdir()) == ["credentials.toml"]
    assert KEY not in repr(store)


@posix_only
def test_every_write_is_0600_whatever_the_umask() -> None:
    store = CredentialStore()
    old = os.umask(0)  # a umask of 0 would let a careless writer create 0666 files
    try:
        store.set("zai", KEY)
        assert mode_of(store.path) == 0o600
        store.set("openrouter", "sk-or-v1-" + "a" * 40)
        assert mode_of(store.path) == 0o600
        assert store.unset("zai") is True
        assert mode_of(store.path) == 0o600
    finally:
        os.umask(old)
    assert store.warnings == ()


@posix_only
def test_a_looser_mode_is_fixed_and_reported() -> None:
    store = CredentialStore()
    store.set("zai", KEY)
    os.chmod(store.path, 0o644)
    assert store.get(ZAI) == Secret(KEY)
    assert mode_of(store.path) == 0o600
    assert len(store.warnings) == 1
    assert "0644" in store.warnings[0] and "0600" in store.warnings[0]
    assert str(store.path) in store.warnings[0]


def test_environment_beats_the_file() -> None:
    store = CredentialStore(environ={"ZAI_API_KEY": " env-key-0123456789 \n"})
    store.set("zai", KEY)
    assert store.get(ZAI) == Secret("env-key-0123456789")  # stripped
    assert store.source(ZAI) == "environment (ZAI_API_KEY)"
    empty = CredentialStore(environ={"ZAI_API_KEY": "  "})
    assert empty.get(ZAI) == Secret(KEY)  # a blank variable does not count


def test_api_key_env_then_generic_name_then_file() -> None:
    provider = ProviderConfig(
        name="my-box", dialect="openai", base_url="http://x", api_key_env="BOX_TOKEN"
    )
    assert env_names(provider) == ("BOX_TOKEN", "MY_BOX_API_KEY")
    store = CredentialStore(environ={"MY_BOX_API_KEY": "generic-key-123456", "BOX_TOKEN": "t" * 20})
    assert store.get(provider) == Secret("t" * 20)
    store = CredentialStore(environ={"MY_BOX_API_KEY": "generic-key-123456"})
    assert store.get(provider) == Secret("generic-key-123456")
    assert store.source(provider) == "environment (MY_BOX_API_KEY)"
    store = CredentialStore(environ={})
    assert store.get(provider) is None and store.source(provider) is None
    store.set("my-box", "file-key-123456789")
    assert store.source(provider) == "credentials.toml"


def test_unset_removes_only_that_provider() -> None:
    store = CredentialStore(environ={})
    store.set("zai", KEY)
    store.set("openrouter", "sk-or-v1-" + "b" * 40)
    assert store.unset("zai") is True
    assert store.get(ZAI) is None
    assert store.get(BUILTIN_PROVIDERS["openrouter"]) is not None
    assert store.unset("zai") is False
    assert store.stored_providers() == ("openrouter",)


def test_unset_without_a_file_writes_nothing() -> None:
    store = CredentialStore(environ={})
    assert store.unset("zai") is False
    assert not store.path.exists()


def test_set_strips_and_refuses_empty() -> None:
    store = CredentialStore(environ={})
    store.set("zai", f"  {KEY}\n")
    assert store.get(ZAI) == Secret(KEY)
    with pytest.raises(CredentialsError, match="empty"):
        store.set("zai", "   ")
    store.set("zai", Secret("sk-other-0123456789"))
    assert store.get(ZAI) == Secret("sk-other-0123456789")


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (f'[providers.zai]\napi_key = "{KEY}\n', ":2:"),  # unterminated string quoting a key
        (b"\xff\xfe", ""),
        ("providers = 3\n", ": providers: expected a table"),
        ("[providers]\nzai = 3\n", ": providers.zai: expected a table"),
        ("[providers.zai]\napi_key = 3\n", ": providers.zai: expected a table"),
    ],
)
def test_corrupt_file_is_a_clear_error_and_never_overwritten(
    content: str | bytes, where: str
) -> None:
    store = CredentialStore(environ={})
    store.path.parent.mkdir(parents=True)
    data = content.encode() if isinstance(content, str) else content
    store.path.write_bytes(data)
    os.chmod(store.path, 0o600)
    with pytest.raises(CredentialsError) as info:
        store.get(ZAI)
    message = str(info.value)
    assert message.startswith(str(store.path) + where)
    assert KEY not in message and "\n" not in message
    with pytest.raises(CredentialsError):
        store.set("zai", "sk-new-0123456789")
    with pytest.raises(CredentialsError):
        store.unset("zai")
    assert store.path.read_bytes() == data


def test_require_key() -> None:
    store = CredentialStore(environ={})
    with pytest.raises(MissingKeyError) as info:
        require_key(ZAI, store)
    assert (
        str(info.value) == "No API key for zai. Set ZAI_API_KEY or run: glmchat config set-key zai"
    )
    assert require_key(OLLAMA, store) is None  # a local server needs no key
    store.set("ollama", "ollama-key-123456")
    assert require_key(OLLAMA, store) == Secret("ollama-key-123456")
    store.set("zai", KEY)
    assert require_key(ZAI, store) == Secret(KEY)


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("sk-abc123_XYZ", True),
        ("0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOp", True),
        ("sk-abc\x1b[31mdef", False),  # a paste with terminal codes
        ("sk-abc\\x1b[31mdef", False),  # the same as the key box shows it
        ("sk abc", False),
        ("sk-\u00e9t\u00e9", False),
        ("", False),
    ],
)
def test_what_can_be_an_api_key(key: str, ok: bool, isolated: Path) -> None:
    # Found by QA: a pasted key with terminal codes in it was saved as it was.
    assert (key_problem(key) is None) is ok
    store = CredentialStore()
    if ok:
        store.set("zai", key)
        assert store.get(ZAI) is not None
    else:
        with pytest.raises(CredentialsError):
            store.set("zai", key)
        assert not paths.credentials_path().exists()
