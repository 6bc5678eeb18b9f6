"""A branch that ends on a prompt with no answer (found by QA: `sessions fork --at` a prompt, then
`ask --session`, dropped that prompt from the request while `show` and the TUI showed it).

What the branch shows is what is sent: a prompt that was never asked (a fork at it, an import
that ends on it) is sent before the next one, and `ask` says so. A prompt whose answer failed or
was stopped before any text is not sent again (the model must not see it twice): the TUI puts it
back in the box (when the answer ends, and when the conversation is opened again) and `ask` says
so, in one line. Real CLI and TUI against the loopback server; the request bodies are checked."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from glmchat.cli import main
from glmchat.store import SessionStore
from tests.test_ask_cli import ask
from tests.tui_helpers import (
    active,
    glm,
    region_text,
    running,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer, fixture_reply

NOTE = "glmchat: note: "


def sent(server: WireServer, index: int = -1) -> list[tuple[str, str]]:
    """The (role, content) of each message of a request's body."""
    return [(m["role"], m["content"]) for m in server.requests[index].json["messages"]]


def _answer(
    store: SessionStore, cid: str, text: str, parent: int, *, status: Any = "complete", **kw: Any
) -> int:
    mid = store.begin_assistant(
        cid, model="glm-4.5", provider="zai", thinking=False, parent_id=parent
    )
    store.finish_assistant(mid, content=text, reasoning="", status=status, **kw)
    return mid


def _two_exchanges(store: SessionStore) -> tuple[str, list[int]]:
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
    q1 = store.add_message(cid, "user", "prompt first")
    a1 = _answer(store, cid, "Answer 1", q1)
    q2 = store.add_message(cid, "user", "prompt second EDITED", parent_id=a1)
    a2 = _answer(store, cid, "Answer 2", q2)
    return cid, [q1, a1, q2, a2]


def _fork(capsys: pytest.CaptureFixture[str], cid: str, at: int) -> str:
    assert main(["sessions", "fork", cid, "--at", str(at)]) == 0
    return capsys.readouterr().out.strip()


def _notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(NOTE)]


# --- ask: a prompt never asked is sent ---------------------------------------------------------


def test_ask_after_a_fork_at_a_prompt_sends_that_prompt(
    capsys: pytest.CaptureFixture[str], store: SessionStore, wire: WireServer
) -> None:
    cid, _ = _two_exchanges(store)
    fork = _fork(capsys, cid[:4], 3)
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask("--session", fork, "--base-url", wire.url, "next")
    assert proc.returncode == 0, proc.stderr
    assert sent(wire) == [
        ("user", "prompt first"),
        ("assistant", "Answer 1"),
        ("user", "prompt second EDITED"),
        ("user", "next"),
    ]
    assert _notes(proc.stderr) == [
        f'{NOTE}this conversation ends on a prompt with no answer yet, "prompt second EDITED": '
        "it is sent before yours"
    ]
    # `show` numbers the branch as it was sent.
    assert main(["sessions", "show", fork]) == 0
    shown = capsys.readouterr().out
    assert shown.index("prompt second EDITED") < shown.index("\nnext\n")


def test_an_import_that_ends_on_prompts_sends_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, wire: WireServer
) -> None:
    doc = {
        "format": "glmchat-conversation",
        "version": 1,
        "id": "imported1",
        "title": "an import",
        "created": "2026-01-02T03:04:05.000Z",
        "updated": "2026-01-02T03:05:00.000Z",
        "messages": [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2, never answered"},
            {"role": "user", "content": "q3 \x1b[31m\nsecond line"},
        ],
    }
    file = tmp_path / "import.json"
    file.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["sessions", "import", str(file)]) == 0
    capsys.readouterr()
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask("--session", "imported1", "--base-url", wire.url, "q4")
    assert proc.returncode == 0, proc.stderr
    assert sent(wire) == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2, never answered"),
        ("user", "q3 \x1b[31m\nsecond line"),
        ("user", "q4"),
    ]
    [note] = _notes(proc.stderr)
    assert '"q3 \\x1b[31m second line": it is sent before yours' in note  # one line, inert
    assert "\x1b" not in proc.stderr


