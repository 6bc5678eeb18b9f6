"""The way to the first paint: what runs and what loads before it, in a real terminal and in a
fresh interpreter. Configured MCP servers start after it; the modules loaded before it are a
set that must not grow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from glmchat.config import save_value
from tests.test_tui_pty import Terminal, _glmchat, terminal_env
from tests.wire_server import WireServer

MCP_SERVER = str(Path(__file__).with_name("mcp_server.py"))


def test_mcp_servers_start_after_the_first_paint(wire: WireServer, tmp_path: Path) -> None:
    """A configured MCP server (the real SDK server of tests/mcp_server.py) is started by a
    shell that writes the moment it was started; the first frame on the terminal (the status
    bar) was there before it. Its SDK import and process start cost the first paint nothing."""
    started = tmp_path / "started"
    save_value("providers.zai.base_url", wire.url)
    save_value("mcp.servers.probe.command", "/bin/sh")
    script = f'date +%s.%N > "{started}"; exec "{sys.executable}" "{MCP_SERVER}"'
    save_value("mcp.servers.probe.args", ",".join(["-c", script]))
    term = Terminal(_glmchat(), terminal_env())
    try:
        term.wait_for("thinking")  # the status bar: the first paint
        painted = time.time()
        deadline = time.monotonic() + 30
        while not started.exists() or not started.read_text().strip():
            assert time.monotonic() < deadline, f"the MCP server never started:\n{term.text}"
            term.pump()
        term.wait_for("tools")  # its tools joined: the server is the real one, and it is up
        server_started = float(started.read_text())
        assert server_started > painted, "an MCP server started before the first paint"
        term.child.send("\x11")  # ctrl+q
        assert term.wait_for_exit(timeout=10) == 0
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)


# What glmchat has loaded when the first frame is on the screen (the app's warm-up, which runs
# right after it, starts here): what a new pane needs to show itself, not what sending,
# tools, budgets or costs need.
NOT_BEFORE_THE_FIRST_PAINT = {
    "glmchat.backend.openai_compat",
    "glmchat.tools.mcp_servers",
    "glmchat.tui.widgets.markdown_view",
    "glmchat.cli.ask",
    "glmchat.cli.config_cmd",
    "glmchat.cli.sessions",
    "glmchat.cli.models",
    "glmchat.cli.tools_cmd",
    "glmchat.cli.usage_cmd",
    "glmchat.cli.serve_cmd",
    "httpx",
    "httpcore",
    "glmchat.backend.network",
    "mcp",
    "pydantic",
    "markdown_it",
    "pygments",
    "hashlib",
    "importlib.resources",
    "_strptime",
}


PROBE = """
import gc, json, os, sys
from glmchat.tui import app as app_module

os.isatty = lambda fd: True  # the launcher's check; the app itself runs headless


class Probe(app_module.GlmChatApp):
    CSS_PATH = os.path.join(os.path.dirname(app_module.__file__), "app.tcss")
    probed: dict = {}

    def _warm_up(self) -> None:  # called right after the first paint, then once per step
        if not self.probed:
            self.probed.update(modules=sorted(sys.modules), collector_on=gc.isenabled())
        super()._warm_up()
        if not self._warm_up_left and "after" not in self.probed:
            self.probed["after"] = [gc.isenabled(), gc.get_freeze_count()]
            self.exit()


def run(self) -> None:
    import asyncio

    async def go() -> None:
        async with self.run_test(size=(120, 40)) as pilot:
            while "after" not in self.probed:
                await pilot.pause(0.05)
        # Textual holds sys.stdout while it runs: write where the test reads.
        sys.__stdout__.write(json.dumps(self.probed) + "\\n")

    asyncio.run(go())


app_module.GlmChatApp = Probe
Probe.run = run
from glmchat.cli import main

main([])
"""


def _probe_the_launch(tmp_path: Path) -> dict[str, Any]:
    """`glmchat` with no command, through the launcher, run headless: what was loaded and
    whether the collector was on at the first paint, and its state after the warm-up."""
    probe = tmp_path / "probe.py"  # a file: Textual finds app.tcss next to the app's source
    probe.write_text(PROBE)
    env = dict(os.environ)
    env.pop("TEXTUAL_DRIVER", None)
    proc = subprocess.run(
        [sys.executable, str(probe)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def test_what_loads_before_the_first_paint(tmp_path: Path) -> None:
    """With an MCP server configured: at the first paint none of the modules above is loaded
    (starting the servers imports glmchat.tools.mcp_servers first, then the SDK)."""
    save_value("mcp.servers.probe.command", sys.executable)
    save_value("mcp.servers.probe.args", MCP_SERVER)
    loaded = set(_probe_the_launch(tmp_path)["modules"])
    assert "glmchat.tui.app" in loaded
    assert loaded & NOT_BEFORE_THE_FIRST_PAINT == set()


def test_the_collector_is_off_until_the_warm_up_is_done(tmp_path: Path) -> None:
    """The launcher turns the garbage collector off on the way to the first paint; the
    warm-up's last step collects, freezes what lives on and turns it on again."""
    probed = _probe_the_launch(tmp_path)
    assert probed["collector_on"] is False
    on, frozen = probed["after"]
    assert on is True and frozen > 10_000


async def test_a_failing_warm_up_step_costs_nothing_but_its_head_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The warm-up only gets ahead of the first answer: a step that fails (a broken certificate
    store, say) must neither take the app down nor leave the collector off for the session."""
    import gc

    from glmchat.tui import app as app_module
    from glmchat.tui import warm_up
    from tests.tui_helpers import running, wait_until

    def broken() -> None:
        raise OSError("no certificate store")

    ran: list[str] = []
    steps = (broken, lambda: ran.append("after"), *warm_up.WARM_UP_STEPS[-1:])
    monkeypatch.setattr(app_module, "WARM_UP_STEPS", steps)
    gc.disable()  # as the launcher leaves it
    try:
        async with running() as pilot:
            await wait_until(pilot, lambda: gc.isenabled(), "the collector back on")
            assert ran == ["after"] and pilot.app.is_running
    finally:
        gc.enable()
