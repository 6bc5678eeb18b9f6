"""The conversation tree in the engine, against the loopback server: regenerate, edit an
earlier prompt, switch between siblings, undo and fork; what is sent is always the path."""

from __future__ import annotations

from typing import Any

from glmchat import paths
from glmchat.config import load_settings
from glmchat.engine import ConversationEngine
from glmchat.store import SessionStore
from glmchat.store.tree import path
from tests.test_engine_tools import adder, answer, engine_for, run, tool_round
from tests.wire_server import WireServer

__all__ = ["engine_for"]  # the fixture, used by name


def sent(zai: WireServer, n: int = -1) -> list[tuple[str, str]]:
    return [(m["role"], m.get("content") or "") for m in zai.requests[n].json["messages"]]


async def _three_exchanges(zai: WireServer, engine: ConversationEngine) -> None:
    zai.reply(answer("A1"), answer("A2"), answer("A3"))
    for prompt in ("Q1", "Q2", "Q3"):
        await run(engine.send(prompt))


def contents(engine: ConversationEngine) -> list[str]:
    return [t.content for t in engine.turns]


async def test_edit_an_earlier_prompt_sends_only_the_path_and_keeps_every_word(
    zai: WireServer, engine_for: Any
) -> None:
    engine = engine_for()
    await _three_exchanges(zai, engine)
    zai.reply(answer("B2"), answer("B3"))
    await run(engine.edit(2, "Q2 edited"))
    assert contents(engine) == ["Q1", "A1", "Q2 edited", "B2"]
    assert sent(zai) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2 edited")]
    assert engine.turns[2].siblings == (2, 2) and engine.turns[0].siblings == (1, 1)

    # Back to the first version of the prompt: the branch below it comes back whole.
    assert engine.switch_sibling(2, -1)
    assert contents(engine) == ["Q1", "A1", "Q2", "A2", "Q3", "A3"]
    assert engine.turns[2].siblings == (1, 2)
    assert not engine.switch_sibling(2, -1)  # no wrapping
    await run(engine.send("Q4"))
    assert sent(zai) == [
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2"),
        ("assistant", "A2"),
        ("user", "Q3"),
        ("assistant", "A3"),
        ("user", "Q4"),
    ]
    # The store holds both branches and agrees on the current one.
    store = engine.store
    assert store is not None
    stored = store.get_conversation(engine.conversation_id or "")
    assert len(stored.messages) == 10
    assert [m.content for m in path(stored)] == contents(engine)


async def test_regenerate_an_earlier_answer_with_another_model(
    zai: WireServer, engine_for: Any
) -> None:
    engine = engine_for()
    await _three_exchanges(zai, engine)
    zai.reply(answer("A1 again"))
    await run(engine.regenerate(1, model="zai/glm-4.5", thinking=False))
    assert contents(engine) == ["Q1", "A1 again"]
    assert zai.requests[-1].json["model"] == "glm-4.5"
    assert sent(zai) == [("user", "Q1")]
    assert engine.turns[1].siblings == (2, 2)
    assert engine.switch_sibling(1, -1)
    assert contents(engine) == ["Q1", "A1", "Q2", "A2", "Q3", "A3"]
    assert engine.switch_sibling(1, +1)
    assert contents(engine) == ["Q1", "A1 again"]


async def test_switching_lands_on_the_branch_most_recently_added(
    zai: WireServer, engine_for: Any
) -> None:
    engine = engine_for()
    await _three_exchanges(zai, engine)
    zai.reply(answer("B2"), answer("B3"), answer("C3"))
    await run(engine.edit(2, "Q2 edited"))
    await run(engine.send("Q3 on B"))
    await run(engine.retry())  # type: ignore[arg-type]
    assert contents(engine)[-1] == "C3" and engine.turns[-1].siblings == (2, 2)
    assert engine.switch_sibling(2, -1) and engine.switch_sibling(2, +1)
    assert contents(engine) == ["Q1", "A1", "Q2 edited", "B2", "Q3 on B", "C3"]
    # Resuming shows the same branch, numbered the same way.
    settings = load_settings()
    with SessionStore(paths.database_path()) as store:
        conversation = store.get_conversation(engine.conversation_id or "")
        resumed = ConversationEngine.resume(settings, store, engine.clients, conversation)
        assert contents(resumed) == contents(engine)
        assert [t.siblings for t in resumed.turns] == [t.siblings for t in engine.turns]
        assert resumed.switch_sibling(2, -1)
        assert contents(resumed) == ["Q1", "A1", "Q2", "A2", "Q3", "A3"]


