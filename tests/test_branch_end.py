"""Opening a saved conversation from the end of its branch: the store reads that end (with
the siblings `‹ 2/3 ›` counts) in O(count), and the engine reads the whole before any request
or move in the tree, keeping the turns it held."""

from __future__ import annotations

from functools import partial
from typing import Any

from glmchat.config import load_settings
from glmchat.engine import ConversationEngine
from glmchat.store import SessionStore
from glmchat.store.tree import path


def branchy(store: SessionStore, exchanges: int = 30) -> tuple[str, list[int]]:
    """`exchanges` exchanges; the answer of exchange 20 has a second version with a reply
    below it, and the first prompt a second version; shown: the first, long branch."""
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
    ids: list[int] = []
    for i in range(exchanges):
        ids.append(store.add_message(cid, "user", f"question {i}"))
        ids.append(store.add_message(cid, "assistant", f"answer {i}"))
    leaf = ids[-1]
    other = store.add_message(cid, "assistant", "answer 20, again", parent_id=ids[40])
    store.add_message(cid, "user", "below the other answer", parent_id=other)
    store.add_message(cid, "user", "question 0, again", parent_id=None)
    store.set_current_leaf(cid, leaf)
    return cid, ids


def test_the_end_of_a_branch_starts_at_a_prompt_and_holds_the_siblings(
    store: SessionStore,
) -> None:
    cid, ids = branchy(store)
    end, whole = store.get_branch_end(cid, 21)
    assert not whole
    contents = [m.content for m in end.messages]
    # 21 messages up from the leaf would start at an answer: the end starts at its prompt.
    assert contents[0] == "question 20"
    assert [m.content for m in path(end)][-2:] == ["question 29", "answer 29"]
    assert "answer 20, again" in contents  # a sibling of a message of the end
    assert "below the other answer" not in contents  # but not what hangs below it
    assert "question 0, again" not in contents  # nor the roots: the end does not reach them
    assert end.current_leaf == ids[-1]
    everything, whole = store.get_branch_end(cid, 1000)
    assert len(everything.messages) == 60 + 2 and not whole  # the other branch's reply
    assert "question 0, again" in [m.content for m in everything.messages]
    alone = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
    store.add_message(alone, "user", "just one")
    assert store.get_branch_end(alone, 10)[1]


def test_the_engine_reads_the_whole_before_a_move_and_keeps_its_turns(
    store: SessionStore,
) -> None:
    cid, ids = branchy(store)
    end, _ = store.get_branch_end(cid, 21)
    rest = partial(store.get_conversation, cid)
    clients: Any = lambda _provider: None  # noqa: E731 (no request is made)
    engine = ConversationEngine.resume(load_settings(), store, clients, end, rest=rest)
    held = list(engine.turns)
    assert [t.content for t in held][:2] == ["question 20", "answer 20"]
    assert held[1].siblings == (1, 2)  # counted from the end alone
    # A move in the tree reads the whole first: the branch is whole, with the same turns.
    assert engine.switch_sibling(1, 1)
    assert [t.content for t in engine.turns][-3:] == [
        "question 20",
        "answer 20, again",
        "below the other answer",
    ]
    assert len(engine.turns) == 43 and engine.turns[40] is held[0]
    assert engine.switch_sibling(41, -1)
    assert len(engine.turns) == 60 and len(held) == 20  # from question 20 on
    assert all(a is b for a, b in zip(engine.turns[-20:], held, strict=True))
    assert engine.turns[0].siblings == (1, 2)  # the roots, known now
    assert not engine.read_whole()  # read once


def test_a_conversation_whose_rest_cannot_be_read_sends_nothing_on_its_end_alone(
    store: SessionStore,
) -> None:
    """A cut history must never reach the model: while the whole cannot be read, a prompt,
    a regeneration and a move in the tree are refused with a line that says so, and nothing is
    saved; once the store reads it, they work."""
    from glmchat.engine import HistoryUnavailable

    cid, _ = branchy(store)
    end, _ = store.get_branch_end(cid, 21)
    failing = [True]

    def rest() -> Any:
        return None if failing[0] else store.get_conversation(cid)  # None: the store failed

    clients: Any = lambda _provider: None  # noqa: E731 (no request is made)
    engine = ConversationEngine.resume(load_settings(), store, clients, end, rest=rest)
    before = len(store.get_conversation(cid).messages)  # type: ignore[union-attr]
    for attempt in (
        lambda: engine.send("a new question"),
        lambda: engine.retry(),
        lambda: engine.switch_sibling(1, 1),
    ):
        try:
            attempt()
        except HistoryUnavailable as exc:
            assert "nothing was sent" in str(exc)
        else:
            raise AssertionError("a request on the end alone was made")
    assert not engine.is_whole
    assert len(store.get_conversation(cid).messages) == before  # type: ignore[union-attr]
    failing[0] = False
    assert engine.switch_sibling(1, 1)  # read now: the move is made
    assert engine.is_whole and len(engine.turns) == 43
