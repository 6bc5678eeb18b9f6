"""The terminal closed under the app (SIGHUP: the window closed, `tmux kill-session`) or the app
was told to end (SIGTERM): it ends as the quit key ends it, without its question. Each pane
keeps its unsent prompt (the drafts are kept first, while the terminal may already be gone; a
conversation not saved yet is saved for it, see PaneDraft.keep_unasked),
an answer in flight is stopped and saved, the MCP servers stop. Found by QA: with no handler
either signal killed the process where it stood, and a closed window lost the box."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glmchat.tui.app import GlmChatApp

SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def end_on_signals(app: GlmChatApp) -> Callable[[], None]:
    """Handle SIGHUP and SIGTERM; returns what puts the previous handlers back (a headless
    test's app must not keep its process's).

    The handler is the interpreter's, not the event loop's: it runs even while the loop is
    stuck (a frame waiting to be written to a terminal nobody reads any more), asks the loop
    for the quit key's exit, and arms a watchdog. Found in the benchmarks: after tmux's
    kill-server one exit in three or four waited for ever on the terminal writer's queue."""
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, _frame: object) -> None:
        sig = signal.Signals(signum)
        _arm_watchdog(128 + sig)
        loop.call_soon_threadsafe(_end, app, sig)

    for sig in SIGNALS:
        try:
            previous[sig] = signal.signal(sig, on_signal)
        except (ValueError, OSError):  # not the main thread, or not a POSIX system
            continue

    def remove() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return remove


GRACE = 5.0
"""Seconds a clean exit has after the signal before the process ends anyway (drafts and the
answer in flight are saved in its first moments; what may hang is writing to a gone terminal)."""

_watchdog: list[threading.Timer] = []


def _arm_watchdog(status: int) -> None:
    if _watchdog:
        return  # a second signal changes nothing: the first one's deadline stands
    timer = threading.Timer(GRACE, os._exit, (status,))
    timer.daemon = True
    timer.start()
    _watchdog.append(timer)


def _end(app: GlmChatApp, sig: signal.Signals) -> None:
    for pane in app.panes:
        # Also a new conversation's (it is saved for it), and under the unsent-prompt question.
        pane.draft.keep_unasked()  # kept again as each pane unmounts, if the exit gets that far
    app.exit(return_code=128 + sig)
