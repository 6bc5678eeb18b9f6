"""The note under an answer stopped by the user says what is true (found by QA: stopped before
any text, it said "the partial answer is kept", with no answer to keep)."""

from __future__ import annotations

import threading
from pathlib import Path

from glmchat.config import load_settings
from glmchat.credentials import CredentialStore
from glmchat.store import SessionStore
from glmchat.tui.app import GlmChatApp
from tests.tui_helpers import (
    active,
    message,
    region_text,
    running,
    seed,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer

PARTIAL = "the partial answer is kept"


async def test_stopped_before_any_text_says_so(zai: WireServer) -> None:
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["never seen"], holds={0: gate}), delay=0.005))
    try:
        async with running() as pilot:
            pane = active(pilot)
            await send(pilot, "stop me")
            await wait_until(pilot, lambda: zai.requests, "the request")
            await pilot.press("escape")
            await wait_for_stream(pilot)
            shown = region_text(pane.log_view)
            assert "■ stopped before any answer" in shown and PARTIAL not in shown, shown
    finally:
        gate.set()


async def test_stopped_with_text_keeps_it_and_says_so(zai: WireServer) -> None:
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["Half an ", "answer"], holds={1: gate}), delay=0.005))
    try:
        async with running() as pilot:
            pane = active(pilot)
            await send(pilot, "stop me later")
            await wait_until(pilot, lambda: "Half an" in region_text(pane.log_view), "text")
            await pilot.press("escape")
            await wait_for_stream(pilot)
            shown = region_text(pane.log_view)
            assert f"■ stopped; {PARTIAL}" in shown, shown
    finally:
        gate.set()


async def test_a_resumed_answer_stopped_before_any_text_says_so() -> None:
    stopped = [message("user", "Feed it?"), message("assistant", "", status="cancelled")]
    seed("aaaa00000001", "Sourdough starter", stopped)
    async with running(resume="aaaa00000001") as pilot:
        shown = region_text(active(pilot).log_view)
        assert "■ stopped before any answer" in shown and PARTIAL not in shown, shown


def test_ask_stopped_before_any_text_says_so(wire: WireServer) -> None:
    """`ask`'s line (and its --json error) for an answer stopped before any text: no partial
    answer is claimed kept."""
    import json
    import os
    import signal
    import subprocess
    import time

    from tests.test_ask_cli import GLMCHAT

    for json_mode in (False, True):
        gate = threading.Event()
        wire.reply(Reply(chunks=stream(["never seen"], holds={0: gate}), delay=0.005))
        before = len(wire.requests)
        args = [GLMCHAT, "ask", "--no-save", "--base-url", wire.url, "stop me"]
        proc = subprocess.Popen(
            args + (["--json"] if json_mode else []),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ, ZAI_API_KEY="sk-x"), text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while len(wire.requests) == before and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            gate.set()
        assert proc.returncode == 6
        said = json.loads(out)["error"]["message"] if json_mode else err
        assert "no answer had arrived" in said and PARTIAL not in said, said


async def test_a_resumed_answer_that_never_finished_says_it_may_still_be_written() -> None:
    """Found by QA: an answer another glmchat was still streaming opened as "the stream stopped
    early". A row that never finished (no end time) says it may still be written, or was cut
    off when glmchat stopped; a stream that was cut (it has an end time) says so as before."""
    from dataclasses import replace

    in_flight = replace(message("assistant", "Half of it", status="partial"), finished=None)
    seed("aaaa00000002", "Still streaming", [message("user", "Go on?"), in_flight])
    cut = message("assistant", "Cut short", status="partial")
    seed("aaaa00000003", "Cut stream", [message("user", "Go on?"), cut])
    async with running(resume="aaaa00000002") as pilot:
        shown = region_text(active(pilot).log_view)
        assert "unfinished answer: another glmchat may still be writing it" in shown, shown
        said = " ".join(shown.split())
        assert "close this tab and open it again to see more" in said, said
        assert "stopped early" not in shown
    async with running(resume="aaaa00000003") as pilot:
        shown = region_text(active(pilot).log_view)
        assert "partial answer: the stream stopped early" in shown, shown
        assert "unfinished" not in shown


async def test_a_read_only_database_is_said_as_a_pane_opens(db_path: Path) -> None:
    """Found by QA: with a read-only glmchat.db the TUI said nothing until the first prompt
    failed to save. Each pane says so as it opens: the banner, and the status line."""
    seed("aaaa00000004", "Readable", [message("user", "Old question?")])
    store = SessionStore(db_path, mode="ro")
    app = GlmChatApp(
        load_settings(), store=store, credentials=CredentialStore(), resume="aaaa00000004"
    )
    async with running(app) as pilot:
        pane = active(pilot)
        banner = " ".join(region_text(pane.query_one("#unsaved")).split())
        assert "Not saved" in banner and "read-only, so nothing new is saved" in banner, banner
        assert "Old question?" in region_text(pane.log_view)  # it still reads
        assert pane.save_error is not None
