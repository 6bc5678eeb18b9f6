"""Command-line entry: argument parsing, dispatch, and the one-line error edge."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from glmchat import __version__
from glmchat.cli.errors import exit_status
from glmchat.errors import GlmchatError
from glmchat.terminal_text import terminal_safe_stdio

# Each command's module, and the one line `glmchat --help` shows for it. A command's module is
# imported, and its parser built, only when that command is chosen: building them all imported
# the whole CLI (config, store, tools: 60 ms) before `--version`, `usage` or the chat screen.
COMMANDS: dict[str, tuple[str, str]] = {
    "ask": ("glmchat.cli.ask", "one exchange, streamed to stdout"),
    "sessions": (
        "glmchat.cli.sessions",
        "list, search, show, fork, export, import, rename or delete saved conversations",
    ),
    "config": ("glmchat.cli.config_cmd", "show or change settings and API keys"),
    "models": (
        "glmchat.cli.models",
        "the models of a provider: context, max output, thinking, prices",
    ),
    "tools": ("glmchat.cli.tools_cmd", "list the tools the model is offered"),
    "usage": ("glmchat.cli.usage_cmd", "tokens and cost by day, model or conversation"),
    "serve": ("glmchat.cli.serve_cmd", "the chat app in a browser (textual-serve), behind a token"),
}


if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # generic only to the type checker
    _SubParsers = argparse._SubParsersAction


class _Reporting(_SubParsers):
    """Subcommands whose unknown arguments are reported by the subcommand's own parser
    (`glmchat sessions list: unrecognized arguments: --bogus`), not by the top level's
    ("glmchat: ...", which named the wrong command and its --help)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        super().__call__(parser, namespace, values, option_string)
        extras = getattr(namespace, argparse._UNRECOGNIZED_ARGS_ATTR, None)
        name = values[0] if isinstance(values, list) and values else None
        chosen = self._name_parser_map.get(name) if isinstance(name, str) else None
        if extras and chosen is not None:
            chosen.error(f"unrecognized arguments: {' '.join(extras)}")


class _Commands(_Reporting):
    """Subcommands listed by name and help line, each filled in by its module's `register`
    when argparse reaches it (so `glmchat CMD --help` still shows the command's own options)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unbuilt: dict[str, str] = {}  # command -> module whose `register` builds it
        # One empty parser stands in for every command not built yet (argparse checks a choice
        # against the map's keys): a parser each cost a few gettext look-ups on disk (2 ms).
        self._stand_in = argparse.ArgumentParser(add_help=False)

    def add_command(self, name: str, module: str, help: str) -> None:
        self._unbuilt[name] = module
        self._name_parser_map[name] = self._stand_in  # a valid choice
        self._choices_actions.append(self._ChoicesPseudoAction(name, (), help))  # --help's line

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        # The module's real parser takes the stand-in's place (its help line stays listed).
        self._name_parser_map.pop(name, None)
        return super().add_parser(name, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        name = values[0] if isinstance(values, list) and values else None
        module = self._unbuilt.pop(name, None) if isinstance(name, str) else None
        if module is not None:
            importlib.import_module(module).register(self)
        super().__call__(parser, namespace, values, option_string)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are one line like every other error of glmchat
    (argparse prints the whole usage block first); `--help` still shows it. Subcommands'
    parsers are of this class too (argparse makes them of their parent's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _Reporting)  # the subcommands' own subcommands

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", action=_Commands)
    assert isinstance(sub, _Commands)
    for name, (module, line) in COMMANDS.items():
        sub.add_command(name, module, line)
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
