"""An export of what the pane holds (its conversation not, or no longer, in the store) carries
what the store would: each message's times, its model, and the conversation's creation time.
Found by QA: after `sessions rm` under a streaming pane, the Markdown export said `· unknown`
for every message."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from glmchat.engine import ConversationEngine
from glmchat.store import Conversation, to_document, to_markdown
from tests.test_engine_tools import adder, answer, engine_for, run, tool_round
from tests.test_tui_palette import run_command
from tests.tui_helpers import (
    active,
    region_text,
    running,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer

__all__ = ["engine_for"]  # the fixture, used by name

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
HEADING = re.compile(r"^## (You|[\w./-]+/[\w.-]+) · (.+)$", re.M)


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _close(a: str | None, b: str | None) -> bool:
    """Two stamps of one event taken by the engine and by the store, a moment apart."""
    assert a is not None and b is not None and STAMP.fullmatch(a) and STAMP.fullmatch(b), (a, b)
    return abs((_moment(a) - _moment(b)).total_seconds()) < 1


def _messages(conv: Conversation) -> list[dict[str, Any]]:
    return list(to_document(conv)["messages"])


async def _tool_loop_then_answer(zai: WireServer, engine: ConversationEngine) -> None:
    zai.reply(tool_round(("c1", "add", '{"a": 2, "b": 3}')), answer("5"), answer("Bye."))
    await run(engine.send("2 + 3?"))
    await run(engine.send("Thanks."))


async def test_an_export_of_a_deleted_conversation_has_the_times_the_store_had(
    zai: WireServer, engine_for: Any
) -> None:
    engine = engine_for(adder())
    await _tool_loop_then_answer(zai, engine)
    assert engine.store is not None and engine.conversation_id is not None
    stored = engine.store.get_conversation(engine.conversation_id)
    engine.store.delete(engine.conversation_id)  # another shell's `sessions rm`

    held = engine.snapshot()
    was, now = _messages(stored), _messages(held)
    assert [m["role"] for m in now] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]
    assert [m["role"] for m in now] == [m["role"] for m in was]
    for old, new in zip(was, now, strict=True):
        assert _close(new["started"], old["started"]), (old, new)
        assert _close(new["finished"], old["finished"]), (old, new)
        assert (new["provider"], new["model"], new["thinking"]) == (
            old["provider"],
            old["model"],
            old["thinking"],
        )
    assert _close(held.created, stored.created) and _close(held.updated, stored.updated)
    # In order: a message is never said to start before the one it follows.
    starts = [m["started"] for m in now]
    assert starts == sorted(starts)

    markdown = to_markdown(held)
    assert "unknown" not in markdown
    headings = HEADING.findall(markdown)
    assert [who for who, _ in headings] == [
        "You",
        "zai/glm-4.6",
        "zai/glm-4.6",
        "You",
        "zai/glm-4.6",
    ]
    stored_headings = HEADING.findall(to_markdown(stored))
    assert len(headings) == len(stored_headings)
    created = re.search(r"^- Created: (.+)$", markdown, re.M)
    assert created and created.group(1).endswith(" UTC")


async def test_a_conversation_never_saved_exports_the_times_it_was_told(
    zai: WireServer, engine_for: Any
) -> None:
    """Saving off (or a read-only database): the engine's own times, in the store's form."""
    engine = engine_for(adder())
    engine.store = None
    await _tool_loop_then_answer(zai, engine)
    held = engine.snapshot()
    messages = _messages(held)
    assert all(STAMP.fullmatch(m["started"]) for m in messages)
    assert all(STAMP.fullmatch(m["finished"]) for m in messages)
    assert all(m["started"] <= m["finished"] for m in messages)
    assert held.created <= messages[0]["started"] <= messages[-1]["finished"] <= held.updated
    # Exported twice, it is the same conversation: its times do not move with the clock.
    again = engine.snapshot()
    assert (again.created, again.updated) == (held.created, held.updated)
    assert "unknown" not in to_markdown(held)


async def test_a_resumed_conversation_exports_its_stored_times_exactly(
    zai: WireServer, engine_for: Any
) -> None:
    first = engine_for(adder())
    await _tool_loop_then_answer(zai, first)
    assert first.store is not None and first.conversation_id is not None
    stored = first.store.get_conversation(first.conversation_id)
    resumed = ConversationEngine.resume(
        first.settings, None, first.clients, stored, toolbox=first.toolbox
    )
    held = resumed.snapshot()
    keys = ("started", "finished", "provider", "model", "thinking")
    assert [{k: m[k] for k in keys} for m in _messages(held)] == [
        {k: m[k] for k in keys} for m in _messages(stored)
    ]
    assert (held.created, held.updated) == (stored.created, stored.updated)


async def test_each_answer_keeps_the_model_that_wrote_it(zai: WireServer, engine_for: Any) -> None:
    engine = engine_for()
    engine.store = None
    zai.reply(answer("one"), answer("two"))
    await run(engine.send("a"))
    engine.set_model("zai", "glm-4.5-air")
    await run(engine.send("b"))
    models = [m["model"] for m in _messages(engine.snapshot())]
    assert models == ["glm-4.6", "glm-4.6", "glm-4.5-air", "glm-4.5-air"]


# --- the TUI, as QA saw it ---------------------------------------------------------------------


def _delete_conversations() -> None:
    """Another shell's `glmchat sessions rm`: its own connection, while the answer streams."""
    other = sqlite3.connect(paths.database_path())
    other.execute("DELETE FROM messages")
    other.execute("DELETE FROM conversations")
    other.commit()
    other.close()


async def test_the_palette_s_export_of_an_unsaved_pane_has_every_message_s_time(
    zai: WireServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    zai.reply(
        Reply(chunks=stream(["The first ", "answer."], holds={1: gate}), delay=0.005),
        Reply(chunks=stream(["A second answer."])),
    )
    monkeypatch.chdir(tmp_path)  # where Export writes
    async with running(size=(80, 30)) as pilot:
        pane = active(pilot)
        await send(pilot, "first question")
        await wait_until(pilot, lambda: "The first" in region_text(pane.log_view), "a delta")
        _delete_conversations()
        await wait_until(pilot, lambda: pane.save_error is not None, "the failed save")
        gate.set()
        await wait_for_stream(pilot)
        await send(pilot, "second question")
        await wait_for_stream(pilot)
        await run_command(pilot, "Export conversation as Markdown")
        await run_command(pilot, "Export conversation as JSON")
    [markdown_file] = tmp_path.glob("glmchat-*.md")
    markdown = markdown_file.read_text()
    assert "unknown" not in markdown, markdown
    headings = HEADING.findall(markdown)
    assert [who for who, _ in headings] == ["You", "zai/glm-4.5", "You", "zai/glm-4.5"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", when) for _, when in headings)
    [json_file] = tmp_path.glob("glmchat-*.json")
    document = json.loads(json_file.read_text())
    assert all(STAMP.fullmatch(m["started"]) for m in document["messages"])
    assert all(STAMP.fullmatch(m["finished"]) for m in document["messages"])
