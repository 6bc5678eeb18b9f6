"""Where glmchat keeps its files, and the one safe way it writes them."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from glmchat.errors import GlmchatError

APP_NAME = "glmchat"
CONFIG_DIR_ENV = "GLMCHAT_CONFIG_DIR"
DATA_DIR_ENV = "GLMCHAT_DATA_DIR"


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


# platformdirs is imported when a directory is first asked for, not by every command that
# imports this module (it and what it imports cost a few ms of each start).


def config_dir() -> Path:
    """The config directory: `GLMCHAT_CONFIG_DIR`, else the platform's user config dir."""
    found = _from_env(CONFIG_DIR_ENV)
    if found is None:
        import platformdirs

        found = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    return found


def data_dir() -> Path:
    """The data directory: `GLMCHAT_DATA_DIR`, else the platform's user data dir."""
    found = _from_env(DATA_DIR_ENV)
    if found is None:
        import platformdirs

        found = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return found


def config_path() -> Path:
    return config_dir() / "config.toml"


def credentials_path() -> Path:
    return config_dir() / "credentials.toml"


def database_path() -> Path:
    return data_dir() / "glmchat.db"


class FileWriteError(GlmchatError, OSError):
    """A file glmchat could not write. An OSError still (callers that handle one keep doing so,
    and `errno` says why); its message is one line naming the file and what to do, never the
    temporary file's name or a bare `[Errno 30]`."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = path
        self.message = cannot_write(path, cause)

    def __str__(self) -> str:
        return self.message


def _dir_setting(directory: Path) -> str | None:
    """The variable that moves `directory` elsewhere, when it is one of glmchat's own."""
    for name, default in ((CONFIG_DIR_ENV, config_dir), (DATA_DIR_ENV, data_dir)):
        with contextlib.suppress(OSError, RuntimeError):
            if directory.resolve() == default().resolve():
                return name
    return None


def _not_a_directory(path: Path) -> Path | None:
    """The nearest of `path`'s parents that exists and is not a directory."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def cannot_write(path: Path, cause: OSError) -> str:
    """`cause` (from writing `path`) as one line: which file, what went wrong, what to do."""
    directory = path.parent
    setting = _dir_setting(directory)
    elsewhere = f", or set {setting} to another directory" if setting else ""
    code = cause.errno
    if code == errno.EROFS:
        what = "the file system is read-only"
        todo = f"Set {setting} to a writable directory" if setting else "Write it elsewhere"
    elif code in (errno.EACCES, errno.EPERM):
        what = "permission denied"
        todo = f"Check the permissions of {directory}{elsewhere}"
    elif code in (errno.ENOSPC, errno.EDQUOT):
        what = "no space left on the device" if code == errno.ENOSPC else "disk quota exceeded"
        todo = f"Free some space and try again{elsewhere}"
    elif code in (errno.ENOTDIR, errno.EEXIST) and (blocker := _not_a_directory(path)):
        what = f"{blocker} is a file, not a directory"
        todo = f"Move it aside{elsewhere}"
    elif code == errno.EISDIR or path.is_dir():
        what = "it is a directory"
        todo = "Move it aside"
    else:
        what = (cause.strerror or str(cause)).rstrip(".")
        what = what[:1].lower() + what[1:]
        todo = f"Check {directory}{elsewhere}"
    return f"cannot write {path}: {what}. {todo}"


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that readers see the old file or the new one, never half.

    The temporary file is created with O_EXCL and its final `mode` from the start, so a
    secret is never readable by others, not even for a moment; parents are created 0700.
    A failure is a FileWriteError (an OSError) whose message names `path` and what to do."""
    try:
        _write_atomic(path, data, mode)
    except FileWriteError:
        raise
    except OSError as exc:
        raise FileWriteError(path, exc) from exc


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # os.urandom is what secrets.token_hex reads (without importing hmac and hashlib).
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, hence best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
