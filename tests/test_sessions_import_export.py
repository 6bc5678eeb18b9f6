"""`sessions import` validates the whole document first; `sessions export -o` writes safely."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from glmchat.cli import main
from glmchat.store import SessionStore


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def document(conv_id: str = "conv1", **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "glmchat-conversation",
        "version": 1,
        "id": conv_id,
        "title": "a title",
        "created": "2026-01-02T03:04:05.000Z",
        "updated": "2026-01-02T03:05:00.000Z",
        "messages": [
            {"role": "user", "content": "q", "started": "2026-01-02T03:04:05.000Z"},
            {"role": "assistant", "content": "a", "finished": "2026-01-02T03:05:00.000Z"},
        ],
    }
    doc.update(fields)
    return doc


def import_docs(capsys: pytest.CaptureFixture[str], tmp_path: Path, docs: Any):
    file = tmp_path / "import.json"
    file.write_text(json.dumps(docs), encoding="utf-8")
    return run(capsys, "sessions", "import", str(file))


def stored_count() -> int:
    with SessionStore(paths.database_path()) as store:
        return store.count_conversations()


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"updated": "zzz"}, '"updated" must be an ISO 8601 time'),
        ({"created": "yesterday"}, '"created" must be an ISO 8601 time'),
        ({"created": "2026-13-45T00:00:00Z"}, '"created" must be an ISO 8601 time'),
        ({"updated": 1700000000}, '"updated" must be a string'),
        (
            {"messages": [{"role": "user", "content": "q", "started": "soon"}]},
            '"messages"[0]: "started"',
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a", "finished": "later"},
                ]
            },
            '"messages"[1]: "finished" must be an ISO 8601 time',
        ),
        ({"messages": [{"role": "robot", "content": "q"}]}, '"messages"[0]: "role" must be one of'),
        (
            {"messages": [{"role": "user", "content": 3}]},
            '"messages"[0]: "content" must be a string',
        ),
        ({"title": ["x"]}, '"title" must be a string'),
        ({"thinking": "yes"}, '"thinking" must be true or false'),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_imported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, change: dict[str, Any], where: str
) -> None:
    # A good conversation first: the bad second one must stop both (one transaction).
    code, out, err = import_docs(capsys, tmp_path, [document("good1"), document("bad2", **change)])
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "[1]" in err and where in err and "nothing imported" in err
    assert stored_count() == 0


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z"),
        ("2026-01-02T03:04:05.123456+00:00", "2026-01-02T03:04:05.123Z"),
        ("2026-01-02T05:04:05+02:00", "2026-01-02T03:04:05.000Z"),
        ("2026-01-02T03:04:05", "2026-01-02T03:04:05.000Z"),  # no zone: UTC, like the store
        ("2026-01-02", "2026-01-02T00:00:00.000Z"),
        ("2026-01-02t03:04:05z", "2026-01-02T03:04:05.000Z"),
    ],
)
def test_timestamps_are_normalised_to_the_store_form(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, given: str, stored: str
) -> None:
    doc = document(created=given, updated=given)
    doc["messages"][0]["started"] = given
    code, _, err = import_docs(capsys, tmp_path, doc)
    assert code == 0, err
    with SessionStore(paths.database_path()) as store:
        conv = store.get_conversation("conv1")
    assert (conv.created, conv.updated, conv.messages[0].started) == (stored, stored, stored)


def test_an_imported_conversation_cannot_hijack_continue(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ "zzz" sorted after every real time, so `ask -c` would have picked it for ever."""
    assert import_docs(capsys, tmp_path, document("old1", updated="zzz"))[0] == 2
    assert import_docs(capsys, tmp_path, document("new1"))[0] == 0
    with SessionStore(paths.database_path()) as store:
        most_recent = store.most_recent()
    assert most_recent is not None and most_recent.id == "new1"


def test_an_export_round_trips_exactly(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    assert import_docs(capsys, tmp_path, document())[0] == 0
    code, shown, _ = run(capsys, "sessions", "show", "conv1", "--format", "json")
    run(capsys, "sessions", "rm", "conv1")
    (tmp_path / "again.json").write_text(shown, encoding="utf-8")
    assert run(capsys, "sessions", "import", str(tmp_path / "again.json"))[0] == 0
    assert run(capsys, "sessions", "show", "conv1", "--format", "json")[1] == shown


# --- export -o ------------------------------------------------------------------------------


@pytest.fixture
def conv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    assert import_docs(capsys, tmp_path, document())[0] == 0
    return "conv1"


@pytest.mark.parametrize("depth", [1, 3])
def test_export_refuses_a_missing_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, conv: str, depth: int
) -> None:
    missing = tmp_path / "nonexistent"
    target = missing.joinpath(*["sub"] * (depth - 1), "x.json")
    code, out, err = run(capsys, "sessions", "export", conv, "-o", str(target))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "does not exist" in err and str(target.parent) in err
    assert not missing.exists()


def test_export_refuses_a_directory_as_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, conv: str
) -> None:
    code, _, err = run(capsys, "sessions", "export", conv, "-o", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "is a directory" in err


def test_export_replaces_a_file_atomically_and_privately(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, conv: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.md"
    target.write_text("old contents")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "sessions", "export", conv, "-o", "out.md")  # relative: cwd
    assert code == 0, err
    assert target.read_text().startswith("# a title")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_an_export_imported_back_as_a_copy_is_not_counted_as_spent_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Found by QA: importing one's own export doubled `usage` (and the budget it feeds); a
    # copy costs nothing new, as a fork does not. A conversation new to this database counts.
    paid = document(
        messages=[
            {"role": "user", "content": "q", "started": "2026-01-02T03:04:05.000Z"},
            {
                "role": "assistant",
                "content": "a",
                "finished": "2026-01-02T03:05:00.000Z",
                "usage": {"prompt_tokens": 100, "completion_tokens": 20},
                "cost": 0.5,
            },
        ]
    )

    def totals() -> tuple[int, float]:
        code, out, _ = run(capsys, "usage", "--by", "conversation", "--json")
        rows = json.loads(out)["rows"]
        return sum(r["answers"] for r in rows), sum(r["cost"] or 0 for r in rows)

    assert import_docs(capsys, tmp_path, paid)[0] == 0
    assert totals() == (1, 0.5)
    code, out, _ = import_docs(capsys, tmp_path, paid)  # the same id: stored as a copy
    assert code == 0 and "already exists" in out
    assert totals() == (1, 0.5)
    assert run(capsys, "sessions", "list", "--json")[1].count('"id"') == 2  # both are there
