"""Command-line entry: argument parsing, dispatch, and the one-line error edge."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from glmchat import __version__
from glmchat.cli.errors import exit_status
from glmchat.errors import GlmchatError
from glmchat.terminal_text import terminal_safe_stdio


def build_parser() -> argparse.ArgumentParser:
    from glmchat.cli import ask, config_cmd, models, serve_cmd, sessions, tools_cmd, usage_cmd

    parser = argparse.ArgumentParser(
        prog="glmchat",
        description="A fast terminal chat client for GLM-4.5 models.",
    )
    parser.add_argument("--version", action="version", version=f"glmchat {__version__}")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="ID",
        help="open a saved conversation (no ID: the most recent)",
    )
    parser.add_argument("-m", "--model", help="model as PROVIDER/MODEL for new conversations")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ask.register(sub)
    sessions.register(sub)
    config_cmd.register(sub)
    models.register(sub)
    tools_cmd.register(sub)
    usage_cmd.register(sub)
    serve_cmd.register(sub)
    parser.set_defaults(func=run_tui)
    return parser


def run_tui(args: argparse.Namespace) -> int:
    from glmchat.cli.launch import launch

    return launch(args)


@contextmanager
def _debug_log() -> Iterator[None]:
    # Without GLMCHAT_DEBUG nothing is set up (and `logging` is not even imported here): glmchat
    # logs only at DEBUG, below Python's default level, so no record is shown.
    if not os.environ.get("GLMCHAT_DEBUG"):
        yield
        return
    from glmchat.cli.debug_log import stderr_log

    with stderr_log():
        yield


def main(argv: Sequence[str] | None = None) -> int:
    # Everything printed from here on (answers, stored titles, provider errors, argparse's
    # messages) passes one chokepoint that keeps escape sequences off a terminal.
    with terminal_safe_stdio(), _debug_log():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GlmchatError as exc:
        # A config error lists every problem, one per line; each line stands on its own.
        for line in str(exc).split("\n"):
            print(f"glmchat: {line}", file=sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        print("glmchat: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the edge: never a traceback unless asked for
        if os.environ.get("GLMCHAT_DEBUG"):
            import logging

            logging.getLogger("glmchat.cli").debug("unexpected error", exc_info=True)
        print(
            f"glmchat: unexpected error: {type(exc).__name__}: {exc}"
            " (set GLMCHAT_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1
