"""`glmchat models`: the catalogue as a table and as JSON, and OpenRouter's live list read from
a loopback server, kept a day, and replaced by the catalogue (with a note) when unusable."""

from __future__ import annotations

import json
import os
import re
import time

import pytest
from rich.cells import cell_len

from glmchat import paths
from glmchat.catalogue import lookup
from glmchat.catalogue.openrouter_live import CACHE_NAME, CACHE_VERSION, MAX_AGE
from glmchat.cli import main
from glmchat.config import load_settings, save_value
from tests.wire_server import Reply, WireServer, fixture_reply

FIELDS = {
    "id", "provider", "model", "known", "context", "max_output", "thinking", "efforts",
    "default_effort", "tool_stream", "price_input", "price_cached", "price_output",
    "price_date", "price_source", "source",
}  # fmt: skip


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is as wide as the terminal: these tests read the whole of it."""
    monkeypatch.setenv("COLUMNS", "120")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["models", *args])
    out, err = capsys.readouterr()
    return code, out, err


def models_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict]:
    code, out, err = run(capsys, "--json", *args)
    assert code == 0, err
    doc = json.loads(out)
    assert isinstance(doc, list) and all(set(item) == FIELDS for item in doc)
    return {item["id"]: item for item in doc}


def test_the_zai_table_needs_no_key_and_no_network(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["MODEL", "CONTEXT", "MAX", "OUT"]
    row = next(line for line in lines if line.startswith("zai/glm-5.3 "))
    assert row.split()[:-1] == ["zai/glm-5.3", "1M", "128K", "always", "(low/high/max)", "1.4",
                                "0.26", "4.4", "2026-08-21"]  # fmt: skip
    assert re.fullmatch(r"\[\d+\]", row.split()[-1])  # its price source's note, under the table
    row = next(line for line in lines if line.startswith("zai/glm-4.5 "))
    assert row.split()[:4] == ["zai/glm-4.5", "128K", "96K", "hybrid"]
    # Not known is shown as such, never as 0.
    flash = next(line for line in lines if line.startswith("zai/glm-5.3-flash "))
    assert flash.split()[-4:] == ["?", "?", "?", "?"]
    assert "USD per million tokens" in out


def test_json_per_provider(capsys: pytest.CaptureFixture[str]) -> None:
    zai = models_json(capsys, "--provider", "zai")
    five = zai["zai/glm-5.3"]
    assert (five["context"], five["max_output"], five["thinking"]) == (1048576, 131072, "always")
    assert five["efforts"] == ["low", "high", "max"] and five["default_effort"] == "max"
    assert (five["price_input"], five["price_cached"], five["price_output"]) == (1.4, 0.26, 4.4)
    assert five["price_date"] == "2026-08-21" and five["source"] == "catalogue"
    coding = models_json(capsys, "--provider", "zai-coding")["zai-coding/glm-5.3"]
    assert coding["price_input"] is None and "flat fee" in coding["price_source"]


def test_config_models_are_listed_with_their_unknowns(capsys: pytest.CaptureFixture[str]) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text('[models."zai/glm-9"]\ncontext = 2000000\n', encoding="utf-8")
    mine = models_json(capsys)["zai/glm-9"]
    assert mine["context"] == 2000000 and mine["source"] == "config"
    assert mine["max_output"] is None and mine["price_input"] is None


def _sources_as_shown(out: str) -> dict[str, str | None]:
    """Each model's price source as the table shows it: the note its SOURCE mark refers to."""
    lines = out.splitlines()
    assert lines[0].split()[-1] == "SOURCE"
    end = next(n for n, line in enumerate(lines) if line.startswith("Prices:"))
    assert lines[end].endswith(" Sources:")
    notes = dict(line.strip().split(" ", 1) for line in lines[end + 1 :])
    marks = {row.split()[0]: row.split()[-1] for row in lines[1:end]}
    assert set(notes) <= set(marks.values())  # no note without a row
    assert list(notes) == [f"[{n}]" for n in range(1, len(notes) + 1)]
    return {model: notes.get(mark) for model, mark in marks.items()}


