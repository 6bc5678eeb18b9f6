"""The core (backend, store, config) never imports Textual: `ask` starts fast and stays reusable."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = [
    "glmchat.backend.openai_compat",
    "glmchat.backend.dialects",
    "glmchat.store",
    "glmchat.config",
    "glmchat.credentials",
    "glmchat.cli",
    "glmchat.cli.ask",
]


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_not_import_textual(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "", f"{module} pulls in {proc.stdout.strip()}"
