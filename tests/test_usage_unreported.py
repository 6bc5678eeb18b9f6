"""Token counts a provider did not send are unknown in `glmchat usage` too, never 0: a sum over
answers none of which carried a count is null (shown `?`), one that some left out says how many
(`≥` in the table), whether the answers were saved by this glmchat, by an older one (the
ledger's migration) or imported."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from glmchat.cli import main
from glmchat.store import SessionStore, parse_documents, to_document, to_json
from glmchat.store.migrations import migrate
from glmchat.store.usage import UsageRow
from tests.test_ask_cli import ask
from tests.test_ask_usage import _answer_with_usage
from tests.wire_server import WireServer

# What the backend keeps of a provider's usage without `*_tokens_details` (Usage.as_dict).
NO_DETAILS = {
    "prompt_tokens": 900,
    "completion_tokens": 4000,
    "total_tokens": 4900,
    "cached_tokens": None,
    "reasoning_tokens": None,
}
DETAILS = {**NO_DETAILS, "cached_tokens": 300, "reasoning_tokens": 2500}
COUNTS = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens")


def _answer(store: SessionStore, cid: str, usage: dict[str, Any] | None, cost: float | None):
    store.add_message(cid, "user", "a prompt", provider="zai", model="glm-4.5")
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
    store.finish_assistant(
        mid,
        content="an answer",
        reasoning="a long think " * 300,
        status="complete",
        usage=usage,
        cost=cost,
        cost_source="catalogue" if cost is not None else None,
    )
    return mid


def _conv(store: SessionStore) -> str:
    return store.create_conversation(model="glm-4.5", provider="zai", thinking=True)


def usage_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["usage", "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def usage_table(capsys: pytest.CaptureFixture[str], *args: str) -> list[list[str]]:
    code = main(["usage", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [line.split() for line in out.splitlines() if line and not line.startswith("-")]


# -- the store's sums ------------------------------------------------------------------------


def test_a_count_no_answer_reported_is_none_and_one_some_did_says_how_many_did_not(
    store: SessionStore,
) -> None:
    silent, mixed = _conv(store), _conv(store)
    for _ in range(3):
        _answer(store, silent, NO_DETAILS, 0.01)
    _answer(store, mixed, DETAILS, 0.01)
    _answer(store, mixed, NO_DETAILS, 0.01)
    _answer(store, mixed, {"completion_tokens": 7}, None)  # no input count either
    _answer(store, mixed, None, 0.02)  # a cost and no usage at all
    rows = {row.key: row for row in store.usage_report("conversation")}

    none = rows[silent]
    assert (none.answers, none.prompt_tokens, none.completion_tokens) == (3, 2700, 12000)
    assert none.cached_tokens is None and none.reasoning_tokens is None
    assert (none.unreported("cached_tokens"), none.unreported("reasoning_tokens")) == (3, 3)
    assert none.unreported("prompt_tokens") == 0

    some = rows[mixed]
    assert some.answers == 4
    assert (some.cached_tokens, some.unreported("cached_tokens")) == (300, 3)
    assert (some.reasoning_tokens, some.unreported("reasoning_tokens")) == (2500, 3)
    assert (some.prompt_tokens, some.unreported("prompt_tokens")) == (1800, 2)
    assert (some.completion_tokens, some.unreported("completion_tokens")) == (8007, 1)

    # Each grouping sums the same way.
    (model,) = store.usage_report("model")
    (day,) = store.usage_report("day")
    for row in (model, day):
        assert (row.answers, row.cached_tokens, row.unreported("cached_tokens")) == (7, 300, 6)


def test_an_answer_saved_again_counts_its_last_usage_once(store: SessionStore) -> None:
    """The ledger's update trigger takes back what the row had counted, reported or not."""
    cid = _conv(store)
    mid = _answer(store, cid, NO_DETAILS, 0.01)
    store.finish_assistant(
        mid, content="x", reasoning="", status="complete", usage=DETAILS, cost=0.01
    )
    (row,) = store.usage_report("model")
    assert (row.answers, row.cached_tokens, row.unreported("cached_tokens")) == (1, 300, 0)
    store.finish_assistant(
        mid, content="x", reasoning="", status="complete", usage=NO_DETAILS, cost=0.01
    )
    (row,) = store.usage_report("model")
    assert (row.answers, row.cached_tokens, row.unreported("cached_tokens")) == (1, None, 1)


def test_a_count_that_is_not_a_number_is_not_reported(store: SessionStore) -> None:
    """An imported usage may hold anything: only a number is a count the provider sent."""
    cid = _conv(store)
    _answer(store, cid, {**NO_DETAILS, "cached_tokens": "many", "reasoning_tokens": True}, 0.01)
    (row,) = store.usage_report("model")
    assert row.cached_tokens is None and row.reasoning_tokens is None