@pytest.mark.parametrize("provider", ["zai", "zai-coding", "bigmodel", "config"])
def test_each_price_note_is_marked_on_the_rows_it_is_for(
    capsys: pytest.CaptureFixture[str], provider: str
) -> None:
    """Found by QA: the notes under the table were a bare list; which model's was which?"""
    if provider == "config":  # a price from config.toml, over the catalogue's other two
        save_value('models."zai/glm-4.5".price_input', "9")
        provider = "zai"
    code, out, err = run(capsys, "--provider", provider)
    assert (code, err) == (0, "")
    expected = {
        k: v["price_source"] for k, v in models_json(capsys, "--provider", provider).items()
    }
    assert _sources_as_shown(out) == expected
    assert len(set(expected.values())) > 1 or provider != "zai"  # the notes do differ


# --- the table at the terminal's width ---------------------------------------------------------
# Found by QA: at 80 columns the 98-cell table wrapped every row (`PRICE DATE  SOURCE` on a line
# of its own) and the price notes wrapped inside words (`Sou` / `rces`, `docs.z.` / `ai`).


@pytest.mark.parametrize("columns", [60, 80, 120])
@pytest.mark.parametrize("provider", ["zai", "bigmodel", "openrouter"])
def test_the_table_fits_the_terminal_and_wraps_its_notes_at_spaces(
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    columns: int,
) -> None:
    if provider == "openrouter":  # the live list: longer ids, other notes
        request.getfixturevalue("openrouter").reply(fixture_reply("openrouter_models_list"))
    expected = models_json(capsys, "--provider", provider)
    monkeypatch.setenv("COLUMNS", str(columns))
    assert models_json(capsys, "--provider", provider) == expected  # --json: any width
    code, out, err = run(capsys, "--provider", provider)
    assert code == 0, err
    lines = out.splitlines()
    assert max(cell_len(line) for line in lines) <= columns, out
    header, rows, legend, notes = _read_table(lines)
    assert len(rows) == len(expected)  # one line per model
    cut = "whole model ids" in legend
    # The model ids, whole (the provider they share named once in the header when it is not
    # in every row): "…" only where the footnote says they are cut.
    prefix = header[0].removesuffix("MODEL")
    for row, (model_id, info) in zip(rows, expected.items(), strict=True):
        shown = prefix + row[0]
        assert shown == model_id or (cut and model_id.startswith(shown.removesuffix("…"))), row
        # each row's SOURCE mark is the note its prices come from, whole: joined at the
        # spaces it was wrapped at, a word cut in two would show as two
        assert notes.get(row[-1]) == (
            info["price_source"] and " ".join(info["price_source"].split())
        )
    assert (columns >= 120) == ("Not shown" not in legend) == (prefix == "")
    if "the price date" in legend:
        assert "DATE" not in header
    if "the cached-input price" in legend:
        assert "CACHED" not in header and "(input, output)" in legend


def _read_table(lines: list[str]) -> tuple[list[str], list[list[str]], str, dict[str, str]]:
    """The header's cells, each row's cells (split at spaces: a THINKING cell with its effort
    levels is two), the legend under them and each note by its mark, their wrapped lines joined
    at a space."""
    end = next(n for n, line in enumerate(lines) if line.startswith("Prices:"))
    first_note = next(
        (n for n, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines)
    )
    notes: dict[str, str] = {}
    for line in lines[first_note:]:
        if start := re.match(r" +(\[\d+\]) (.*)", line):
            mark = start.group(1)
            notes[mark] = start.group(2)
        else:  # a note's next line, indented under its text
            assert line.startswith(" " * (len(mark) + 3)), line
            notes[mark] += " " + line.strip()
    legend = " ".join(line.strip() for line in lines[end:first_note])
    return lines[0].split(), [line.split() for line in lines[1:end]], legend, notes


# --- OpenRouter's live list ------------------------------------------------------------------


@pytest.fixture
def openrouter(wire: WireServer) -> WireServer:
    save_value("providers.openrouter.base_url", wire.url)
    return wire


