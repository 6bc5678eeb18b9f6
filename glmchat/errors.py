"""The root of glmchat's own errors: failures it expects and can explain in a line."""

from __future__ import annotations


class GlmchatError(Exception):
    """A failure whose message is for the user: what happened and what to do, one line per
    problem. Each layer (config, credentials, provider, store) derives its own; the command
    line's edge prints them and picks the exit status, so no subcommand needs to re-wrap one."""
