"""`glmchat sessions ...`: the public command-line contract over the session store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmchat.cli import main
from glmchat.store import SessionStore, parse_documents


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("GLMCHAT_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def store(data_dir: Path) -> Iterator[SessionStore]:
    s = SessionStore(data_dir / "glmchat.db")
    yield s
    s.close()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _add(store: SessionStore, prompt: str, answer: str, reasoning: str = "") -> str:
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
    store.add_message(cid, "user", prompt)
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
    store.finish_assistant(mid, content=answer, reasoning=reasoning, status="complete")
    time.sleep(0.002)  # distinct millisecond timestamps keep the order well defined
    return cid


def _import_ids(store: SessionStore, *ids: str) -> None:
    docs = [
        {
            "format": "glmchat-conversation",
            "version": 1,
            "id": cid,
            "title": f"conversation {cid}",
            "messages": [{"role": "user", "content": "hi"}],
        }
        for cid in ids
    ]
    store.insert_conversations(parse_documents(json.dumps(docs)))


def test_list_empty(capsys: pytest.CaptureFixture[str], data_dir: Path):
    assert _run(capsys, "sessions", "list", "--json") == (0, "[]\n", "")
    code, out, _ = _run(capsys, "sessions", "list")
    assert code == 0 and "no saved conversations" in out
    assert (data_dir / "glmchat.db").exists()


def test_list_json_most_recent_first(capsys: pytest.CaptureFixture[str], store: SessionStore):
    first = _add(store, "first question", "one")
    second = _add(store, "second question\nwith detail", "two")
    code, out, err = _run(capsys, "sessions", "list", "--json")
    assert code == 0 and err == ""
    items = json.loads(out)
    assert [i["id"] for i in items] == [second, first]
    assert items[0]["title"] == "second question"
    assert items[0]["messages"] == 2 and items[0]["model"] == "zai/glm-4.5"
    assert {"id", "title", "created", "updated", "model", "messages"} <= set(items[0])
    assert items[0]["updated"].endswith("Z")
    code, out, _ = _run(capsys, "sessions", "list", "--json", "--limit", "1")
    assert [i["id"] for i in json.loads(out)] == [second]


def test_list_table_is_aligned(capsys: pytest.CaptureFixture[str], store: SessionStore):
    ids = [_add(store, f"question number {i}", "answer") for i in range(3)]
    code, out, _ = _run(capsys, "sessions", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "UPDATED", "MODEL", "MSGS", "TITLE"]
    assert [line.split()[0] for line in lines[1:]] == ids[::-1]
    title_column = lines[0].index("TITLE")
    assert all(line[title_column:].startswith("question number") for line in lines[1:])
    assert all(line.split()[4] == "2" for line in lines[1:])  # ID, date, time, model, count
    assert all(line.split()[3] == "zai/glm-4.5" for line in lines[1:])  # as everywhere else


def test_list_search(capsys: pytest.CaptureFixture[str], store: SessionStore):
    _add(store, "about gardens", "roses and tulips")
    hit = _add(store, "about the sea", "whales sing", reasoning="think of narwhals")
    code, out, _ = _run(capsys, "sessions", "list", "--search", "whales", "--json")
    [item] = json.loads(out)
    assert item["id"] == hit and "whales" in item["snippet"]
    code, out, _ = _run(capsys, "sessions", "list", "--search", "whales")
    assert code == 0 and hit in out and "«whales»" in out
    assert json.loads(_run(capsys, "sessions", "list", "--search", "narwhals", "--json")[1]) == []
    code, out, _ = _run(capsys, "sessions", "list", "--search", "narwhals", "--reasoning", "--json")
    assert [i["id"] for i in json.loads(out)] == [hit]
    code, out, _ = _run(capsys, "sessions", "list", "--search", "zebras")
    assert code == 0 and "no matching conversations" in out


def test_show_json_equals_export_json(
    capsys: pytest.CaptureFixture[str], store: SessionStore, tmp_path: Path
):
    cid = _add(store, "explain WAL", "write-ahead log", reasoning="recall sqlite docs")
    code, shown, _ = _run(capsys, "sessions", "show", cid[:5], "--format", "json")
    assert code == 0
    code, exported, _ = _run(capsys, "sessions", "export", cid, "--format", "json")
    assert code == 0 and exported == shown
    out_file = tmp_path / "out" / "conv.json"
    out_file.parent.mkdir()
    code, out, err = _run(
        capsys, "sessions", "export", cid, "--format", "json", "-o", str(out_file)
    )
    assert code == 0 and out == "" and str(out_file) in err
    assert out_file.read_text(encoding="utf-8") == shown
    doc = json.loads(shown)
    assert doc["format"] == "glmchat-conversation" and doc["id"] == cid
    assert doc["messages"][1]["reasoning"] == "recall sqlite docs"


def test_show_and_export_markdown(
    capsys: pytest.CaptureFixture[str], store: SessionStore, tmp_path: Path
):
    cid = _add(store, "explain WAL", "write-ahead log", reasoning="recall sqlite docs")
    code, out, _ = _run(capsys, "sessions", "show", cid)
    assert code == 0 and out.startswith("# explain WAL\n")
    assert "<details><summary>Thinking</summary>\n\nrecall sqlite docs\n\n</details>" in out
    target = tmp_path / "conv.md"
    assert _run(capsys, "sessions", "export", cid[:4], "-o", str(target))[0] == 0
    assert target.read_text(encoding="utf-8") == out


def test_import_round_trip_and_existing_id(
    capsys: pytest.CaptureFixture[str], store: SessionStore, tmp_path: Path
):
    cid = _add(store, "keep this", "kept", reasoning="r")
    file = tmp_path / "conv.json"
    assert _run(capsys, "sessions", "export", cid, "--format", "json", "-o", str(file))[0] == 0
    original = file.read_text(encoding="utf-8")

    code, out, _ = _run(capsys, "sessions", "import", str(file))
    assert code == 0 and f"imported {cid} as " in out and "already exists" in out
    new_id = out.split(" as ")[1].split()[0]
    assert json.loads(_run(capsys, "sessions", "show", cid, "--format", "json")[1]) == json.loads(
        original
    )

    assert _run(capsys, "sessions", "rm", cid)[0] == 0
    assert _run(capsys, "sessions", "rm", new_id)[0] == 0
    code, out, _ = _run(capsys, "sessions", "import", str(file))
    assert (code, out) == (0, f"imported {cid}\n")
    assert _run(capsys, "sessions", "show", cid, "--format", "json")[1] == original


def test_import_help_documents_the_existing_id_rule(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["sessions", "import", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "never overwritten" in out and "new id" in out


def test_malformed_import_imports_nothing(
    capsys: pytest.CaptureFixture[str], store: SessionStore, tmp_path: Path
):
    good = {
        "format": "glmchat-conversation",
        "version": 1,
        "id": "aaa",
        "messages": [{"role": "user", "content": "fine"}],
    }
    bad = {**good, "id": "bbb", "messages": [{"role": "user"}]}
    file = tmp_path / "bad.json"
    file.write_text(json.dumps([good, bad]))
    code, out, err = _run(capsys, "sessions", "import", str(file))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "nothing imported" in err and '"content"' in err
    assert store.count_conversations() == 0


def test_rename_and_rm_by_prefix(capsys: pytest.CaptureFixture[str], store: SessionStore):
    cid = _add(store, "old title", "x")
    code, out, _ = _run(capsys, "sessions", "rename", cid[:6], "A  new   title")
    assert code == 0 and cid in out
    assert store.get_conversation(cid).title == "A new title"
    code, out, _ = _run(capsys, "sessions", "rm", cid[:3])
    assert code == 0 and cid in out
    assert store.count_conversations() == 0


@pytest.mark.parametrize("command", ["show", "export", "rm", "rename"])
def test_ambiguous_and_unknown_ids_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], store: SessionStore, command: str
):
    _import_ids(store, "abc111", "abc222")
    extra = ["title"] if command == "rename" else []
    code, out, err = _run(capsys, "sessions", command, "abc", *extra)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "abc111" in err and "more characters" in err
    code, out, err = _run(capsys, "sessions", command, "fff", *extra)
    assert code == 2 and err.count("\n") == 1 and "no conversation with id 'fff'" in err
    assert store.count_conversations() == 2


def test_a_bad_database_file_is_reported_and_kept(
    capsys: pytest.CaptureFixture[str], data_dir: Path
):
    data_dir.mkdir()
    db = data_dir / "glmchat.db"
    db.write_text("not a database at all\n" * 50)
    before = db.read_bytes()
    code, out, err = _run(capsys, "sessions", "list")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert str(db) in err and "not a glmchat database" in err
    assert db.read_bytes() == before


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], data_dir: Path):
    for argv in (
        ["sessions", "list", "--limit", "0"],
        ["sessions", "show", "x", "--format", "x"],
        ["sessions"],  # no COMMAND: one line, like every usage mistake (it printed the help)
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_sessions_list_json_in_a_real_process(store: SessionStore, data_dir: Path):
    cid = _add(store, "from a subprocess", "yes")
    result = subprocess.run(
        [sys.executable, "-m", "glmchat", "sessions", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GLMCHAT_DATA_DIR": str(data_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    [item] = json.loads(result.stdout)
    assert item["id"] == cid and item["title"] == "from a subprocess" and item["messages"] == 2


def test_list_keeps_wide_titles_inside_the_terminal(
    capsys: pytest.CaptureFixture[str], store: SessionStore, monkeypatch: pytest.MonkeyPatch
):
    # Found by QA: titles were cut by characters, so a CJK title (two cells a character)
    # ran past a 120-column terminal and wrapped.
    from rich.cells import cell_len

    monkeypatch.setenv("COLUMNS", "120")
    _add(store, "漢字の題名" * 16, "answer")  # 80 characters, 160 cells
    _add(store, "emoji 🚀 " * 20, "answer")
    code, out, _ = _run(capsys, "sessions", "list", "--search", "answer")
    assert code == 0
    for line in out.splitlines():
        assert cell_len(line) <= 120, line
    assert "漢字の題名漢字" in out and "…" in out


def test_search_results_are_listed_most_recent_first(
    capsys: pytest.CaptureFixture[str], store: SessionStore
):
    # DESIGN.md: `sessions list --json` is most recent first; a search picks the best matches
    # (found by QA: it listed them in ranked order).
    best = _add(store, "whales whales whales", "whales everywhere, whales")
    newer = _add(store, "a question about the sea", "one whales mention")
    code, out, _ = _run(capsys, "sessions", "list", "--search", "whales", "--json")
    assert code == 0 and [i["id"] for i in json.loads(out)] == [newer, best]
    code, out, _ = _run(capsys, "sessions", "list", "--search", "whales")
    assert out.index(newer) < out.index(best)
