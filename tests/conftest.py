"""Shared fixtures: isolated config and data dirs, and the loopback wire server."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmchat.store import SessionStore
from tests.wire_server import WireServer


@pytest.fixture(autouse=True)
def unfrozen_gc() -> Iterator[None]:
    """The app freezes its start-up objects out of the garbage collector's way; a test
    process starts many apps, so give each test's objects back to the collector."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the real home: config and data live in the test's tmp dir, no keys leak in."""
    monkeypatch.setenv("GLMCHAT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GLMCHAT_DATA_DIR", str(tmp_path / "data"))
    for var in (
        "ZAI_API_KEY",
        "OPENROUTER_API_KEY",
        "BIGMODEL_API_KEY",
        "ZAI_CODING_API_KEY",
        "OLLAMA_API_KEY",
        "OPENAI_API_KEY",
        "GLMCHAT_MODEL",
        "GLMCHAT_DEBUG",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def db_path(isolated_dirs: Path) -> Path:
    """Where the app keeps its database in this test (GLMCHAT_DATA_DIR/glmchat.db)."""
    return isolated_dirs / "data" / "glmchat.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SessionStore]:
    """The session store the app and the CLI would open in this test."""
    s = SessionStore(db_path)
    yield s
    s.close()


@pytest.fixture
def wire() -> Iterator[WireServer]:
    server = WireServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def zai(wire: WireServer, monkeypatch: pytest.MonkeyPatch) -> WireServer:
    """The zai provider pointed at the wire server, with a key in the environment."""
    from glmchat.config import save_value
    from tests.tui_helpers import API_KEY

    monkeypatch.setenv("ZAI_API_KEY", API_KEY)
    save_value("providers.zai.base_url", wire.url)
    return wire
