"""The command line's errors and exit statuses: decided here, at the edge, not by each layer."""

from __future__ import annotations

from glmchat.errors import GlmchatError

USAGE = 2  # DESIGN.md: usage or config error


class CliError(GlmchatError):
    """Raised anywhere under a subcommand; `main` prints it as one line and exits."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_status(exc: GlmchatError) -> int:
    """The exit status of an error that reached the edge (DESIGN.md's table)."""
    if isinstance(exc, CliError):
        return exc.exit_code
    # Imported here, not at the top, so that `glmchat --version` and `--help` stay light.
    from glmchat.config import ConfigError
    from glmchat.credentials import MissingKeyError

    # A bad config.toml or credentials.toml, or a missing key: the user's to fix, like usage.
    if isinstance(exc, ConfigError | MissingKeyError):
        return USAGE
    return 1
