"""The command line's errors and exit statuses: decided here, at the edge, not by each layer."""

from __future__ import annotations

from glmchat.errors import GlmchatError

OK = 0
USAGE = 2  # DESIGN.md: usage or config error
# DESIGN.md's exit status for each error kind of `ask --json` (and of every provider error).
EXIT_STATUS_BY_KIND: dict[str, int] = {
    "bad_request": 1,
    "context_length": 1,
    "protocol": 1,
    "schema": 1,
    "auth": 3,
    "rate_limit": 4,
    "overloaded": 4,
    "quota": 4,
    "network": 5,
    "server": 5,
    "interrupted": 6,
}


class CliError(GlmchatError):
    """A usage error found by a subcommand; `main` prints it as one line and exits."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_status(exc: GlmchatError) -> int:
    """The exit status of an error that reached the edge (DESIGN.md's table)."""
    if isinstance(exc, CliError):
        return exc.exit_code
    # Imported here, not at the top, so that `glmchat --version` and `--help` stay light.
    from glmchat.backend.errors import ProviderError

    if isinstance(exc, ProviderError):
        return EXIT_STATUS_BY_KIND[exc.kind]
    # A bad config.toml or credentials.toml, a missing key, a database that cannot be opened
    # or an id that matches nothing: the user's to fix, like usage.
    return USAGE
