"""Branches on the command line: `sessions show` and `fork`, export/import of a tree, and
`ask --session` / `-c` continuing the current branch (subprocess, loopback server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmchat.cli import main
from glmchat.store import SessionStore
from glmchat.store.tree import path
from tests.test_ask_cli import ask
from tests.wire_server import Reply, WireServer, sse_body, sse_event


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _answer(store: SessionStore, cid: str, text: str, parent: int) -> int:
    mid = store.begin_assistant(
        cid, model="glm-4.5", provider="zai", thinking=False, parent_id=parent
    )
    store.finish_assistant(mid, content=text, reasoning="", status="complete")
    return mid


def _branched(store: SessionStore) -> tuple[str, list[int]]:
    """Q1 A1 Q2 A2 on the current branch; an edited Q2 with its answer and a second A1 off it."""
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
    q1 = store.add_message(cid, "user", "Q1")
    a1 = _answer(store, cid, "A1", q1)
    q2b = store.add_message(cid, "user", "Q2 edited", parent_id=a1)
    a2b = _answer(store, cid, "A2 edited", q2b)
    _answer(store, cid, "A1 again", q1)
    q2 = store.add_message(cid, "user", "Q2", parent_id=a1)
    a2 = _answer(store, cid, "A2", q2)
    return cid, [q1, a1, q2, a2, q2b, a2b]


def test_show_prints_the_current_branch_and_counts_the_others(
    capsys: pytest.CaptureFixture[str], store: SessionStore
) -> None:
    cid, _ = _branched(store)
    code, out, err = _run(capsys, "sessions", "show", cid)
    assert code == 0
    transcript, others = out.split("## Other branches")
    for text in ("Q1", "A1", "Q2", "A2"):
        assert f"\n{text}\n" in transcript
    assert "edited" not in transcript and "again" not in transcript
    assert '- after message 1: answer "A1 again" (1 message)' in others
    assert '- after message 2: prompt "Q2 edited" (2 messages)' in others
    assert err.strip() == (
        "glmchat: 2 other branches: use the TUI's [ and ] or `glmchat sessions fork`"
    )
    # JSON holds every branch.
    code, out, _ = _run(capsys, "sessions", "show", cid, "--format", "json")
    assert len(json.loads(out)["messages"]) == 7


def test_the_count_of_other_branches_does_not_depend_on_the_one_shown(
    capsys: pytest.CaptureFixture[str], store: SessionStore
) -> None:
    """Found by QA: from a branch whose sibling holds two branches of its own, `show` counted
    the sibling once ("1 other branch"); every leaf off the shown branch is one."""
    cid, _ = _branched(store)
    again = next(m.id for m in store.get_conversation(cid).messages if m.content == "A1 again")
    store.set_current_leaf(cid, again)
    code, out, err = _run(capsys, "sessions", "show", cid)
    assert code == 0
    assert '- after message 1: answer "A1" (5 messages, 2 branches)' in out
    assert err.startswith("glmchat: 2 other branches:")


def test_a_branch_that_starts_with_tool_calls_is_listed_by_them(
    capsys: pytest.CaptureFixture[str], store: SessionStore
) -> None:
    """Found by QA: a round that only called tools was listed as `answer ""`."""
    cid, [q1, *_] = _branched(store)
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=False, parent_id=q1)
    calls = [{"id": "c1", "name": "list_dir", "arguments": "{}"}, {"id": "c2", "name": "t__echo"}]
    store.finish_assistant(mid, content="", reasoning="", status="complete", tool_calls=calls)
    store.set_current_leaf(cid, next(m.id for m in _messages(store, cid) if m.content == "A2"))
    code, out, _ = _run(capsys, "sessions", "show", cid)
    assert code == 0 and '- after message 1: tool calls "list_dir, t__echo" (1 message)' in out


def _messages(store: SessionStore, cid: str) -> tuple:  # type: ignore[type-arg]
    return store.get_conversation(cid).messages


def test_fork_at_a_message_of_the_shown_branch(
    capsys: pytest.CaptureFixture[str], store: SessionStore
) -> None:
    cid, _ = _branched(store)
    code, out, _ = _run(capsys, "sessions", "fork", cid[:6], "--at", "3")
    assert code == 0
    new_id = out.strip()
    assert [m.content for m in store.get_conversation(new_id).messages] == ["Q1", "A1", "Q2"]
    code, out, _ = _run(capsys, "sessions", "fork", cid)
    whole = store.get_conversation(out.strip())
    assert [m.content for m in path(whole)] == ["Q1", "A1", "Q2", "A2"]
    code, out, err = _run(capsys, "sessions", "fork", cid, "--at", "5")
    assert code == 2 and out == ""
    assert "--at 5 is past the end: the current branch" in err and "has 4 messages" in err
    assert len(err.strip().splitlines()) == 1
    assert store.count_conversations() == 3


def test_export_and_import_round_trip_a_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store: SessionStore
) -> None:
    cid, _ = _branched(store)
    file = tmp_path / "tree.json"
    assert _run(capsys, "sessions", "export", cid, "--format", "json", "-o", str(file))[0] == 0
    store.delete(cid)
    code, out, _ = _run(capsys, "sessions", "import", str(file))
    assert code == 0 and out.strip() == f"imported {cid}"
    conv = store.get_conversation(cid)
    assert len(conv.messages) == 7
    assert [m.content for m in path(conv)] == ["Q1", "A1", "Q2", "A2"]
    _run(capsys, "sessions", "export", cid, "--format", "json", "-o", str(tmp_path / "again.json"))
    assert (tmp_path / "again.json").read_text() == file.read_text()


def _reply(text: str) -> Reply:
    return Reply(body=sse_body(sse_event({"content": text}), sse_event({}, finish_reason="stop")))


def test_ask_session_and_continue_follow_the_current_branch(
    wire: WireServer, store: SessionStore
) -> None:
    cid, ids = _branched(store)
    store.set_current_leaf(cid, ids[5])  # the edited branch
    wire.reply(_reply("A3"), _reply("A4"))
    result = ask("--json", "--session", cid, "--base-url", wire.url, "Q3")
    assert result.returncode == 0, result.stderr
    assert [(m["role"], m["content"]) for m in wire.requests[0].json["messages"]] == [
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2 edited"),
        ("assistant", "A2 edited"),
        ("user", "Q3"),
    ]
    result = ask("--json", "-c", "--base-url", wire.url, "Q4")
    assert result.returncode == 0, result.stderr
    assert [m["content"] for m in wire.requests[1].json["messages"]][-3:] == ["Q3", "A3", "Q4"]
    conv = store.get_conversation(cid)
    assert [m.content for m in path(conv)] == [
        "Q1",
        "A1",
        "Q2 edited",
        "A2 edited",
        "Q3",
        "A3",
        "Q4",
        "A4",
    ]
    assert len(conv.messages) == 11
