"""Placeholder module, replaced by the real subcommand."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    pass
