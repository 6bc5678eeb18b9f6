"""`glmchat` and `glmchat --resume`: settings, stores, then the chat screen (glmchat/tui)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import TYPE_CHECKING

from glmchat.cli.errors import CliError

if TYPE_CHECKING:
    from glmchat.store import SessionStore


# The driver textual-serve (and textual-web) names in the environment of each app it starts:
# stdin and stdout are then pipes that carry its packet protocol, read by that driver, not a
# terminal's keys (textual_serve/app_service.py, _build_environment).
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def _require_a_terminal() -> None:
    # Without a terminal Textual has no keys to read or nowhere to draw: its input loop spins
    # on a closed or piped stdin (97% CPU, for ever). Say so at once instead. Under the web
    # driver the pipes are the browser's terminal, and at their end its input loop stops.
    if os.environ.get("TEXTUAL_DRIVER", "").strip() == WEB_DRIVER:
        return
    missing = [name for fd, name in ((0, "stdin"), (1, "stdout")) if not os.isatty(fd)]
    if missing:
        raise CliError(
            f"the chat screen needs a terminal, and {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not one; "
            'in scripts and pipes use: glmchat ask "PROMPT"'
        )


def launch(args: argparse.Namespace) -> int:
    _require_a_terminal()
    # Start-up makes some 70,000 tracked objects that live as long as the app (Textual's
    # modules, the styles, the widgets); the collector walked them again and again on the way
    # to the first paint (25-40 ms). It is off until the last step of the app's warm-up,
    # after that paint, which collects once and freezes what lives on (tui/warm_up.py).
    gc.disable()
    from glmchat import paths
    from glmchat.config import load_settings
    from glmchat.credentials import CredentialStore
    from glmchat.store import SessionStore

    # A config or store problem goes up to the edge as it is (one line, exit 2).
    settings = load_settings()
    if args.model:
        settings.resolve_model(args.model)
    store = SessionStore(paths.database_path())
    try:
        resume = _resume_id(store, args.resume)
        from glmchat.tui.app import GlmChatApp

        app = GlmChatApp(
            settings, store=store, credentials=CredentialStore(), resume=resume, model=args.model
        )
        app.run()
    finally:
        store.close()
    for warning in settings.warnings:
        print(f"glmchat: warning: {warning}", file=sys.stderr)
    return app.return_code or 0


def _resume_id(store: SessionStore, wanted: str | None) -> str | None:
    """The conversation `--resume [ID]` names (no ID: the most recent), None without it."""
    if wanted is None:
        return None
    # Only the id: the pane reads the conversation once, when it opens it.
    conversation_id = store.resolve_id(wanted) if wanted else store.most_recent_id()
    if conversation_id is None:
        raise CliError("no saved conversation to resume; run glmchat to start one")
    return conversation_id
