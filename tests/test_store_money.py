"""The store's money: cost per answer (schema 4), the usage ledger, sums by day, model and
conversation, a conversation's cost in listings and exports."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glmchat.store import (
    ImportFormatError,
    SessionStore,
    parse_documents,
    to_document,
    to_markdown,
)
from glmchat.store.database import SCHEMA_VERSION, migrate


def _answer(
    store: SessionStore,
    cid: str,
    usage: dict | None,
    cost: float | None = None,
    source: str | None = None,
    *,
    provider: str = "zai",
    model: str = "glm-4.5",
    content: str = "an answer",
    status: str = "complete",
) -> int:
    store.add_message(cid, "user", "a prompt", provider=provider, model=model)
    mid = store.begin_assistant(cid, model=model, provider=provider, thinking=True)
    store.finish_assistant(
        mid,
        content=content,
        reasoning="",
        status=status,  # type: ignore[arg-type]
        usage=usage,
        cost=cost,
        cost_source=source,  # type: ignore[arg-type]
    )
    return mid


def _conv(store: SessionStore, provider: str = "zai", model: str = "glm-4.5") -> str:
    return store.create_conversation(model=model, provider=provider, thinking=True)


def _at(store: SessionStore, message_id: int, stamp: str) -> None:
    """Move an answer in time (as if it had finished then); the ledger follows."""
    store._conn.execute("UPDATE messages SET finished = ? WHERE id = ?", (stamp, message_id))


USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "cached_tokens": 300}


# -- the migration -------------------------------------------------------------------------


def test_schema_3_database_gains_costs_and_a_ledger_of_its_answers(db_path: Path) -> None:
    """A database as the release before costs made it (schema 3): OpenRouter's cost, kept in
    an answer's usage, becomes the answer's cost; every answer enters the ledger; a Z.ai
    answer has no cost (it was never computed), so its conversation's cost is unknown."""
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, target=3)
    for cid, provider, model in (
        ("aaaaaaaaaaaa", "openrouter", "z-ai/glm-4.5"),
        ("bbbbbbbbbbbb", "zai", "glm-4.5"),
    ):
        conn.execute(
            "INSERT INTO conversations (id, title, created, updated, model, provider, thinking) "
            "VALUES (?, 'old', '2026-08-20T10:00:00.000Z', '2026-08-20T10:00:00.000Z', ?, ?, 1)",
            (cid, model, provider),
        )
    rows = [
        ("aaaaaaaaaaaa", 0, "user", None, "2026-08-20T10:00:00.000Z", "openrouter", None),
        (
            "aaaaaaaaaaaa",
            1,
            "assistant",
            '{"prompt_tokens": 16, "completion_tokens": 151, "cached_tokens": 0, '
            '"reasoning_tokens": 80, "cost": 0.000248}',
            "2026-08-20T10:00:05.000Z",
            "openrouter",
            "z-ai/glm-4.5",
        ),
        ("bbbbbbbbbbbb", 0, "user", None, "2026-08-21T10:00:00.000Z", "zai", None),
        (
            "bbbbbbbbbbbb",
            1,
            "assistant",
            '{"prompt_tokens": 282, "completion_tokens": 40, "cached_tokens": 43}',
            "2026-08-21T10:00:09.000Z",
            "zai",
            "glm-4.5",
        ),
        ("bbbbbbbbbbbb", 2, "assistant", "not json", "2026-08-21T11:00:00.000Z", "zai", "glm-4.5"),
    ]
    for cid, position, role, usage, stamp, provider, model in rows:
        conn.execute(
            "INSERT INTO messages (conversation_id, position, role, content, usage, started, "
            "finished, provider, model) VALUES (?, ?, ?, 'text', ?, ?, ?, ?, ?)",
            (cid, position, role, usage, stamp, stamp, provider, model),
        )
    conn.close()

    with SessionStore(db_path) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        openrouter = store.get_conversation("aaaa").messages[1]
        assert (openrouter.cost, openrouter.cost_source) == (0.000248, "provider")
        zai = store.get_conversation("bbbb").messages[1]
        assert (zai.cost, zai.cost_source) == (None, None)
        costs = {s.id: s.cost for s in store.list_conversations()}
        assert costs == {"aaaaaaaaaaaa": 0.000248, "bbbbbbbbbbbb": None}
        by_model = {row.key: row for row in store.usage_report("model")}
        assert by_model["openrouter/z-ai/glm-4.5"].cost == 0.000248
        assert by_model["openrouter/z-ai/glm-4.5"].reasoning_tokens == 80
        # The damaged usage cell counts as an answer with no figures; it breaks nothing.
        assert (by_model["zai/glm-4.5"].answers, by_model["zai/glm-4.5"].prompt_tokens) == (2, 282)
        assert by_model["zai/glm-4.5"].cached_tokens == 43
        assert by_model["zai/glm-4.5"].cost is None and by_model["zai/glm-4.5"].unpriced == 2