def test_openrouter_reads_the_live_list_and_keeps_it_a_day(
    openrouter: WireServer, capsys: pytest.CaptureFixture[str]
) -> None:
    openrouter.reply(fixture_reply("openrouter_models_list"))
    first = models_json(capsys, "--provider", "openrouter")
    # The live list's GLM models, then the configured ones it lacks (with what is known).
    assert list(first) == [
        "openrouter/z-ai/glm-4.5",
        "openrouter/z-ai/glm-4.5-air:free",
        "openrouter/z-ai/glm-4.5-air",
    ]
    assert first["openrouter/z-ai/glm-4.5-air"]["source"] == "catalogue"
    glm = first["openrouter/z-ai/glm-4.5"]
    # "0.00000035" USD per token is 0.35 per million, exactly.
    assert (glm["price_input"], glm["price_cached"], glm["price_output"]) == (0.35, 0.11, 1.55)
    assert (glm["context"], glm["max_output"], glm["thinking"]) == (131072, 98304, "hybrid")
    assert glm["source"] == "openrouter" and glm["price_date"] == time.strftime("%Y-%m-%d")
    assert first["openrouter/z-ai/glm-4.5-air:free"]["max_output"] == 96000
    assert openrouter.requests[0].path.endswith("/models")
    assert "authorization" not in openrouter.requests[0].headers  # the list needs no key
    cache = paths.data_dir() / CACHE_NAME
    kept = cache.read_text()
    # Which server the list is from, but not its URL: a base_url may carry a key.
    assert openrouter.url not in kept and "127.0.0.1" not in kept
    # Within the day: from the cache, no second request; the engine's lookups see it too.
    assert models_json(capsys, "--provider", "openrouter") == first
    assert len(openrouter.requests) == 1
    assert lookup(load_settings(), "openrouter", "z-ai/glm-4.5").price_input == 0.35
    code, out, _ = run(capsys, "--provider", "openrouter")
    assert code == 0 and out.splitlines()[1].startswith("openrouter/z-ai/glm-4.5 ")
    # The live list's prices and the catalogue's, each row marked with its own note.
    shown = _sources_as_shown(out)
    assert shown == {k: v["price_source"] for k, v in first.items()}
    assert shown["openrouter/z-ai/glm-4.5"] == "OpenRouter's live model list"


def _age_cache(seconds: float) -> None:
    cache = paths.data_dir() / CACHE_NAME
    doc = json.loads(cache.read_text())
    doc["fetched"] -= seconds
    cache.write_text(json.dumps(doc))


@pytest.mark.parametrize("damage", ["stale", "garbage", "version 1", "another server"])
def test_an_unusable_cache_is_fetched_again(
    openrouter: WireServer, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    openrouter.reply(fixture_reply("openrouter_models_list"))
    models_json(capsys, "--provider", "openrouter")
    cache = paths.data_dir() / CACHE_NAME
    if damage == "stale":
        _age_cache(MAX_AGE + 60)
    elif damage == "garbage":
        cache.write_bytes(b"\x00not json")
    else:
        doc = json.loads(cache.read_text())
        if damage == "version 1":  # which kept the server's URL itself
            doc = {**doc, "version": 1, "base_url": openrouter.url}
            del doc["server"]
        else:
            doc["server"] = "0" * 64
        cache.write_text(json.dumps(doc))
    openrouter.reply(fixture_reply("openrouter_models_list"))
    again = models_json(capsys, "--provider", "openrouter")
    assert len(openrouter.requests) == 2 and again["openrouter/z-ai/glm-4.5"]["price_input"] == 0.35
    kept = cache.read_text()
    assert json.loads(kept)["version"] == CACHE_VERSION and openrouter.url not in kept


def test_a_stale_cache_and_no_server_fall_back_to_the_catalogue_with_a_note(
    openrouter: WireServer, capsys: pytest.CaptureFixture[str]
) -> None:
    openrouter.reply(fixture_reply("openrouter_models_list"))
    models_json(capsys, "--provider", "openrouter")
    _age_cache(3 * 24 * 3600)
    openrouter.reply(Reply(body=b'{"error":{"code":500,"message":"down"}}', status=500))
    code, out, err = run(capsys, "--json", "--provider", "openrouter")
    assert code == 0
    models = {item["id"]: item for item in json.loads(out)}
    five = models["openrouter/z-ai/glm-5.3"]
    assert five["source"] == "catalogue" and five["price_input"] == 1.4
    assert err.count("\n") == 1 and err.startswith("glmchat: note: could not read OpenRouter")
    assert "over a day old" in err and "shipped catalogue" in err
    # The stale list is not used by lookups either.
    assert lookup(load_settings(), "openrouter", "z-ai/glm-4.5").price_input == 0.60


def test_the_cache_is_written_atomically(
    openrouter: WireServer, capsys: pytest.CaptureFixture[str]
) -> None:
    openrouter.reply(fixture_reply("openrouter_models_list"))
    models_json(capsys, "--provider", "openrouter")
    data = paths.data_dir()
    assert [p.name for p in data.iterdir()] == [CACHE_NAME]  # no temporary file left
    assert os.stat(data / CACHE_NAME).st_size > 0
