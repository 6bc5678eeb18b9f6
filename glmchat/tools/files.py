"""The read_file and list_dir built-ins: text files and listings inside the allowed directories.

A path is resolved first (`..`, symbolic links and all) and only then checked against the
allowed directories, so no spelling of a path and no link leads out of them; the file is then
opened without following a link in its last part, so one swapped in after the check is refused."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glmchat.tools.base import ToolOutput, ToolSpec

# A listing longer than this is cut (a node_modules the model asked for by mistake).
MAX_ENTRIES = 500
_SNIFF = 8192  # bytes looked at for a NUL, the mark of a binary file


class Refused(Exception):
    """A call the tool will not do; the message is the one line the model and the user see."""


def size_text(size: int) -> str:
    """`64 KB` for a whole number of KB, else `1500 bytes`."""
    return f"{size // 1024} KB" if size >= 1024 and size % 1024 == 0 else f"{size} bytes"


def allowed_roots(dirs: Sequence[str], cwd: Path | None = None) -> tuple[Path, ...]:
    """`[tools].allowed_dirs` as absolute, resolved directories (relative ones from `cwd`)."""
    base = cwd or Path.cwd()
    roots: list[Path] = []
    for entry in dirs:
        root = (base / Path(entry).expanduser()).resolve()
        if root not in roots:
            roots.append(root)
    return tuple(roots)


class _Confined:
    """What both tools share: the allowed roots and the path check."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = tuple(roots)

    def _where(self) -> str:
        return ", ".join(str(root) for root in self.roots) or "(none configured)"

    def resolve(self, raw: object) -> Path:
        """The real path `raw` names, if it lies inside an allowed directory; else Refused.
        A relative path is taken from the first allowed directory."""
        if not isinstance(raw, str) or not raw.strip():
            raise Refused("give a path as a non-empty string")
        if not self.roots:
            raise Refused("no directories are allowed ([tools].allowed_dirs is empty)")
        if "\0" in raw:
            raise Refused("a path cannot contain a NUL character")
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = self.roots[0] / path
        try:
            real = path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, say
            raise Refused(f"{raw}: cannot resolve the path ({exc})") from None
        if not any(real == root or root in real.parents for root in self.roots):
            raise Refused(
                f"{raw} is outside the allowed directories ({self._where()}); "
                "only paths inside them can be read"
            )
        return real


def _path_param(roots: Sequence[Path], note: str = "") -> dict[str, str]:
    root = str(roots[0]) if roots else "the allowed directory"
    return {"type": "string", "description": f"A path, absolute or relative to {root}{note}"}


class ReadFile(_Confined):
    """Reads a UTF-8 text file, from a given line on, up to a size cap."""

    def __init__(self, roots: Sequence[Path], max_bytes: int) -> None:
        super().__init__(roots)
        self.max_bytes = max_bytes
        self.spec = ToolSpec(
            name="read_file",
            title="read_file",
            description=(
                "Read a text file. Only files inside these directories can be read: "
                f"{self._where()}. Long files are cut; read on with start_line."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "path": _path_param(self.roots),
                    "start_line": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "The first line to read (1 is the start of the file)",
                    },
                },
                "required": ["path"],
            },
            read_only=True,
        )

    async def call(self, arguments: dict[str, Any]) -> ToolOutput:
        try:
            start = arguments.get("start_line", 1)
            if isinstance(start, bool) or not isinstance(start, int) or start < 1:
                raise Refused("start_line must be a whole number from 1")
            path = self.resolve(arguments.get("path"))
            text = await asyncio.to_thread(self._read, path, start, str(arguments["path"]))
        except Refused as exc:
            return ToolOutput(f"read_file: {exc}", is_error=True)
        return ToolOutput(text)

    def _read(self, path: Path, start: int, shown: str) -> str:
        try:
            # O_NOFOLLOW: the checked path has no link in it, and must not get one now;
            # O_NONBLOCK: opening a FIFO must not hang (it is refused just below).
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise Refused(f"{shown}: no such file") from None
        except IsADirectoryError:
            raise Refused(f"{shown} is a directory; use list_dir") from None
        except OSError as exc:
            raise Refused(f"{shown}: cannot open ({exc.strerror or exc})") from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise Refused(f"{shown} is a directory; use list_dir")
            if not stat.S_ISREG(info.st_mode):
                raise Refused(f"{shown} is not a regular file")
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as handle:
            skipped = 0
            for _ in range(start - 1):
                if not handle.readline():
                    raise Refused(f"{shown} has only {skipped} lines")
                skipped += 1
            data = handle.read(self.max_bytes + 1)
        if b"\0" in data[:_SNIFF]:
            raise Refused(f"{shown} is a binary file ({info.st_size} bytes); read_file reads text")
        cut = len(data) > self.max_bytes
        data = data[: self.max_bytes]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A cut through a character's bytes at the end is not a reason to refuse.
            if not (cut and exc.start >= len(data) - 3):
                raise Refused(f"{shown} is not UTF-8 text; read_file reads text") from None
            text = data[: exc.start].decode("utf-8")
        if not cut:
            return text
        cap = size_text(self.max_bytes)
        whole_lines = text[: text.rfind("\n") + 1]
        if not whole_lines:
            return (
                f"{text}\n[read_file: cut at {cap}: line {start} of this {info.st_size}-byte "
                "file is longer than that, so the rest of it cannot be read]"
            )
        next_line = start + whole_lines.count("\n")
        return (
            f"{whole_lines}\n[read_file: cut at {cap} of a {info.st_size}-byte file; "
            f"read on with start_line={next_line}]"
        )


class ListDir(_Confined):
    """Lists a directory: subdirectories with a trailing `/`, files with their size."""

    def __init__(self, roots: Sequence[Path]) -> None:
        super().__init__(roots)
        self.spec = ToolSpec(
            name="list_dir",
            title="list_dir",
            description=(
                "List the entries of a directory (directories end in /, links in @). Only "
                f"directories inside these can be listed: {self._where()}."
            ),
            parameters={
                "type": "object",
                "properties": {"path": _path_param(self.roots, " (default: that directory)")},
            },
            read_only=True,
        )

    async def call(self, arguments: dict[str, Any]) -> ToolOutput:
        raw = arguments.get("path", ".")
        try:
            path = self.resolve(raw)
            text = await asyncio.to_thread(self._list, path, str(raw))
        except Refused as exc:
            return ToolOutput(f"list_dir: {exc}", is_error=True)
        return ToolOutput(text)

    def _list(self, path: Path, shown: str) -> str:
        try:
            with os.scandir(path) as entries:
                found = sorted(entries, key=lambda entry: entry.name)
        except FileNotFoundError:
            raise Refused(f"{shown}: no such directory") from None
        except NotADirectoryError:
            raise Refused(f"{shown} is a file; use read_file") from None
        except OSError as exc:
            raise Refused(f"{shown}: cannot list ({exc.strerror or exc})") from None
        lines = [f"{path}:"]
        for entry in found[:MAX_ENTRIES]:
            lines.append(_entry_line(entry))
        if not found:
            lines.append("(empty)")
        if len(found) > MAX_ENTRIES:
            lines.append(f"[list_dir: {len(found) - MAX_ENTRIES} more entries not shown]")
        return "\n".join(lines)


def _entry_line(entry: os.DirEntry[str]) -> str:
    try:
        if entry.is_symlink():
            return f"{entry.name}@"
        if entry.is_dir(follow_symlinks=False):
            return f"{entry.name}/"
        return f"{entry.name}  {entry.stat(follow_symlinks=False).st_size} bytes"
    except OSError:
        return entry.name