# -- the ledger ----------------------------------------------------------------------------


def test_an_answer_enters_the_ledger_when_it_finishes_and_once(store: SessionStore) -> None:
    cid = _conv(store)
    mid = _answer(store, cid, None, content="", status="error")  # nothing written: no count
    assert store.usage_report("model") == []
    store.finish_assistant(
        mid,
        content="x",
        reasoning="",
        status="complete",
        usage=USAGE,
        cost=0.01,
        cost_source="catalogue",
    )
    # Saved again (a later finish of the same row) replaces its figures, never adds twice.
    store.finish_assistant(
        mid,
        content="x",
        reasoning="",
        status="complete",
        usage=USAGE,
        cost=0.02,
        cost_source="catalogue",
    )
    (row,) = store.usage_report("model")
    assert (row.answers, row.prompt_tokens, row.cached_tokens, row.completion_tokens) == (
        1,
        1000,
        300,
        200,
    )
    assert row.cost == pytest.approx(0.02)


@pytest.mark.parametrize("status", ["cancelled", "partial", "complete"])
def test_an_answer_with_text_and_no_usage_counts_with_its_cost_unknown(
    store: SessionStore, status: str
) -> None:
    """Found by QA: an answer stopped with escape or cut off (no usage comes) was left out of
    the ledger: the totals read as complete, and nothing said an answer was missing."""
    cid = _conv(store)
    _answer(store, cid, USAGE, 0.01, "catalogue")
    _answer(store, cid, None, content="words were written", status=status)
    _answer(store, cid, None, content="", status="cancelled")  # stopped before any: none
    (row,) = store.usage_report("conversation")
    assert (row.answers, row.priced, row.unpriced, row.known_cost) == (2, 1, 1, 0.01)
    assert row.prompt_tokens == 1000
    # Each count is one answer short of complete (`unreported_answers` in `usage --json`).
    assert row.unreported("prompt_tokens") == 1
    # A checkpoint of an answer still streaming counts nothing yet.
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
    store.checkpoint(mid, "streaming text", "")
    assert store.usage_report("conversation")[0].answers == 2


def test_the_markdown_export_s_total_says_an_answer_s_cost_is_unknown(
    store: SessionStore,
) -> None:
    cid = _conv(store)
    _answer(store, cid, USAGE, 0.0031, "catalogue")
    _answer(store, cid, None, content="stopped half", status="cancelled")
    _answer(store, cid, None, content="", status="cancelled")
    markdown = to_markdown(store.get_conversation(cid))
    assert "at least $0.0031 (1 of 2 answers at no known price)" in markdown
    assert "*cancelled: stopped before its end (escape, Ctrl-C, or glmchat closed)*" in markdown
    assert "*cancelled: stopped before any answer*" in markdown  # as the chat says it


def test_what_was_spent_stays_when_messages_are_deleted(store: SessionStore) -> None:
    """A retried answer and a deleted conversation were paid for: the ledger keeps them."""
    cid = _conv(store)
    first = _answer(store, cid, USAGE, 0.01, "catalogue")
    store.delete_message(first)  # a retry drops the answer it replaces
    _answer(store, cid, USAGE, 0.01, "catalogue")
    store.delete(cid)
    (row,) = store.usage_report("conversation")
    assert (row.key, row.answers, row.deleted, row.title) == (cid, 2, True, None)
    assert row.cost == pytest.approx(0.02)


