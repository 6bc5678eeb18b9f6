"""A file glmchat cannot write (a read-only file system, no permission, a full disk, a file
where a directory should be) is one line naming the file and what to do, exit 2: for
config.toml, its backup, credentials.toml and the TUI's key dialog. Tests run as root, where
permission bits stop nothing, so the failures are injected at the system calls (creating the
temporary file, writing it, renaming it into place) or made real with a file in the way."""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from glmchat import paths
from glmchat.cli import main
from glmchat.credentials import CredentialStore
from glmchat.paths import FileWriteError, write_atomic
from glmchat.tui.screens.key_prompt import KeyPrompt
from tests.tui_helpers import glm, running, screen_text, send, wait_until

KEY = "sk-live-0123456789abcdefWXYZ"

# errno, and words the line must hold: what happened, then what to do.
ERRORS = {
    "EROFS": (errno.EROFS, "the file system is read-only", "Set GLMCHAT_CONFIG_DIR"),
    "EACCES": (errno.EACCES, "permission denied", "Check the permissions of"),
    "EPERM": (errno.EPERM, "permission denied", "Check the permissions of"),
    "ENOSPC": (errno.ENOSPC, "no space left on the device", "Free some space"),
    "EDQUOT": (errno.EDQUOT, "disk quota exceeded", "Free some space"),
}
STEPS = ("create", "write", "rename")


@pytest.fixture(autouse=True)
def restore_stdin() -> Iterator[None]:
    saved = sys.stdin
    yield
    sys.stdin = saved


def _is_temporary(path: object) -> bool:
    return str(path).endswith(".tmp")


@pytest.fixture
def fail_writes(monkeypatch: pytest.MonkeyPatch) -> Callable[[int, str], None]:
    """`fail(code, step)`: every atomic write fails with `code` at `step` of its temporary
    file (created, written, renamed into place); other files are left alone."""

    def fail(code: int, step: str) -> None:
        real_open, real_write, real_replace = os.open, os.write, os.replace
        ours: set[int] = set()

        def fake_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
            if step == "create" and _is_temporary(path):
                raise OSError(code, os.strerror(code), str(path))
            fd = real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]
            if _is_temporary(path):
                ours.add(fd)
            return fd

        def fake_write(fd: int, data: bytes) -> int:
            if step == "write" and fd in ours:
                raise OSError(code, os.strerror(code))
            return real_write(fd, data)

        def fake_replace(src: object, dst: object, **kwargs: object) -> None:
            if step == "rename" and _is_temporary(src):
                raise OSError(code, os.strerror(code), str(src), str(dst))
            real_replace(src, dst, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "write", fake_write)
        monkeypatch.setattr(os, "replace", fake_replace)

    return fail


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)  # restored by restore_stdin
    code = main(["config", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clear_line(err: str, path: Path, what: str, todo: str) -> None:
    [line] = err.splitlines()
    assert line.startswith(f"glmchat: cannot write {path}: {what}. {todo}"), line
    # Not the internals: no errno number, temporary name or exception class.
    assert "Errno" not in line and ".tmp" not in line and "unexpected" not in line


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("name", list(ERRORS))
def test_config_set_that_cannot_write_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    fail_writes: Callable[[int, str], None],
    name: str,
    step: str,
) -> None:
    assert run(capsys, "set", "temperature", "0.5")[0] == 0
    before = paths.config_path().read_bytes()
    code, what, todo = ERRORS[name]
    fail_writes(code, step)
    status, out, err = run(capsys, "set", "temperature", "1")
    assert status == 2 and out == ""
    assert_one_clear_line(err, paths.config_path(), what, todo)
    assert paths.config_path().read_bytes() == before  # the old file, whole
    assert leftovers(paths.config_dir()) == []


@pytest.mark.parametrize("name", list(ERRORS))
def test_set_key_and_unset_key_that_cannot_write_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], fail_writes: Callable[[int, str], None], name: str
) -> None:
    assert run(capsys, "set-key", "zai", stdin=KEY)[0] == 0
    before = paths.credentials_path().read_bytes()
    code, what, todo = ERRORS[name]
    fail_writes(code, "rename")
    for argv, stdin in ((("set-key", "openrouter"), KEY), (("unset-key", "zai"), None)):
        status, out, err = run(capsys, *argv, stdin=stdin)
        assert status == 2 and out == ""
        assert_one_clear_line(err, paths.credentials_path(), what, todo)
        assert KEY not in err and "0123" not in err
    assert paths.credentials_path().read_bytes() == before
    assert leftovers(paths.config_dir()) == []


