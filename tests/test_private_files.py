"""What glmchat writes that holds conversation text or keys is readable only by its owner
(mode 0600): the TUI's exports like `sessions export -o`, config and credentials files."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmchat import paths
from glmchat.config import save_value
from glmchat.credentials import CredentialStore
from glmchat.store import SessionStore
from tests.test_tui_palette import run_command
from tests.tui_helpers import active, running, screen_text, send, wait_for_stream, wait_until
from tests.wire_server import WireServer, fixture_reply


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask (022), whatever the test runner's: without care files come out 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_tui_exports_are_readable_only_by_the_owner(
    zai: WireServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    monkeypatch.chdir(tmp_path)
    zai.reply(fixture_reply("zai_thinking_stream"))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "17 x 23?")
        await wait_for_stream(pilot)
        cid = pane.conversation_id
        markdown, document = tmp_path / f"glmchat-{cid}.md", tmp_path / f"glmchat-{cid}.json"
        document.write_text("an older export, world-readable")
        document.chmod(0o644)
        await run_command(pilot, "Export conversation as Markdown")
        await run_command(pilot, "Export conversation as JSON")
        await wait_until(pilot, lambda: document.read_text().startswith("{"), "the JSON export")
    assert "17 x 23?" in markdown.read_text()
    assert json.loads(document.read_text())["id"] == cid  # the older file replaced, whole
    assert (mode(markdown), mode(document)) == (0o600, 0o600)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


async def test_a_tui_export_that_cannot_be_written_says_where_and_what_to_do(
    zai: WireServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    zai.reply(fixture_reply("zai_thinking_stream"))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "17 x 23?")
        await wait_for_stream(pilot)
        target = here / f"glmchat-{pane.conversation_id}.md"
        target.mkdir()  # something in the way
        await run_command(pilot, "Export conversation as Markdown")
        said = f"Export failed: cannot write {target}: it is a directory. Move it aside"
        await wait_until(
            pilot,
            lambda: said in " ".join(n.message for n in pilot.app._notifications),
            "the failure toast",
        )
        assert "Errno" not in screen_text(pilot.app)


def test_config_and_credentials_are_readable_only_by_the_owner(loose_umask: None) -> None:
    save_value("temperature", "0.5")
    CredentialStore().set("zai", "sk-live-0123456789abcdefWXYZ")
    assert mode(paths.config_path()) == 0o600
    assert mode(paths.credentials_path()) == 0o600
    assert mode(paths.config_dir()) == 0o700


def test_the_database_and_its_wal_files_are_readable_only_by_the_owner(
    loose_umask: None, store: SessionStore, db_path: Path
) -> None:
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
    store.add_message(cid, "user", "a private question", provider="zai", model="glm-4.5")
    files = [db_path.with_name(db_path.name + suffix) for suffix in ("", "-wal", "-shm")]
    assert all(f.exists() for f in files)  # open: WAL mode keeps the new text in -wal
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert mode(db_path.parent) == 0o700