# --- ask: a prompt whose answer failed is not sent again, and ask says so ----------------------


def _failed(store: SessionStore, cid: str, parent: int) -> None:
    _answer(store, cid, "", parent, status="error", error="HTTP 500: server error")


def _stopped(store: SessionStore, cid: str, parent: int) -> None:
    _answer(store, cid, "", parent, status="cancelled")


def _tool_round_then_failed(store: SessionStore, cid: str, parent: int) -> None:
    """A tool loop whose first round had text and a call, whose second round failed before any
    text: the model answered (text, a call whose result it was given), so the exchange is
    sent and its prompt is not given back (tests/test_stopped_tool_rounds.py has the class)."""
    call = {"id": "call_1", "name": "read_file", "arguments": "{}"}
    first = _answer(store, cid, "Let me look.", parent, tool_calls=[call])
    record = {**call, "status": "done", "seconds": 0.1}
    result = store.add_tool_result(
        cid, tool_call_id="call_1", content="file text", record=record, parent_id=first
    )
    _failed(store, cid, result)


ENDINGS = [_failed, _stopped]


@pytest.mark.parametrize("ending", ENDINGS)
def test_ask_after_a_failed_answer_says_its_prompt_is_not_sent(
    store: SessionStore, wire: WireServer, ending: Any
) -> None:
    cid, ids = _two_exchanges(store)
    q3 = store.add_message(cid, "user", "prompt third", parent_id=ids[3])
    ending(store, cid, q3)
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask("--session", cid, "--base-url", wire.url, "next")
    assert proc.returncode == 0, proc.stderr
    assert sent(wire)[-2:] == [("assistant", "Answer 2"), ("user", "next")]
    assert _notes(proc.stderr) == [
        f'{NOTE}the last prompt of this conversation, "prompt third", got no answer, so it is '
        "not sent again; put it in your prompt if the model should see it"
    ]


def test_ask_after_a_failed_second_tool_round_sends_the_exchange(
    store: SessionStore, wire: WireServer
) -> None:
    cid, ids = _two_exchanges(store)
    q3 = store.add_message(cid, "user", "prompt third", parent_id=ids[3])
    _tool_round_then_failed(store, cid, q3)
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask("--session", cid, "--base-url", wire.url, "next")
    assert proc.returncode == 0, proc.stderr
    assert sent(wire)[-5:] == [
        ("assistant", "Answer 2"),
        ("user", "prompt third"),
        ("assistant", "Let me look."),
        ("tool", "file text"),
        ("user", "next"),
    ]
    assert _notes(proc.stderr) == []


def test_ask_on_an_answered_branch_says_nothing(store: SessionStore, wire: WireServer) -> None:
    cid, _ = _two_exchanges(store)
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask("--session", cid, "--base-url", wire.url, "next")
    assert proc.returncode == 0 and _notes(proc.stderr) == []


# --- the TUI -----------------------------------------------------------------------------------


async def test_tui_fork_from_a_prompt_then_a_prompt_sends_both(zai: WireServer) -> None:
    zai.reply(*(Reply(chunks=stream([f"answer {n}"])) for n in (1, 2, 3)))
    async with running() as pilot:
        pane = active(pilot)
        for n in (1, 2):
            await send(pilot, f"question {n}")
            await wait_for_stream(pilot)
        await pilot.press("alt+up", "alt+up")  # question 2
        await pane.branches.fork()
        await wait_until(pilot, lambda: active(pilot) is not pane, "the forked pane")
        forked = active(pilot)
        assert [t.content for t in forked.turns][-1] == "question 2"
        assert forked.prompt.text == ""  # it is sent, so it is not given back too
        await send(pilot, "next")
        await wait_for_stream(pilot, forked)
    assert sent(zai) == [
        ("user", "question 1"),
        ("assistant", "answer 1"),
        ("user", "question 2"),
        ("user", "next"),
    ]