@pytest.mark.parametrize(
    ("text", "key", "written"),
    [
        # A key added to a table written inline: the file is rewritten, after its backup.
        ("# mine\nui = { compact = true }\n", "ui.refresh_rate", "config.toml.bak"),
        # A value changed where it is written: no backup, the file itself.
        ("# mine\ntemperature = 0.5\n", "temperature", "config.toml"),
    ],
)
def test_a_config_write_that_fails_names_its_file_and_changes_nothing(
    capsys: pytest.CaptureFixture[str],
    fail_writes: Callable[[int, str], None],
    text: str,
    key: str,
    written: str,
) -> None:
    config = paths.config_path()
    config.parent.mkdir(parents=True)
    config.write_text(text)
    fail_writes(errno.ENOSPC, "write")
    status, _, err = run(capsys, "set", key, "1")
    assert status == 2
    assert_one_clear_line(
        err, config.with_name(written), "no space left on the device", "Free some space"
    )
    assert config.read_text() == text
    assert not config.with_name("config.toml.bak").exists()


def test_a_file_where_the_directory_should_be(tmp_path: Path) -> None:
    blocker = tmp_path / "notes"
    blocker.write_text("not a directory")
    target = blocker / "glmchat" / "config.toml"
    with pytest.raises(FileWriteError) as caught:
        write_atomic(target, b"x")
    assert str(caught.value) == (
        f"cannot write {target}: {blocker} is a file, not a directory. Move it aside"
    )
    assert blocker.read_text() == "not a directory"


def test_a_directory_where_the_file_should_be(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.mkdir()
    with pytest.raises(OSError) as caught:  # still an OSError for callers that handle one
        write_atomic(target, b"x")
    assert str(caught.value) == f"cannot write {target}: it is a directory. Move it aside"
    assert caught.value.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST)
    assert leftovers(tmp_path) == []


def test_a_place_outside_glmchat_s_directories_gets_no_variable_to_set(
    tmp_path: Path, fail_writes: Callable[[int, str], None]
) -> None:
    fail_writes(errno.EROFS, "create")
    target = tmp_path / "elsewhere" / "export.md"
    with pytest.raises(FileWriteError) as caught:
        write_atomic(target, b"x")
    assert str(caught.value) == (
        f"cannot write {target}: the file system is read-only. Write it elsewhere"
    )


async def test_the_key_dialog_says_which_file_and_what_to_do(
    fail_writes: Callable[[int, str], None],
) -> None:
    fail_writes(errno.EROFS, "create")
    credentials = CredentialStore().path
    async with running() as pilot:
        app = glm(pilot)
        await send(pilot, "hi")
        await wait_until(pilot, lambda: isinstance(app.screen, KeyPrompt), "the key dialog")
        await pilot.press(*"sk-typed-12345678")
        await pilot.click("#save")
        await wait_until(pilot, lambda: "Could not save" in screen_text(app), "the error line")
        said = str(app.screen.query_one("#key-status", Static).render())  # wraps on screen
        assert said == (
            f"Could not save the key: cannot write {credentials}: the file system is "
            "read-only. Set GLMCHAT_CONFIG_DIR to a writable directory"
        )
        # The dialog stays, with what was typed, to try again.
        assert isinstance(app.screen, KeyPrompt)
        assert app.screen.query_one("#key").value == "sk-typed-12345678"  # type: ignore[attr-defined]
    assert not credentials.exists()


def test_an_export_that_cannot_be_written_is_one_line(
    fail_writes: Callable[[int, str], None],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # `sessions export -o` said only "Read-only file system", without what to do.
    from glmchat.store import SessionStore

    with SessionStore(paths.database_path()) as store:
        cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
        store.add_message(cid, "user", "hello")
    target = tmp_path / "out.md"
    fail_writes(errno.ENOSPC, "write")
    assert main(["sessions", "export", cid, "-o", str(target)]) == 2
    err = capsys.readouterr().err
    said = f"cannot write {target}: no space left on the device. Free some space and try again"
    assert err == f"glmchat: {said}\n"
    assert not target.exists() and not list(tmp_path.glob("*.tmp"))
