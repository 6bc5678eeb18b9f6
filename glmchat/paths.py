"""Where glmchat keeps its files, and the one safe way it writes them."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

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


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that readers see the old file or the new one, never half.

    The temporary file is created with O_EXCL and its final `mode` from the start, so a
    secret is never readable by others, not even for a moment; parents are created 0700."""
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
