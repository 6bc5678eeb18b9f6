"""The terminal closed under the app (SIGHUP: the window closed, `tmux kill-session`) or the app
was told to end (SIGTERM): it ends as the quit key ends it, without its question. Each pane
keeps its unsent prompt (the drafts are kept first, while the terminal may already be gone; a
conversation not saved yet is saved for it, see PaneDraft.keep_unasked),
an answer in flight is stopped and saved, the MCP servers stop. Found by QA: with no handler
either signal killed the process where it stood, and a closed window lost the box."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glmchat.tui.app import GlmChatApp

SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def end_on_signals(app: GlmChatApp) -> Callable[[], None]:
    """Handle SIGHUP and SIGTERM on the app's loop; returns what takes the handlers off again
    (a headless test's app must not keep its process's)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in SIGNALS:
        try:
            loop.add_signal_handler(sig, _end, app, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            continue
        installed.append(sig)

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove


def _end(app: GlmChatApp, sig: signal.Signals) -> None:
    for pane in app.panes:
        # Also a new conversation's (it is saved for it), and under the unsent-prompt question.
        pane.draft.keep_unasked()  # kept again as each pane unmounts, if the exit gets that far
    app.exit(return_code=128 + sig)
