"""The conversation tree in the store: migration 5, siblings, switching, fork, undo, deletion,
export/import of a tree and search across branches."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from glmchat.store import (
    ImportFormatError,
    NotFoundError,
    SessionStore,
    parse_documents,
    to_document,
    to_json,
    to_markdown,
)
from glmchat.store.database import MIGRATIONS, SCHEMA_VERSION
from glmchat.store.tree import newest_leaf, other_branches, path, siblings


def _new(store: SessionStore) -> str:
    return store.create_conversation(model="glm-4.5", provider="zai", thinking=False)


def _answer(store: SessionStore, cid: str, text: str, parent: int) -> int:
    mid = store.begin_assistant(
        cid, model="glm-4.5", provider="zai", thinking=False, parent_id=parent
    )
    store.finish_assistant(mid, content=text, reasoning="", status="complete")
    return mid


def _texts(store: SessionStore, cid: str) -> list[str]:
    return [m.content for m in path(store.get_conversation(cid))]


# -- migration -----------------------------------------------------------------------------


def _schema_4_database(db: Path) -> None:
    """A database as the release before the tree made it: two linear conversations, one with
    a tool round and costs."""
    conn = sqlite3.connect(db, isolation_level=None)
    for statements in MIGRATIONS[:4]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    for cid, title in (("aaaaaaaaaaaa", "tools"), ("bbbbbbbbbbbb", "plain")):
        conn.execute(
            "INSERT INTO conversations (id, title, created, updated, model, provider, thinking) "
            "VALUES (?, ?, '2026-08-20T10:00:00.000Z', '2026-08-20T10:00:00.000Z', "
            "'glm-4.5', 'zai', 0)",
            (cid, title),
        )
    rows = [
        ("aaaaaaaaaaaa", 0, "user", "weather in Oslo?", None, None, None, None),
        (
            "aaaaaaaaaaaa",
            1,
            "assistant",
            "",
            '[{"id": "c1", "name": "fetch", "arguments": "{}"}]',
            None,
            '{"prompt_tokens": 10}',
            0.001,
        ),
        (
            "aaaaaaaaaaaa",
            2,
            "tool",
            "rain, 12 C",
            '[{"id": "c1", "name": "fetch"}]',
            "c1",
            None,
            None,
        ),
        (
            "aaaaaaaaaaaa",
            3,
            "assistant",
            "It rains in Oslo.",
            None,
            None,
            '{"prompt_tokens": 30}',
            0.002,
        ),
        ("bbbbbbbbbbbb", 0, "user", "hello", None, None, None, None),
        ("bbbbbbbbbbbb", 1, "assistant", "hi there", None, None, '{"prompt_tokens": 5}', 0.0005),
        ("bbbbbbbbbbbb", 2, "user", "bye", None, None, None, None),
        ("bbbbbbbbbbbb", 3, "assistant", "farewell", None, None, None, None),
    ]
    for cid, position, role, content, calls, call_id, usage, cost in rows:
        conn.execute(
            "INSERT INTO messages (conversation_id, position, role, content, tool_calls, "
            "tool_call_id, usage, cost, cost_source, started, finished, provider, model) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '2026-08-20T10:00:00.000Z', "
            "'2026-08-20T10:00:01.000Z', 'zai', 'glm-4.5')",
            (cid, position, role, content, calls, call_id, usage, cost, cost and "provider"),
        )
    conn.close()


def test_migration_turns_linear_conversations_into_one_branch_trees(tmp_path: Path):
    db = tmp_path / "glmchat.db"
    _schema_4_database(db)
    before = sqlite3.connect(db)
    old_rows = before.execute("SELECT * FROM messages ORDER BY id").fetchall()
    old_usage = before.execute("SELECT * FROM usage_hours").fetchall()
    before.close()

    with SessionStore(db) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        for cid in ("aaaaaaaaaaaa", "bbbbbbbbbbbb"):
            conv = store.get_conversation(cid)
            # The path is the old linear order, ending at the last message.
            assert path(conv) == conv.messages
            assert conv.current_leaf == conv.messages[-1].id
            assert conv.messages[0].parent_id is None
            assert all(
                m.parent_id == prev.id
                for prev, m in zip(conv.messages, conv.messages[1:], strict=False)
            )
        tools = store.get_conversation("aaaaaaaaaaaa")
        assert [m.role for m in path(tools)] == ["user", "assistant", "tool", "assistant"]
        assert tools.messages[2].tool_call_id == "c1"
        assert [m.cost for m in tools.messages] == [None, 0.001, None, 0.002]
        # Nothing lost: every old column of every row is as it was.
        after = store._conn.execute("SELECT * FROM messages ORDER BY id").fetchall()
        assert [row[: len(old_rows[0])] for row in after] == old_rows
        ledger = store._conn.execute("SELECT * FROM usage_hours").fetchall()
        # "farewell" ended with text and no usage: migration 10 counts it, its cost unknown
        # (answers 2, priced 1); nothing else changed.
        counted = [
            (*row[:4], row[4] + 1, *row[5:]) if row[1] == "bbbbbbbbbbbb" else row
            for row in old_usage
        ]
        assert [row[: len(old_usage[0])] for row in ledger] == counted
        assert [s.id for s in store.list_conversations(search="Oslo")] == ["aaaaaaaaaaaa"]
        assert [s.id for s in store.list_conversations(search="farewell")] == ["bbbbbbbbbbbb"]
        # A migrated conversation goes on growing on its branch.
        store.add_message("bbbbbbbbbbbb", "user", "again")
        assert _texts(store, "bbbbbbbbbbbb") == ["hello", "hi there", "bye", "farewell", "again"]


# -- tree operations -------------------------------------------------------------------------


def test_a_regenerated_answer_is_a_sibling_and_the_leaf_follows_each_write(store: SessionStore):
    cid = _new(store)
    q = store.add_message(cid, "user", "question")
    a1 = _answer(store, cid, "first answer", q)
    a2 = _answer(store, cid, "second answer", q)
    conv = store.get_conversation(cid)
    assert conv.current_leaf == a2
    assert _texts(store, cid) == ["question", "second answer"]
    assert [m.id for m in siblings(conv, a1)] == [a1, a2]
    assert len(conv.messages) == 3  # nothing was deleted

    store.set_current_leaf(cid, a1)
    assert _texts(store, cid) == ["question", "first answer"]
    # A message written without a parent goes under the current leaf.
    store.add_message(cid, "user", "follow-up")
    assert _texts(store, cid) == ["question", "first answer", "follow-up"]
    assert store.history(cid)[-2].content == "first answer"


def test_an_edited_prompt_is_a_sibling_and_switching_lands_on_the_newest_leaf(
    store: SessionStore,
):
    cid = _new(store)
    q1 = store.add_message(cid, "user", "one")
    a1 = _answer(store, cid, "uno", q1)
    q2 = store.add_message(cid, "user", "two", parent_id=a1)
    a2 = _answer(store, cid, "dos", q2)
    q2b = store.add_message(cid, "user", "two, edited", parent_id=a1)
    a2b = _answer(store, cid, "dos bis", q2b)
    a2c = _answer(store, cid, "dos ter", q2b)  # newest under the edited prompt
    conv = store.get_conversation(cid)
    assert [m.content for m in siblings(conv, q2)] == ["two", "two, edited"]
    assert newest_leaf(conv, q2) == a2
    assert newest_leaf(conv, q2b) == a2c
    assert newest_leaf(conv, q1) == a2c
    assert newest_leaf(conv, 999_999) is None
    assert store.open_at(cid, a2b) == a2b
    assert _texts(store, cid) == ["one", "uno", "two, edited", "dos bis"]
    assert store.open_at(cid, q2) == a2
    assert _texts(store, cid) == ["one", "uno", "two", "dos"]


def test_undo_moves_the_leaf_back_and_keeps_the_exchange_as_a_branch(store: SessionStore):
    cid = _new(store)
    q1 = store.add_message(cid, "user", "one")
    a1 = _answer(store, cid, "uno", q1)
    q2 = store.add_message(cid, "user", "two")
    _answer(store, cid, "dos", q2)
    store.set_current_leaf(cid, a1)
    conv = store.get_conversation(cid)
    assert [m.content for m in path(conv)] == ["one", "uno"]
    assert [(m.content, size, n) for m, size, n in other_branches(conv)] == [("two", 2, 1)]
    # Undoing the only exchange leaves an empty branch; the next prompt is a new root.
    store.set_current_leaf(cid, None)
    assert _texts(store, cid) == []
    store.add_message(cid, "user", "fresh start", parent_id=None)
    conv = store.get_conversation(cid)
    assert [m.content for m in siblings(conv, q1)] == ["one", "fresh start"]
    assert len(conv.messages) == 5


def test_fork_copies_the_branch_up_to_a_message_and_leaves_the_ledger_alone(
    store: SessionStore,
):
    cid = _new(store)
    q1 = store.add_message(cid, "user", "one")
    a1 = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=False)
    store.finish_assistant(
        a1, content="uno", reasoning="", status="complete", usage={"prompt_tokens": 7}, cost=0.25
    )
    q2 = store.add_message(cid, "user", "two")
    _answer(store, cid, "dos", q2)
    _answer(store, cid, "dos again", q2)  # another branch, not copied
    spent = store.usage_report(by="conversation")

    forked = store.fork(cid, a1)
    assert forked != cid
    copy = store.get_conversation(forked)
    assert [m.content for m in copy.messages] == ["one", "uno"]
    assert path(copy) == copy.messages and copy.current_leaf == copy.messages[-1].id
    assert copy.messages[1].cost == 0.25
    # Its title is marked (found by QA: two tabs read the same); a fork of a fork numbered.
    assert (copy.model, copy.provider, copy.title) == ("glm-4.5", "zai", "one (fork)")
    again = store.get_conversation(store.fork(store.fork(forked)))
    assert again.title == "one (fork 3)"
    # The first number no title has, whatever was forked (found by QA: two forks of one
    # conversation from the command line read the same).
    assert store.get_conversation(store.fork(cid)).title == "one (fork 4)"
    # The original is untouched, and the copy costs nothing new.
    assert len(store.get_conversation(cid).messages) == 5
    assert store.usage_report(by="conversation") == spent
    # Without a message: the whole current branch.
    whole = store.get_conversation(store.fork(cid))
    assert [m.content for m in whole.messages] == ["one", "uno", "two", "dos again"]
    with pytest.raises(NotFoundError):
        store.fork(cid, q1 + 10_000)
    # A title with LIKE's wildcards and a number of its own.
    store.rename(cid, "50%_off \\ (fork 9)")
    assert store.get_conversation(store.fork(cid)).title == "50%_off \\ (fork 10)"
    assert store.get_conversation(store.fork(cid)).title == "50%_off \\ (fork 11)"


def test_delete_subtree_takes_a_message_and_all_below_it(store: SessionStore):
    cid = _new(store)
    q1 = store.add_message(cid, "user", "one")
    a1 = _answer(store, cid, "uno", q1)
    q2 = store.add_message(cid, "user", "two")
    _answer(store, cid, "dos", q2)
    store.add_message(cid, "user", "three")
    keep = _answer(store, cid, "uno bis", q1)
    store.set_current_leaf(cid, keep)
    store.set_current_leaf(cid, store.get_conversation(cid).messages[-2].id)  # "three"

    assert store.delete_subtree(a1) == 4
    conv = store.get_conversation(cid)
    assert [m.content for m in conv.messages] == ["one", "uno bis"]
    assert conv.current_leaf == q1  # the leaf was deleted: it moves up to the parent
    assert store.list_conversations(search="dos") == []
    assert store.delete_subtree(a1) == 0


def test_set_current_leaf_refuses_a_message_of_another_conversation(store: SessionStore):
    a, b = _new(store), _new(store)
    other = store.add_message(b, "user", "elsewhere")
    with pytest.raises(NotFoundError):
        store.set_current_leaf(a, other)
    with pytest.raises(NotFoundError):
        store.add_message(a, "user", "x", parent_id=other)


# -- export / import -------------------------------------------------------------------------


def _tree(store: SessionStore) -> str:
    cid = _new(store)
    q1 = store.add_message(cid, "user", "one")
    a1 = _answer(store, cid, "uno", q1)
    q2 = store.add_message(cid, "user", "two")
    _answer(store, cid, "dos", q2)
    q2b = store.add_message(
        cid, "user", "two, edited and longer than forty characters", parent_id=a1
    )
    _answer(store, cid, "dos bis", q2b)
    store.set_current_leaf(cid, store.get_conversation(cid).messages[3].id)  # "dos"
    return cid


def test_json_export_carries_the_tree_and_import_round_trips_it(
    tmp_path: Path, store: SessionStore
):
    cid = _tree(store)
    doc = to_document(store.get_conversation(cid))
    assert [(m["id"], m["parent"]) for m in doc["messages"]] == [
        (1, None),
        (2, 1),
        (3, 2),
        (4, 3),
        (5, 2),
        (6, 5),
    ]
    assert doc["current_leaf"] == 4
    file = tmp_path / "tree.json"
    file.write_text(to_json(store.get_conversation(cid)), encoding="utf-8")
    with SessionStore(tmp_path / "other.db") as other:
        other.add_message(_new(other), "user", "shifts the ids")
        [(_, stored)] = other.insert_conversations(parse_documents(file.read_text()))
        copy = other.get_conversation(stored)
        assert to_document(copy) == doc
        assert [m.content for m in path(copy)] == ["one", "uno", "two", "dos"]


def test_import_orders_parents_first_and_reads_a_version_1_document_as_one_branch(
    store: SessionStore,
):
    doc = {
        "format": "glmchat-conversation",
        "version": 2,
        "id": "abc",
        "current_leaf": 7,
        "messages": [
            {"id": 7, "parent": 3, "role": "assistant", "content": "child first"},
            {"id": 3, "parent": None, "role": "user", "content": "root"},
        ],
    }
    [conv] = parse_documents(json.dumps(doc))
    [(_, stored)] = store.insert_conversations([conv])
    assert _texts(store, stored) == ["root", "child first"]

    old = {
        "format": "glmchat-conversation",
        "version": 1,
        "id": "old",
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
    }
    [(_, stored)] = store.insert_conversations(parse_documents(json.dumps(old)))
    assert _texts(store, stored) == ["a", "b"]


@pytest.mark.parametrize(
    ("messages", "leaf", "says"),
    [
        ([{"id": 1, "parent": 9, "role": "user", "content": "x"}], 1, '"parent" 9'),
        (
            [
                {"id": 1, "parent": 2, "role": "user", "content": "x"},
                {"id": 2, "parent": 1, "role": "assistant", "content": "y"},
            ],
            1,
            "cycle",
        ),
        ([{"id": 1, "parent": 1, "role": "user", "content": "x"}], 1, "cycle"),
        (
            [
                {"id": 1, "role": "user", "content": "x"},
                {"id": 1, "role": "assistant", "content": "y"},
            ],
            1,
            "used twice",
        ),
        (
            [{"id": 1, "role": "user", "content": "x"}, {"role": "assistant", "content": "y"}],
            1,
            '"id" is missing',
        ),
        ([{"id": 1, "role": "user", "content": "x"}], 5, '"current_leaf" 5'),
        ([{"id": "1", "role": "user", "content": "x"}], 1, "whole number"),
        ([{"id": 1, "parent": True, "role": "user", "content": "x"}], 1, "whole number"),
    ],
)
def test_import_refuses_a_broken_tree_and_imports_nothing(
    store: SessionStore, messages: list[dict[str, object]], leaf: int, says: str
):
    doc = {
        "format": "glmchat-conversation",
        "version": 2,
        "id": "bad",
        "current_leaf": leaf,
        "messages": messages,
    }
    with pytest.raises(ImportFormatError, match=says) as caught:
        parse_documents(json.dumps(doc))
    assert "nothing imported" in str(caught.value) and "\n" not in str(caught.value)
    assert store.count_conversations() == 0


def test_markdown_prints_the_current_branch_and_lists_the_others(store: SessionStore):
    text = to_markdown(store.get_conversation(_tree(store)))
    body, others = text.split("## Other branches")
    assert "dos" in body and "two, edited" not in body and "dos bis" not in body
    assert others.strip() == (
        '- after message 2: prompt "two, edited and longer than forty chara…" (2 messages)'
    )


# -- search ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fts", [True, False])
def test_search_finds_text_on_any_branch_and_names_the_message(
    tmp_path: Path, fts: bool, monkeypatch: pytest.MonkeyPatch
):
    if not fts:
        monkeypatch.setattr("glmchat.store.connection.fts5_available", lambda: False)
    with SessionStore(tmp_path / "s.db") as store:
        assert store.fts_enabled is fts
        cid = _tree(store)
        conv = store.get_conversation(cid)
        hidden = next(m for m in conv.messages if m.content == "dos bis")
        [hit] = store.list_conversations(search="bis")
        assert hit.id == cid and hit.hit_message_id == hidden.id
        # Opening the hit switches to its branch.
        store.open_at(cid, hit.hit_message_id)
        assert _texts(store, cid)[-1] == "dos bis"
        [title_hit] = store.list_conversations(search="one")
        assert title_hit.id == cid


def test_a_conversation_built_without_ids_is_inserted_as_one_branch(store: SessionStore):
    from glmchat.store import Conversation, StoredMessage

    messages = tuple(
        StoredMessage(id=0, conversation_id="", position=0, role=role, content=text)
        for role, text in (("user", "q"), ("assistant", "a"), ("user", "q2"))
    )
    conv = Conversation(
        "built",
        "t",
        "2026-01-01T00:00:00.000Z",
        "2026-01-01T00:00:00.000Z",
        None,
        None,
        None,
        None,
        messages=messages,
    )
    [(_, stored)] = store.insert_conversations([conv])
    assert _texts(store, stored) == ["q", "a", "q2"]


def test_a_conversation_inserted_without_a_leaf_opens_on_its_newest_message(
    store: SessionStore,
):
    """Built in code or imported without `current_leaf`: it must not open empty."""
    from glmchat.store import Conversation, StoredMessage

    stamp = "2026-01-01T00:00:00.000Z"
    lone = StoredMessage(id=0, conversation_id="", position=0, role="user", content="only me")
    conversation = Conversation(
        id="lone00000001",
        title="t",
        created=stamp,
        updated=stamp,
        model="glm-4.5",
        provider="zai",
        thinking=True,
        system_prompt=None,
        messages=(lone,),
    )
    store.insert_conversations([conversation])
    stored = store.get_conversation("lone00000001")
    assert [m.content for m in path(stored)] == ["only me"]
