"""The CLI's own error: one line for the user and an exit status."""

from __future__ import annotations


class CliError(Exception):
    """Raised anywhere under a subcommand; `main` prints it as one line and exits."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
