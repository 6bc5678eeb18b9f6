"""Start the TUI from the command line: settings, stores, then the app."""

from __future__ import annotations

import argparse
import os
import sys

from glmchat.cli.errors import CliError


def _require_a_terminal() -> None:
    # Without a terminal Textual has no keys to read or nowhere to draw: its input loop spins
    # on a closed or piped stdin (97% CPU, for ever). Say so at once instead.
    missing = [name for fd, name in ((0, "stdin"), (1, "stdout")) if not os.isatty(fd)]
    if missing:
        raise CliError(
            f"the chat screen needs a terminal, and {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not one; "
            'in scripts and pipes use: glmchat ask "PROMPT"',
            2,
        )


def launch(args: argparse.Namespace) -> int:
    _require_a_terminal()
    from glmchat import paths
    from glmchat.config import ConfigError, load_settings
    from glmchat.credentials import CredentialStore
    from glmchat.store import SessionStore, StoreError

    try:
        settings = load_settings()
        if args.model:
            settings.resolve_model(args.model)
    except ConfigError as exc:
        raise CliError(str(exc), 2) from None
    try:
        store = SessionStore(paths.database_path())
    except StoreError as exc:
        raise CliError(str(exc), 2) from None
    resume = None
    if args.resume is not None:
        try:
            conversation = (
                store.get_conversation(args.resume) if args.resume else store.most_recent()
            )
        except StoreError as exc:
            raise CliError(str(exc), 2) from None
        if conversation is None:
            raise CliError("no saved conversation to resume; run glmchat to start one", 2)
        resume = conversation.id
    from glmchat.tui.app import GlmChatApp

    app = GlmChatApp(
        settings, store=store, credentials=CredentialStore(), resume=resume, model=args.model
    )
    try:
        app.run()
    finally:
        store.close()
    for warning in settings.warnings:
        print(f"glmchat: warning: {warning}", file=sys.stderr)
    return app.return_code or 0