def test_usage_over_many_conversations_by_day_model_and_conversation(
    store: SessionStore,
) -> None:
    """Three days, two models, 30 conversations of 3 answers: each grouping sums to the same
    totals, and --since/--until take whole local days, both included."""
    today = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=n) for n in (2, 1, 0)]
    expected_cost = 0.0
    for n in range(30):
        model = "glm-4.5" if n % 3 else "glm-4.6"
        cid = _conv(store, model=model)
        for k in range(3):
            cost = 0.001 * (n + 1)
            mid = _answer(
                store, cid, {**USAGE, "reasoning_tokens": k}, cost, "catalogue", model=model
            )
            moment = days[n % 3] + timedelta(minutes=k)
            _at(store, mid, moment.astimezone(UTC).isoformat().replace("+00:00", "Z"))
            expected_cost += cost
    store._conn.commit()

    by_day = store.usage_report("day")
    assert [row.key for row in by_day] == [d.date().isoformat() for d in days]
    assert [row.answers for row in by_day] == [30, 30, 30]
    by_model = store.usage_report("model")
    assert {row.key: row.answers for row in by_model} == {"zai/glm-4.5": 60, "zai/glm-4.6": 30}
    by_conversation = store.usage_report("conversation")
    assert len(by_conversation) == 30
    assert by_conversation[0].cost == pytest.approx(0.03 * 3)  # the dearest first
    for rows in (by_day, by_model, by_conversation):
        assert sum(r.prompt_tokens for r in rows) == 90 * 1000
        assert sum(r.cached_tokens for r in rows) == 90 * 300
        assert sum(r.reasoning_tokens for r in rows) == 30 * (0 + 1 + 2)
        assert sum(r.known_cost for r in rows) == pytest.approx(expected_cost)

    yesterday = days[1].date()
    (only,) = store.usage_report("day", since=yesterday, until=yesterday)
    assert (only.key, only.answers) == (yesterday.isoformat(), 30)
    assert [r.key for r in store.usage_report("day", since=yesterday)] == [
        yesterday.isoformat(),
        today.date().isoformat(),
    ]
    assert store.usage_report("model", until=days[0].date() - timedelta(days=1)) == []


def test_spent_since_and_prompts_in_a_window(store: SessionStore) -> None:
    now = datetime.now(UTC)
    cid = _conv(store, provider="zai-coding")
    old = _answer(store, cid, USAGE, 1.0, "catalogue", provider="zai-coding")
    _at(store, old, (now - timedelta(days=40)).isoformat().replace("+00:00", "Z"))
    store._conn.execute(
        "UPDATE messages SET started = ? WHERE role = 'user'",
        ((now - timedelta(hours=6)).isoformat().replace("+00:00", "Z"),),
    )
    _answer(store, cid, USAGE, 0.25, "catalogue", provider="zai-coding")
    _answer(store, cid, USAGE, None, None, provider="zai-coding")  # unpriced: adds nothing
    store._conn.commit()
    assert store.spent_since(now - timedelta(days=1)) == pytest.approx(0.25)
    assert store.spent_since(now - timedelta(days=41)) == pytest.approx(1.25)
    assert store.prompts_since("zai-coding", now - timedelta(hours=5)) == 2
    assert store.prompts_since("zai", now - timedelta(hours=5)) == 0


# -- listings and exports ------------------------------------------------------------------


def test_a_conversation_s_cost_is_null_when_any_answer_s_is_unknown(store: SessionStore) -> None:
    priced = _conv(store)
    _answer(store, priced, USAGE, 0.002, "catalogue")
    _answer(store, priced, USAGE, 0.003, "provider")
    _answer(store, priced, None, content="", status="error")  # failed before any text
    stopped = _conv(store)  # stopped with escape: text, but no usage came
    _answer(store, stopped, USAGE, 0.002, "catalogue")
    _answer(store, stopped, None, content="half an ans", status="cancelled")
    mixed = _conv(store)
    _answer(store, mixed, USAGE, 0.002, "catalogue")
    _answer(store, mixed, USAGE, None)
    empty = _conv(store)
    costs = {s.id: s.as_dict()["cost"] for s in store.list_conversations()}
    assert costs[priced] == pytest.approx(0.005)
    assert costs[mixed] is None and costs[empty] is None
    assert costs[stopped] is None  # tokens were spent on it: its cost is unknown, not 0


