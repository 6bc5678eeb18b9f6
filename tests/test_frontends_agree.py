"""One table of fixtures, two front-ends: `glmchat ask` and the TUI run the same exchange
through the same engine, so they send the same request and store the same outcome."""

from __future__ import annotations

import json

import pytest

from glmchat import paths
from glmchat.store import SessionStore
from tests.test_ask_cli import ask
from tests.tui_helpers import active, running, send, wait_for_stream
from tests.wire_server import WireServer, fixture_reply

FIXTURES = [
    "zai_thinking_stream",  # reasoning, then the answer
    "zai_nothinking_stream",
    "gzip_thinking_stream",  # a compressed event stream
    "content_parts_stream",  # content as typed parts
    "truncated_no_done",  # cut before its end: partial, interrupted
    "malformed_json_line",  # not the protocol: partial kept
    "zai_error_400_1261",  # refused before any text
    "tool_only_fragments",  # a reply that is only a tool call
]


def stored_rows(conversation_id: str) -> list[tuple]:
    with SessionStore(paths.database_path()) as store:
        conversation = store.get_conversation(conversation_id)
    return [
        (m.role, m.content, m.reasoning, m.status, m.finish_reason, m.error)
        for m in conversation.messages
    ]


@pytest.mark.parametrize("fixture", FIXTURES)
async def test_ask_and_the_tui_agree(zai: WireServer, fixture: str) -> None:
    zai.reply(fixture_reply(fixture, splits=11), fixture_reply(fixture, splits=5))
    prompt = "Same question, two front-ends"
    proc = ask("--json", prompt, env={"ZAI_API_KEY": "sk-test-0123456789abcd"})
    by_ask = json.loads(proc.stdout)
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, prompt)
        await wait_for_stream(pilot)
        tui_id = pane.conversation_id
        tui_answer = pane.turns[-1]
    assert tui_id and by_ask["session_id"] and tui_id != by_ask["session_id"]
    first, second = (request.json for request in zai.requests)
    assert first == second  # the same request body, byte for byte as JSON
    assert stored_rows(by_ask["session_id"]) == stored_rows(tui_id)
    assert tui_answer.content == by_ask["content"]
    assert tui_answer.reasoning == by_ask["reasoning"]
    error = by_ask["error"]
    assert (tui_answer.error is None) == (error is None)
    assert tui_answer.status in ("complete", "partial", "error")
