"""GLMCHAT_DEBUG: glmchat's log, tracebacks included, on stderr for one command."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is when a record arrives: the terminal-safe wrapper of
    the command line, Textual's capture while the chat screen runs (a stream fixed at start
    would draw over the screen)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always sys.stderr; see the property


@contextmanager
def stderr_log() -> Iterator[None]:
    """Every `glmchat.*` logger's records, from DEBUG up, go to stderr while this is open."""
    root = logging.getLogger("glmchat")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("glmchat: debug: %(name)s: %(message)s"))
    level, propagate = root.level, root.propagate
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    root.propagate = False  # once is enough, whatever the host process has set up
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        root.propagate = propagate
