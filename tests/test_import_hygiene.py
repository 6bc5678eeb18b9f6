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
    "glmchat.engine",
    "glmchat.engine.exchange",
    "glmchat.tools.base",
    "glmchat.tools.names",
    "glmchat.tools.builtin",
    "glmchat.tools.mcp_servers",
    "glmchat.tools.toolbox",
    "glmchat.cli.tools_cmd",
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


def test_the_tui_paints_before_loading_http_and_markdown() -> None:
    """Start-up stays lean: httpx and the Markdown/pygments modules load after the first paint
    (the app's warm-up steps), the MCP SDK and pydantic when a server starts after it, so the
    first screen does not wait for them."""
    heavy = (
        "httpx",
        "markdown_it",
        "pygments",
        "glmchat.tui.widgets.markdown_view",
        "mcp",
        "pydantic",
    )
    code = (
        f"import sys, glmchat.tui.app\nprint(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


@pytest.mark.parametrize(
    "module", ["glmchat.config", "glmchat.tools.toolbox", "glmchat.tools.mcp_servers"]
)
def test_tools_load_the_mcp_sdk_and_http_only_when_used(module: str) -> None:
    """Loading settings and making a toolbox costs nothing at start: the MCP SDK (and pydantic
    under it) loads when a server starts, httpx when fetch_url first runs."""
    heavy = ("mcp", "mcp_types", "pydantic", "anyio", "httpx", "httpx2")
    code = f"import sys, {module}\nprint(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_httpx_command_line_client_is_never_loaded() -> None:
    """httpx imports its command-line client (click, rich.progress) whenever click is
    installed, as the MCP SDK makes it: 20 ms of every start-up for a command never run."""
    code = (
        "import sys, glmchat.backend.openai_compat, httpx\n"
        "print(sorted(m for m in ('click', 'rich.progress') if m in sys.modules), "
        "callable(httpx.main), httpx.AsyncClient is not None)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[] True True"