def test_a_sent_zero_stays_zero(store: SessionStore) -> None:
    _answer(store, _conv(store), {**NO_DETAILS, "cached_tokens": 0, "reasoning_tokens": 0}, 0.01)
    (row,) = store.usage_report("day")
    assert (row.cached_tokens, row.reasoning_tokens) == (0, 0)
    assert row.unreported("cached_tokens") == 0


def test_a_database_from_before_the_counts_were_told_apart_is_summed_right(
    db_path: Path,
) -> None:
    """Schema 8 summed a missing count as 0; opening it works out which answers reported
    each count. An answer deleted before (the ledger keeps what it cost) is unknown."""
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, target=8)
    conn.execute(
        "INSERT INTO conversations (id, title, created, updated, model, provider, thinking) "
        "VALUES ('aaaaaaaaaaaa', 'old', '2026-08-20T10:00:00.000Z', "
        "'2026-08-20T10:00:00.000Z', 'glm-4.5', 'zai', 1)"
    )
    rows = [
        (0, "user", None),
        (1, "assistant", json.dumps(NO_DETAILS)),
        (2, "user", None),
        (3, "assistant", json.dumps(DETAILS)),
        (4, "assistant", "not json"),
        (5, "assistant", json.dumps(DETAILS)),
    ]
    for position, role, usage in rows:
        conn.execute(
            "INSERT INTO messages (conversation_id, position, role, content, usage, started, "
            "finished, provider, model) VALUES ('aaaaaaaaaaaa', ?, ?, 'text', ?, "
            "'2026-08-20T10:00:00.000Z', '2026-08-20T10:00:05.000Z', 'zai', 'glm-4.5')",
            (position, role, usage),
        )
    conn.execute("DELETE FROM messages WHERE position = 5")  # the ledger keeps it
    old_sums = conn.execute(
        "SELECT answers, prompt_tokens, cached_tokens, reasoning_tokens FROM usage_hours"
    ).fetchall()
    assert old_sums == [(4, 2700, 600, 5000)]
    conn.close()

    with SessionStore(db_path) as store:
        (row,) = store.usage_report("model")
        assert (row.answers, row.prompt_tokens, row.unreported("prompt_tokens")) == (4, 2700, 2)
        assert (row.cached_tokens, row.unreported("cached_tokens")) == (600, 3)
        assert (row.reasoning_tokens, row.unreported("reasoning_tokens")) == (5000, 3)
        # New answers go on being told apart.
        _answer(store, "aaaaaaaaaaaa", NO_DETAILS, None)
        (row,) = store.usage_report("conversation")
        assert (row.answers, row.cached_tokens, row.unreported("cached_tokens")) == (5, 600, 4)


def test_an_old_database_whose_answers_never_reported_a_count_sums_to_none(
    db_path: Path,
) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn, target=8)
    conn.execute(
        "INSERT INTO conversations (id, created, updated) VALUES "
        "('bbbbbbbbbbbb', '2026-08-20T10:00:00.000Z', '2026-08-20T10:00:00.000Z')"
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, position, role, usage, finished) VALUES "
        "('bbbbbbbbbbbb', 0, 'assistant', ?, '2026-08-20T10:00:05.000Z')",
        (json.dumps(NO_DETAILS),),
    )
    conn.close()
    with SessionStore(db_path) as store:
        (row,) = store.usage_report("day")
        assert row.cached_tokens is None and row.reasoning_tokens is None
        assert row.prompt_tokens == 900


def test_an_import_keeps_a_missing_count_missing(store: SessionStore) -> None:
    """`sessions import` stores a usage as the export has it: null stays null, an absent
    count stays absent, and neither is summed as 0."""
    source = _conv(store)
    _answer(store, source, NO_DETAILS, 0.01)
    doc = {**to_document(store.get_conversation(source)), "id": "elsewhere0001"}
    doc["messages"][1]["usage"] = {"prompt_tokens": 5, "completion_tokens": 6}  # keys absent
    store.insert_conversations(parse_documents(json.dumps(doc)))
    imported = store.get_conversation("elsewhere0001").messages[1]
    assert imported.usage == {"prompt_tokens": 5, "completion_tokens": 6}
    assert json.loads(to_json(store.get_conversation(source)))["messages"][1]["usage"] == (
        NO_DETAILS
    )
    rows = {row.key: row for row in store.usage_report("conversation")}
    assert rows["elsewhere0001"].cached_tokens is None
    assert rows["elsewhere0001"].reasoning_tokens is None
    assert rows["elsewhere0001"].prompt_tokens == 5


# -- glmchat usage ---------------------------------------------------------------------------


