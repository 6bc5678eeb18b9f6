"""What `ask` sends: PROMPT, piped stdin, or both; and its flags, checked by the config's rules."""

from __future__ import annotations

import argparse
import re
from typing import TextIO

from glmchat.cli.errors import CliError


def read_prompt(arg: str | None, stdin: TextIO | None) -> str:
    """The prompt to send: PROMPT, stdin (for '-' or no PROMPT), or both.

    PROMPT with piped text sends the instruction first and the text after it in a fence, as
    `llm` does; dropping either would lose what the user gave."""
    if stdin is None:  # no stdin at all (a closed fd 0)
        if arg is None or arg == "-":
            raise CliError("no prompt: give PROMPT, '-' to read stdin, or pipe text in", 2)
        return arg
    if arg == "-":
        return _read(stdin)  # typed at a terminal until end-of-file, or piped
    if _nothing_piped(stdin):
        if arg is None:
            raise CliError("no prompt: give PROMPT, '-' to read stdin, or pipe text in", 2)
        return arg
    text = _read(stdin)
    if arg is None:
        return text
    if not text.strip():
        return arg  # `ask "q" < /dev/null`, or an empty pipe: the instruction alone
    return f"{arg}\n\n{fence(text)}"


def _nothing_piped(stdin: TextIO) -> bool:
    try:
        return stdin.isatty()
    except (ValueError, OSError):  # a closed stdin has nothing to give either
        return True


def _read(stdin: TextIO) -> str:
    try:
        text = stdin.read()
        # Under a C locale undecodable bytes arrive as surrogates; they are not text either.
        text.encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        raise CliError(
            f"stdin is not UTF-8 text (at position {exc.start}); convert it first, "
            "e.g. with iconv -f latin1 -t utf-8",
            2,
        ) from None
    return text


def fence(text: str) -> str:
    """`text` in a Markdown code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{marks}\n{body}{marks}"


def flag_values(args: argparse.Namespace) -> tuple[float | None, int | None]:
    """--temperature and --max-tokens checked by the rules `config set` uses (exit 2)."""
    from glmchat.config import parse_setting

    # A bad value is a ConfigError: the edge prints it and exits 2.
    temperature = (
        None
        if args.temperature is None
        else parse_setting("temperature", args.temperature, "--temperature")
    )
    max_tokens = (
        None
        if args.max_tokens is None
        else parse_setting("max_tokens", args.max_tokens, "--max-tokens")
    )
    return temperature, max_tokens