@pytest.mark.parametrize("ending", ENDINGS)
async def test_tui_opened_on_a_failed_answer_gives_its_prompt_back(
    zai: WireServer, ending: Any
) -> None:
    with SessionStore(paths.database_path()) as store:
        cid, ids = _two_exchanges(store)
        q3 = store.add_message(cid, "user", "prompt third", parent_id=ids[3])
        ending(store, cid, q3)
    zai.reply(Reply(chunks=stream(["answer 3"])))
    async with running(resume=cid) as pilot:
        pane = active(pilot)
        assert pane.prompt.text == "prompt third" and pane.prompt.has_focus
        assert "prompt third" in region_text(pane.log_view)
        await pilot.press("enter")
        await wait_for_stream(pilot)
    assert sent(zai) == [
        ("user", "prompt first"),
        ("assistant", "Answer 1"),
        ("user", "prompt second EDITED"),
        ("assistant", "Answer 2"),
        ("user", "prompt third"),  # once
    ]


async def test_tui_stop_before_any_text_gives_the_prompt_back(zai: WireServer) -> None:
    gate = threading.Event()
    zai.reply(
        Reply(chunks=stream(["never seen"], holds={0: gate}), delay=0.005),
        Reply(chunks=stream(["answer"])),
    )
    try:
        async with running() as pilot:
            pane = active(pilot)
            await send(pilot, "stop me")
            await wait_until(pilot, lambda: zai.requests, "the request")
            await pilot.press("escape")
            await wait_for_stream(pilot)
            assert pane.turns[-1].status == "cancelled" and not pane.turns[-1].content
            assert pane.prompt.text == "stop me"
            await pilot.press("enter")
            await wait_for_stream(pilot)
            assert glm(pilot).active_pane is pane
    finally:
        gate.set()
    assert sent(zai) == [("user", "stop me")]


async def test_tui_a_failed_retry_gives_the_prompt_back_once(zai: WireServer) -> None:
    zai.reply(*(fixture_reply("zai_error_429_1113") for _ in range(3)))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "try me")
        await wait_for_stream(pilot)
        assert pane.prompt.text == "try me"
        await pane.retry()  # the prompt still in the box: not twice
        await wait_for_stream(pilot)
        assert pane.prompt.text == "try me"
        pane.prompt.clear()
        await pane.retry()  # a retry is not a prompt from the box: it comes back all the same
        await wait_for_stream(pilot)
        assert pane.prompt.text == "try me"
    assert len(zai.requests) == 3


UNFINISHED = [
    pytest.param(
        "The first lines",
        [("user", "prompt third"), ("assistant", "The first lines"), ("user", "next")],
        "the last answer of this conversation is unfinished (another glmchat may still be "
        "writing it, or one stopped before its end): it is sent as far as it was saved",
        id="with text",
    ),
    pytest.param(
        "",
        [("assistant", "Answer 2"), ("user", "next")],
        "the last answer of this conversation is unfinished and has no text yet (another "
        "glmchat may still be writing it, or one stopped before its end), so its prompt, "
        '"prompt third", is not sent; put it in your prompt if the model should see it',
        id="still thinking",
    ),
]


@pytest.mark.parametrize(("text", "tail", "note"), UNFINISHED)
def test_ask_on_an_answer_another_glmchat_is_writing_says_what_it_sends(
    store: SessionStore, wire: WireServer, text: str, tail: list[tuple[str, str]], note: str
) -> None:
    """Found by QA: `ask --session` while the chat screen streamed into the conversation sent
    the answer's first checkpoint as history and said nothing; while it was still thinking
    (no text yet), it said the prompt "got no answer"."""
    cid, ids = _two_exchanges(store)
    q3 = store.add_message(cid, "user", "prompt third", parent_id=ids[3])
    writing = store.begin_assistant(
        cid, model="glm-4.5", provider="zai", thinking=True, parent_id=q3
    )
    store.checkpoint(writing, text, "Let me think")
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask("--session", cid, "--base-url", wire.url, "next")
    assert proc.returncode == 0, proc.stderr
    assert sent(wire)[-len(tail) :] == tail
    assert _notes(proc.stderr) == [f"{NOTE}{note}"]