def test_exports_carry_costs_and_import_checks_them(store: SessionStore) -> None:
    cid = _conv(store)
    _answer(store, cid, USAGE, 0.0031, "catalogue")
    _answer(store, cid, {**USAGE, "cost": 0.04}, 0.04, "provider")
    conv = store.get_conversation(cid)
    doc = to_document(conv)
    answers = [m for m in doc["messages"] if m["role"] == "assistant"]
    assert [(m["cost"], m["cost_source"]) for m in answers] == [
        (0.0031, "catalogue"),
        (0.04, "provider"),
    ]
    (back,) = parse_documents(json.dumps(doc))
    assert [m.cost for m in back.messages] == [m.cost for m in conv.messages]
    assert [m.cost_source for m in back.messages] == [m.cost_source for m in conv.messages]

    markdown = to_markdown(conv)
    assert "- Cost: $0.043" in markdown
    assert "*Cost: $0.0031 (from the model's prices)*" in markdown
    assert "*Cost: $0.040 (as the provider reported)*" in markdown

    for bad in ("1", -0.5, float("nan"), True):
        broken = json.loads(json.dumps(doc))
        broken["messages"][1]["cost"] = bad
        with pytest.raises(ImportFormatError, match='"cost" must be a number'):
            parse_documents(json.dumps(broken))
    broken = json.loads(json.dumps(doc))
    broken["messages"][1]["cost_source"] = "guess"
    with pytest.raises(ImportFormatError, match='"cost_source" must be one of'):
        parse_documents(json.dumps(broken))
    old = json.loads(json.dumps(doc))
    for m in old["messages"]:  # an export from before costs: no such fields
        m.pop("cost", None)
        m.pop("cost_source", None)
    assert all(m.cost is None for m in parse_documents(json.dumps(old))[0].messages)


def test_imported_answers_enter_the_ledger(store: SessionStore) -> None:
    source = _conv(store)
    _answer(store, source, USAGE, 0.5, "provider")
    # As from another machine: a conversation this database does not hold. (One it holds
    # is stored as a copy, which costs nothing new: tests/test_sessions_import_export.py.)
    doc = {**to_document(store.get_conversation(source)), "id": "elsewhere0001"}
    store.insert_conversations(parse_documents(json.dumps(doc)))
    assert sum(r.answers for r in store.usage_report("conversation")) == 2
    (day,) = store.usage_report("day")
    assert (day.key, day.answers) == (datetime.now().astimezone().date().isoformat(), 2)


def test_a_deleted_conversation_imported_again_is_not_counted_twice(
    store: SessionStore,
) -> None:
    """Found by QA: `sessions rm` then `sessions import` of its export counted its answers a
    second time (the deleted one's spend stays in the ledger, under the same id)."""
    cid = _conv(store)
    _answer(store, cid, USAGE, 0.5, "provider")
    doc = to_document(store.get_conversation(cid))
    before = [(r.key, r.answers, r.cost) for r in store.usage_report("conversation")]
    store.delete(cid)
    [(_, stored)] = store.insert_conversations(parse_documents(json.dumps(doc)))
    assert stored == cid  # its own id again: nothing holds it
    assert [(r.key, r.answers, r.cost) for r in store.usage_report("conversation")] == before
    (row,) = store.usage_report("conversation")
    assert not row.deleted and row.title  # listed as the conversation it is again
    # Imported once more while it is there: a copy under a new id, costing nothing new.
    store.insert_conversations(parse_documents(json.dumps(doc)))
    assert [(r.answers, r.cost) for r in store.usage_report("conversation")] == [(1, 0.5)]


def test_answers_with_no_time_are_a_day_of_their_own(store: SessionStore) -> None:
    """An imported answer without timestamps still counts: by day it is "unknown"."""
    doc = {
        "format": "glmchat-conversation",
        "version": 1,
        "id": "undated00001",
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": "a",
                "usage": USAGE,
                "cost": 0.5,
                "cost_source": "provider",
            },
        ],
    }
    store.insert_conversations(parse_documents(json.dumps(doc)))
    _answer(store, _conv(store), USAGE, 0.25, "catalogue")
    rows = store.usage_report("day")
    assert [(r.key, r.answers, r.cost) for r in rows] == [
        ("unknown", 1, 0.5),
        (datetime.now().astimezone().date().isoformat(), 1, 0.25),
    ]
