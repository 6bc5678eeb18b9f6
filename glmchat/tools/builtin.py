"""The built-in tools, made from `[tools]`: each one is offered only when `builtin` lists it."""

from __future__ import annotations

from pathlib import Path

from glmchat.tools.base import Tool, ToolSettings
from glmchat.tools.fetch import FetchUrl, address_problem, allow_all
from glmchat.tools.files import ListDir, ReadFile, allowed_roots


def builtin_tools(settings: ToolSettings, cwd: Path | None = None) -> list[Tool]:
    """The built-ins `settings.builtin` names, in that order; `allowed_dirs` are resolved
    against `cwd` (the current directory when None) once, here."""
    if not settings.builtin:
        return []
    max_bytes = settings.max_result_kb * 1024
    roots = allowed_roots(settings.allowed_dirs, cwd)
    made: dict[str, Tool] = {}
    for name in settings.builtin:
        if name == "read_file":
            made[name] = ReadFile(roots, max_bytes)
        elif name == "list_dir":
            made[name] = ListDir(roots)
        elif name == "fetch_url":
            policy = allow_all if settings.fetch_private else address_problem
            made[name] = FetchUrl(max_bytes, policy=policy)
    return list(made.values())