async def test_undo_keeps_the_exchange_as_a_branch_and_fork_copies_the_path(
    zai: WireServer, engine_for: Any
) -> None:
    engine = engine_for()
    await _three_exchanges(zai, engine)
    assert engine.undo_last_exchange() == "Q3"
    assert contents(engine) == ["Q1", "A1", "Q2", "A2"]
    zai.reply(answer("A3'"))
    await run(engine.send("Q3'"))
    assert sent(zai)[-1] == ("user", "Q3'") and ("user", "Q3") not in sent(zai)
    assert engine.turns[-2].siblings == (2, 2)
    assert engine.switch_sibling(len(engine.turns) - 2, -1)
    assert contents(engine)[-2:] == ["Q3", "A3"]

    store = engine.store
    assert store is not None
    new_id = engine.fork(1)
    assert new_id is not None and new_id != engine.conversation_id
    assert [m.content for m in store.get_conversation(new_id).messages] == ["Q1", "A1"]
    assert engine.undo_last_exchange() == "Q3"
    assert engine.undo_last_exchange() == "Q2"
    assert engine.undo_last_exchange() == "Q1"
    assert engine.undo_last_exchange() is None and engine.turns == []
    assert path(store.get_conversation(engine.conversation_id or "")) == ()


async def test_a_regenerated_tool_answer_is_a_new_chain_from_the_same_prompt(
    zai: WireServer, engine_for: Any
) -> None:
    zai.reply(tool_round(("c1", "add", '{"a": 2, "b": 3}')), answer("5"), answer("five"))
    engine = engine_for(adder())
    await run(engine.send("2 + 3?"))
    assert [t.role for t in engine.turns] == ["user", "assistant", "tool", "assistant"]
    await run(engine.regenerate(3))  # the chain's last answer: the whole chain gets a sibling
    assert [t.role for t in engine.turns] == ["user", "assistant"]
    assert contents(engine)[-1] == "five" and engine.turns[1].siblings == (2, 2)
    assert sent(zai) == [("user", "2 + 3?")]
    assert engine.switch_sibling(1, -1)
    assert [t.role for t in engine.turns] == ["user", "assistant", "tool", "assistant"]
    # The store keeps the chain linked: assistant -> tool -> assistant under the prompt.
    store = engine.store
    assert store is not None
    stored = store.get_conversation(engine.conversation_id or "")
    assert [m.role for m in path(stored)] == ["user", "assistant", "tool", "assistant"]
    zai.reply(answer("ok"))
    await run(engine.send("thanks"))
    roles = [m["role"] for m in zai.requests[-1].json["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]


async def test_without_a_store_the_tree_lives_in_the_engine(
    zai: WireServer, engine_for: Any
) -> None:
    engine = engine_for()
    engine.store = None
    await _three_exchanges(zai, engine)
    zai.reply(answer("B2"))
    await run(engine.edit(2, "Q2 edited"))
    assert engine.switch_sibling(2, -1)
    assert contents(engine) == ["Q1", "A1", "Q2", "A2", "Q3", "A3"]
    assert engine.fork(1) is None
    # An export of what the engine holds has every branch (found by QA: only the one shown
    # was written), on the branch shown, as the store's export would be.
    from glmchat.store import parse_documents, to_document, to_json, to_markdown
    from glmchat.store.tree import path

    snapshot = engine.snapshot()
    markdown = to_markdown(snapshot)
    assert all(f"\n{text}\n" in markdown for text in contents(engine))
    doc = to_document(snapshot)
    assert sorted(m["content"] for m in doc["messages"]) == sorted(
        ["Q1", "A1", "Q2", "A2", "Q3", "A3", "Q2 edited", "B2"]
    )
    (back,) = parse_documents(to_json(snapshot))  # a valid tree, parents first
    assert [m.content for m in path(back)] == contents(engine)
    edited = next(m for m in back.messages if m.content == "Q2 edited")
    assert edited.parent_id == next(m.id for m in back.messages if m.content == "A1")


async def test_an_unsaved_tool_loop_exports_its_calls_under_one_id(
    zai: WireServer, engine_for: Any
) -> None:
    """Found by QA: the export of what the engine holds (saving failed) lost the tool calls
    (a result headed `Tool tool: ok`, an import that sent three answers in a row and no
    results), and each export of it had a new id."""
    from glmchat.store import parse_documents, to_document, to_json, to_markdown

    zai.reply(tool_round(("c1", "add", '{"a": 2, "b": 3}')), answer("5"))
    engine = engine_for(adder())
    engine.store = None
    await run(engine.send("2 + 3?"))
    first, second = engine.snapshot(), engine.snapshot()
    assert first.id == second.id
    doc = to_document(first)
    calls = [m["tool_calls"] for m in doc["messages"]]
    assert calls[1] == [{"id": "c1", "name": "add", "arguments": '{"a": 2, "b": 3}'}]
    assert doc["messages"][2]["tool_call_id"] == "c1"
    assert "add" in to_markdown(first)
    [imported] = parse_documents(to_json(first))
    assert [m.tool_call_id for m in imported.messages if m.role == "tool"] == ["c1"]


async def test_what_another_process_added_is_taken_in_before_the_next_prompt(
    zai: WireServer, engine_for: Any
) -> None:
    """A pane open on a conversation that `glmchat ask --session` (here: an engine on its own
    connection) continued meanwhile: its next prompt hangs beside the other's, numbered
    `2/2`, and the other branch is one switch away; before, it forked from it unseen."""
    engine = engine_for()
    zai.reply(answer("A1"))
    await run(engine.send("Q1"))
    settings = load_settings()
    with SessionStore(paths.database_path()) as other_store:
        conversation = other_store.get_conversation(engine.conversation_id or "")
        other = ConversationEngine.resume(settings, other_store, engine.clients, conversation)
        zai.reply(answer("from ask"))
        await run(other.send("Q from ask"))
    assert contents(engine) == ["Q1", "A1"]  # nothing read until a request or a move

    zai.reply(answer("A2"))
    await run(engine.send("Q2"))
    assert contents(engine) == ["Q1", "A1", "Q2", "A2"]
    assert engine.turns[2].siblings == (2, 2)
    assert sent(zai) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2")]
    assert engine.switch_sibling(2, -1)
    assert contents(engine) == ["Q1", "A1", "Q from ask", "from ask"]
    # The held turns stay the same objects: the log's messages keep showing them.
    assert engine.tree.find(engine.turns[0].message_id or 0) is engine.turns[0]


async def test_a_conversation_nobody_else_touched_is_not_read_again(
    zai: WireServer, engine_for: Any
) -> None:
    engine = engine_for()
    await _three_exchanges(zai, engine)
    store = engine.store
    assert store is not None
    reads: list[str] = []
    real = store.get_conversation
    store.get_conversation = lambda *a, **k: reads.append("read") or real(*a, **k)  # type: ignore[method-assign]
    zai.reply(answer("A4"))
    await run(engine.send("Q4"))
    assert reads == [] and not engine.take_in_others()
    assert engine.turns[-2].siblings == (1, 1)


async def test_a_conversation_deleted_and_imported_again_keeps_what_the_pane_sends(
    zai: WireServer, engine_for: Any
) -> None:
    """Found by QA: after `sessions rm` and `sessions import` of its export (the same
    conversation under new message ids), the pane's next prompt went without its history and
    was saved as a new root. The branch shown is sent whole; saving fails and says so; nothing
    lands in the imported conversation."""
    engine = engine_for()
    await _three_exchanges(zai, engine)
    cid = engine.conversation_id or ""
    with SessionStore(paths.database_path()) as other:
        exported = other.get_conversation(cid)
        other.delete(cid)
        # Another conversation meanwhile (QA's `ask`): the import's rows get new ids.
        elsewhere = other.create_conversation(model="glm-4.6", provider="zai", thinking=False)
        for n in range(7):
            other.add_message(elsewhere, "user", f"elsewhere {n}")
        other.insert_conversations([exported])
        rows = len(other.get_conversation(cid).messages)
    zai.reply(answer("A4"))
    await run(engine.send("Q4"))
    assert sent(zai)[-2:] == [("assistant", "A3"), ("user", "Q4")]
    assert contents(engine) == ["Q1", "A1", "Q2", "A2", "Q3", "A3", "Q4", "A4"]
    assert engine.save_error is not None
    store = engine.store
    assert store is not None
    # Nothing saved under the wrong parent: not the prompt (its parent is gone), nor its
    # answer (its prompt was not saved).
    assert len(store.get_conversation(cid).messages) == rows


async def test_below_a_prompt_whose_save_failed_the_answer_is_not_saved_elsewhere(
    zai: WireServer, engine_for: Any
) -> None:
    """Found by QA: a prompt's save failed, and its answer was saved at the store's own
    current leaf, under the previous answer."""
    from glmchat.store import StoreError

    engine = engine_for()
    zai.reply(answer("A1"))
    await run(engine.send("Q1"))
    store = engine.store
    assert store is not None
    real = store.add_message

    def failing(*args: Any, **kwargs: Any) -> int:
        raise StoreError("disk I/O error")

    store.add_message = failing  # type: ignore[method-assign]
    try:
        zai.reply(answer("A2"))
        await run(engine.send("Q2"))
    finally:
        store.add_message = real  # type: ignore[method-assign]
    assert contents(engine) == ["Q1", "A1", "Q2", "A2"] and engine.save_error
    saved = store.get_conversation(engine.conversation_id or "")
    assert [(m.role, m.content) for m in saved.messages] == [("user", "Q1"), ("assistant", "A1")]