def test_usage_json_says_null_and_how_many_answers_left_a_count_out(
    store: SessionStore, capsys: pytest.CaptureFixture[str]
) -> None:
    silent, mixed = _conv(store), _conv(store)
    _answer(store, silent, NO_DETAILS, 0.01)
    _answer(store, silent, NO_DETAILS, 0.01)
    _answer(store, mixed, DETAILS, 0.01)
    _answer(store, mixed, NO_DETAILS, 0.01)

    doc = usage_json(capsys, "--by", "conversation")
    rows = {row["conversation"]: row for row in doc["rows"]}
    assert rows[silent]["cached_tokens"] is None and rows[silent]["reasoning_tokens"] is None
    assert rows[silent]["input_tokens"] == 1800 and rows[silent]["output_tokens"] == 8000
    assert rows[silent]["unreported_answers"] == {
        "input_tokens": 0,
        "cached_tokens": 2,
        "output_tokens": 0,
        "reasoning_tokens": 2,
    }
    assert (rows[mixed]["cached_tokens"], rows[mixed]["reasoning_tokens"]) == (300, 2500)
    assert rows[mixed]["unreported_answers"]["cached_tokens"] == 1
    total = doc["total"]
    assert (total["answers"], total["cached_tokens"], total["reasoning_tokens"]) == (4, 300, 2500)
    assert total["unreported_answers"] == {
        "input_tokens": 0,
        "cached_tokens": 3,
        "output_tokens": 0,
        "reasoning_tokens": 3,
    }
    # The grouping by day (the default) agrees.
    (day,) = usage_json(capsys)["rows"]
    assert {key: day[key] for key in COUNTS} == {key: total[key] for key in COUNTS}


def test_usage_json_of_answers_that_never_reported_a_count(
    store: SessionStore, capsys: pytest.CaptureFixture[str]
) -> None:
    _answer(store, _conv(store), NO_DETAILS, 0.01)
    doc = usage_json(capsys)
    for row in (*doc["rows"], doc["total"]):
        assert row["cached_tokens"] is None and row["reasoning_tokens"] is None
        assert row["input_tokens"] == 900 and row["unreported_answers"]["cached_tokens"] == 1


def test_usage_json_of_a_period_with_no_answers(
    store: SessionStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """No answers: nothing is known of any count, as of the cost."""
    _answer(store, _conv(store), DETAILS, 0.01)
    doc = usage_json(capsys, "--until", "2000-01-01")
    assert doc["rows"] == []
    assert {key: doc["total"][key] for key in (*COUNTS, "cost")} == dict.fromkeys((*COUNTS, "cost"))
    assert doc["total"]["unreported_answers"] == dict.fromkeys(COUNTS, 0)


def test_usage_table_shows_an_unknown_count_as_unknown(
    store: SessionStore, capsys: pytest.CaptureFixture[str]
) -> None:
    silent, mixed = _conv(store), _conv(store)
    _answer(store, silent, NO_DETAILS, 0.01)
    _answer(store, mixed, DETAILS, 0.01)
    _answer(store, mixed, NO_DETAILS, 0.01)
    header, *rows, total = usage_table(capsys, "--by", "conversation")
    assert header == ["conversation", "answers", "input", "cached", "output", "reasoning", "cost"]
    cells = {row[0]: row[-6:] for row in rows}
    # answers, input, cached, output, reasoning, cost
    assert cells[silent] == ["1", "900", "?", "4,000", "?", "$0.010"]
    assert cells[mixed] == ["2", "1,800", "≥300", "8,000", "≥2,500", "$0.020"]
    assert total[-6:] == ["3", "2,700", "≥300", "12,000", "≥2,500", "$0.030"]
    assert not any(cell == "0" for row in (*rows, total) for cell in row[-6:])


def test_the_help_says_what_the_marks_mean(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["usage", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "? " in text and "did not send" in text


# -- end to end: what `ask --json` says null, `usage` does too ------------------------------


def test_an_answer_without_detail_counts_is_unknown_in_usage_as_in_ask(
    wire: WireServer, capsys: pytest.CaptureFixture[str]
) -> None:
    wire.reply(_answer_with_usage({"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}))
    proc = ask("--json", "--base-url", wire.url, "hi")
    assert proc.returncode == 0, proc.stderr
    said = json.loads(proc.stdout)["usage"]
    assert said["cached_tokens"] is None and said["reasoning_tokens"] is None
    doc = usage_json(capsys)
    assert doc["total"]["cached_tokens"] is None and doc["total"]["reasoning_tokens"] is None
    assert (doc["total"]["input_tokens"], doc["total"]["output_tokens"]) == (9, 2)
    assert usage_table(capsys)[-1][3:6] == ["?", "2", "?"]


def test_a_usage_row_made_by_hand_knows_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    row = UsageRow("zai/glm-4.5", answers=2)
    assert row.cached_tokens is None and row.unreported("cached_tokens") == 2
