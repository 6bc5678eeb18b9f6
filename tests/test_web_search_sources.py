"""Z.ai web search sources kept with their answer: saved with each round's assistant row (and
read calmly whatever shape they come in), shown numbered by `glmchat ask` (plain and --json),
on a resumed conversation in the TUI, in markdown and JSON exports, and through an import."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from glmchat.cli import main
from glmchat.store import SessionStore, parse_documents, to_json, to_markdown
from glmchat.store.migrations import MIGRATIONS, SCHEMA_VERSION
from glmchat.store.tree import path
from glmchat.tui.widgets.sources import Sources
from glmchat.web_sources import CONTENT_MAX
from tests.test_ask_cli import ask
from tests.tui_helpers import (
    active,
    message,
    running,
    screen_text,
    seed,
    send,
    wait_for_stream,
)
from tests.wire_server import Reply, WireServer, fixture_reply, sidecar, sse_body, sse_data

RESULTS: list[dict[str, str]] = sidecar("zai_web_search_stream")["expected_extra"]["web_search"]
KEPT = [{name: value for name, value in r.items() if value} for r in RESULTS]  # no empty icon
ANSWER = "Tomorrow in Tokyo: sunny, 14–21 °C [1]; clouds later [2]."
SOURCE_LINES = [
    "[1] Tokyo weather — 10-day forecast — https://weather.example.com/tokyo",
    "[2] 東京の天気 — https://tenki.example.jp/tokyo",
]
USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}


def web_search_on(extra: str = "") -> None:
    config = paths.config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    before = config.read_text() if config.exists() else ""  # the `zai` fixture's base_url
    config.write_text(f"{before}\n[tools]\nweb_search = true\n{extra}")


def result(refer: str, title: str, link: str, **more: Any) -> dict[str, Any]:
    return {"refer": refer, "title": title, "link": link, **more}


def chunk(delta: dict[str, Any], **top: Any) -> bytes:
    choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", **delta}}
    if "finish_reason" in top:
        choice["finish_reason"] = top.pop("finish_reason")
    return sse_data({"id": "x", "model": "glm-4.7", "choices": [choice], **top})


def searched(text: str, results: list[Any], *, call: tuple[str, str] | None = None) -> Reply:
    """One model call that searched: its text, an optional tool call, then the results on the
    final chunk (where Z.ai sends them), split so citations arrive in pieces."""
    events = [chunk({"content": text})]
    finish = "stop"
    if call is not None:
        finish = "tool_calls"
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "id": call[0],
                            "index": 0,
                            "type": "function",
                            "function": {"name": "list_dir", "arguments": call[1]},
                        }
                    ]
                }
            )
        )
    events.append(chunk({"content": ""}, finish_reason=finish, usage=USAGE, web_search=results))
    return Reply(body=sse_body(*events), splits=6)


def latest() -> Any:
    with SessionStore(paths.database_path()) as store:
        conversation = store.most_recent()
        assert conversation is not None
        return conversation


# --- ask -------------------------------------------------------------------------------------


def test_ask_numbers_the_citations_as_it_prints_and_lists_the_sources_after(
    wire: WireServer,
) -> None:
    web_search_on()
    wire.reply(fixture_reply("zai_web_search_stream", splits=7))  # `[ref_1]` cut in pieces
    proc = ask("--base-url", wire.url, "Weather in Tokyo tomorrow?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{ANSWER}\n\nSources\n" + "\n".join(SOURCE_LINES) + "\n"
    assert wire.requests[0].json["tools"][0]["type"] == "web_search"
    # Saved with the answer's row, as received; its text as the model wrote it.
    answer = latest().messages[-1]
    assert answer.web_search == KEPT
    assert "[ref_1]" in answer.content


def test_ask_json_has_the_sources(wire: WireServer) -> None:
    web_search_on()
    wire.reply(fixture_reply("zai_web_search_stream", splits=7))
    proc = ask("--json", "--base-url", wire.url, "Weather in Tokyo tomorrow?")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {"session_id", "model", "content", "reasoning", "finish_reason", "usage", "error"} <= (
        doc.keys()
    )
    assert doc["content"] == sidecar("zai_web_search_stream")["expected"]["content"]
    assert doc["sources"] == [
        {
            "number": n,
            "refer": r["refer"],
            "title": r["title"],
            "link": r["link"],
            "media": r["media"],
            "publish_date": r["publish_date"],
        }
        for n, r in enumerate(RESULTS, 1)
    ]


def test_hostile_results_are_saved_trimmed_and_shown_harmless(wire: WireServer) -> None:
    web_search_on()
    hostile = {
        "refer": "ref_1",
        "title": "Red\x1b[31m\nalert\x07",
        "link": "https://ok.example/\x1b]8;;https://evil.example\x07",
        "content": "x" * 10_000,
        "media": 5,
        "icon": {"nested": ["deep"]},
        "secret": "dropped",
    }
    wire.reply(searched("Look [ref_1] and [ ref_2 ].", [hostile, {"refer": ["odd"]}]))
    proc = ask("--base-url", wire.url, "Search it")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    # Controls are shown, not obeyed; the odd result keeps its number.
    assert proc.stdout.startswith("Look [1] and [2].\n\nSources\n[1] Red\\x1b[31m alert\\x07")
    assert proc.stdout.endswith("[2] (untitled)\n")
    [kept, odd] = latest().messages[-1].web_search
    assert set(kept) == {"refer", "title", "link", "content"}  # strings of the known fields
    assert len(kept["content"]) == CONTENT_MAX and kept["title"] == hostile["title"]
    assert odd == {}


def test_each_round_keeps_its_own_results_numbered_on_everywhere(
    wire: WireServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tool loop that searched in two rounds: each round's citations name its own results
    (`ref_1` twice), numbered on across the answer by ask, the saved rows, the resumed TUI and
    the markdown export alike."""
    root = tmp_path / "files"
    root.mkdir()
    web_search_on(f'builtin = ["list_dir"]\nallowed_dirs = [{json.dumps(str(root))}]\n')
    first = [result("ref_1", "Alpha", "https://a.example")]
    second = [result("ref_1", "Beta", "https://b.example"), result("ref_2", "Gamma", "")]
    wire.reply(
        searched("First [ref_1].", first, call=("c1", json.dumps({"path": str(root)}))),
        searched("Then [ref_1] and 【ref_2】.", second),
    )
    proc = ask("--yes", "--base-url", wire.url, "Two searches")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "First [1].\n\nThen [2] and [3].\n\n"
        "Sources\n[1] Alpha — https://a.example\n[2] Beta — https://b.example\n[3] Gamma\n"
    )
    conversation = latest()
    rows = [m for m in conversation.messages if m.role == "assistant"]
    assert [m.web_search for m in rows] == [
        first,
        [second[0], {"refer": "ref_2", "title": "Gamma"}],
    ]

    markdown = to_markdown(conversation)
    assert "First [1].\n\n**Sources**\n\n- [1] Alpha — <https://a.example>\n" in markdown
    assert "Then [2] and [3].\n\n**Sources**\n\n- [2] Beta — <https://b.example>\n- [3] Gamma" in (
        markdown
    )
    assert main(["sessions", "export", conversation.id, "--format", "markdown"]) == 0
    assert capsys.readouterr().out == markdown


async def test_a_resumed_answer_shows_its_citations_and_sources_as_streamed(
    wire: WireServer, zai: WireServer
) -> None:
    """Streamed live, then resumed: the same numbered citations and Sources list."""
    web_search_on()
    wire.reply(fixture_reply("zai_web_search_stream", splits=29))
    proc = ask("--base-url", wire.url, "Weather in Tokyo tomorrow?")
    assert proc.returncode == 0, proc.stderr
    async with running(resume=latest().id) as pilot:
        screen = screen_text(pilot.app)
    assert ANSWER in screen and "[ref_" not in screen
    assert "Sources" in screen
    for line in SOURCE_LINES:
        assert line in screen


async def test_a_live_answers_turn_keeps_its_sources_for_branches_and_exports(
    zai: WireServer,
) -> None:
    """The engine's turn holds the results as the row does: a branch switch rebuilds the
    answer from it, and the TUI's export of an unsaved pane writes it."""
    web_search_on()
    zai.reply(fixture_reply("zai_web_search_stream", splits=29))
    async with running() as pilot:
        await send(pilot, "Weather in Tokyo tomorrow?")
        await wait_for_stream(pilot)
        engine = active(pilot).engine
        assert engine.turns[-1].web_search == KEPT
        snapshot = engine.snapshot()
    assert json.loads(to_json(snapshot))["messages"][-1]["web_search"] == KEPT
    assert SOURCE_LINES[0].replace(" — https", " — <https") + ">" in to_markdown(snapshot)


def two_searching_rounds(zai: WireServer, tmp_path: Path) -> None:
    """A tool loop (list_dir allowed without asking) whose two model calls each searched:
    "First [ref_1]." citing Alpha, then "Then [ref_1]." citing Beta."""
    root = tmp_path / "files"
    root.mkdir()
    web_search_on(
        f'builtin = ["list_dir"]\nallowed_dirs = [{json.dumps(str(root))}]\napprove = "all"\n'
    )
    first = [result("ref_1", "Alpha", "https://a.example")]
    second = [result("ref_1", "Beta", "https://b.example")]
    zai.reply(
        searched("First [ref_1].", first, call=("c1", json.dumps({"path": str(root)}))),
        searched("Then [ref_1].", second),
    )


async def test_a_live_tool_loop_numbers_each_rounds_citations_as_resume_does(
    zai: WireServer, tmp_path: Path
) -> None:
    """Streamed in the TUI, a tool loop that searched twice: round two's `[ref_1]` is its own
    first result, `[2]`, not round one's; the same on screen live and resumed."""
    two_searching_rounds(zai, tmp_path)
    async with running() as pilot:
        await send(pilot, "Two searches")
        await wait_for_stream(pilot)
        await pilot.pause()
        live = screen_text(pilot.app)
        cid = active(pilot).engine.conversation_id
    assert "First [1]." in live and "Then [2]." in live, live
    assert "[1] Alpha — https://a.example" in live and "[2] Beta — https://b.example" in live
    async with running(resume=cid) as pilot:
        resumed = screen_text(pilot.app)
    assert "First [1]." in resumed and "Then [2]." in resumed


async def test_resume_shows_a_tool_loops_sources_numbered_on(zai: WireServer) -> None:
    first = [result("ref_1", "Alpha", "https://a.example")]
    second = [result("ref_1", "Beta", "https://b.example")]
    cid = seed(
        "aaaa00000001",
        "two searches",
        [
            message("user", "Two searches"),
            message(
                "assistant",
                "First [ref_1].",
                position=1,
                web_search=first,
                tool_calls=[{"id": "c1", "name": "list_dir", "arguments": "{}"}],
            ),
            message(
                "tool",
                "notes.txt",
                position=2,
                tool_call_id="c1",
                tool_calls=[{"id": "c1", "name": "list_dir", "status": "ok"}],
            ),
            message("assistant", "Then [ref_1].", position=3, web_search=second),
        ],
    )
    async with running(resume=cid) as pilot:
        screen = screen_text(pilot.app)
    assert "First [1]." in screen and "Then [2]." in screen
    assert "[1] Alpha — https://a.example" in screen
    assert "[2] Beta — https://b.example" in screen


async def test_a_hand_edited_cell_costs_its_sources_not_the_conversation(
    zai: WireServer,
) -> None:
    cid = seed(
        "aaaa00000002",
        "edited",
        [message("user", "q"), message("assistant", "A [ref_1].", position=1)],
    )
    with sqlite3.connect(paths.database_path()) as conn:
        conn.execute(
            "UPDATE messages SET web_search = ? WHERE role = 'assistant'",
            ('[1, "x", {"refer": "ref_1", "title": 3, "link": "https://l.example"}]',),
        )
    with SessionStore(paths.database_path()) as store:
        [_, answer] = store.get_conversation(cid).messages
    assert answer.web_search == [{"refer": "ref_1", "link": "https://l.example"}]
    async with running(resume=cid) as pilot:
        screen = screen_text(pilot.app)
    assert "A [1]." in screen and "[1] (untitled) — https://l.example" in screen


# --- the store -------------------------------------------------------------------------------


def test_a_schema_5_database_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "glmchat.db"
    conn = sqlite3.connect(db, isolation_level=None)
    for statements in MIGRATIONS[:5]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 5")
    conn.execute(
        "INSERT INTO conversations (id, title, created, updated) VALUES "
        "('aaaaaaaaaaaa', 'old', '2026-08-20T10:00:00.000Z', '2026-08-20T10:00:00.000Z')"
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, position, role, content) VALUES "
        "('aaaaaaaaaaaa', 0, 'user', 'q'), ('aaaaaaaaaaaa', 1, 'assistant', 'old answer')"
    )
    conn.close()
    with SessionStore(db) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 6
        old = store.get_conversation("aaaaaaaaaaaa")
        assert [m.content for m in old.messages] == ["q", "old answer"]
        assert old.messages[1].web_search is None
        mid = store.begin_assistant("aaaaaaaaaaaa", model="glm-4.7", provider="zai", thinking=False)
        store.finish_assistant(
            mid, content="new [ref_1]", reasoning="", status="complete", web_search=RESULTS
        )
        assert store.get_conversation("aaaaaaaaaaaa").messages[-1].web_search == KEPT


# --- exports and imports ---------------------------------------------------------------------


def test_json_export_carries_the_sources_and_an_import_round_trips_them(
    zai: WireServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = seed(
        "aaaa00000003",
        "weather",
        [
            message("user", "Weather?"),
            message(
                "assistant",
                sidecar("zai_web_search_stream")["expected"]["content"],
                position=1,
                web_search=RESULTS,
            ),
        ],
    )
    with SessionStore(paths.database_path()) as store:
        conversation = store.get_conversation(cid)
    document = json.loads(to_json(conversation))
    assert document["messages"][1]["web_search"] == KEPT
    assert document["messages"][0]["web_search"] is None
    markdown = to_markdown(conversation)
    assert ANSWER in markdown
    assert "- [1] Tokyo weather — 10-day forecast — <https://weather.example.com/tokyo>" in markdown

    exported = tmp_path / "weather.json"
    assert main(["sessions", "export", cid, "--format", "json", "-o", str(exported)]) == 0
    document["id"] = "bbbb00000003"  # stored as a new conversation
    document["messages"][1]["web_search"] = [
        *RESULTS,
        "junk",
        {"refer": "ref_3", "title": "T", "extra": {"x": 1}},
    ]
    exported.write_text(json.dumps(document))
    assert main(["sessions", "import", str(exported)]) == 0
    capsys.readouterr()
    with SessionStore(paths.database_path()) as store:
        [*_, answer] = path(store.get_conversation("bbbb00000003"))
    assert answer.web_search == [*KEPT, {"refer": "ref_3", "title": "T"}]


def test_an_import_with_sources_of_the_wrong_kind_is_refused_in_one_line() -> None:
    doc = {
        "format": "glmchat-conversation",
        "version": 2,
        "id": "cccc00000001",
        "messages": [{"role": "assistant", "content": "a", "web_search": {"refer": "ref_1"}}],
    }
    with pytest.raises(Exception, match='"web_search" must be a list; nothing imported'):
        parse_documents(json.dumps(doc))


# --- ask's numbering, piece by piece -----------------------------------------------------------


def test_ask_numbers_a_citation_cut_across_pieces_and_gives_back_what_it_held() -> None:
    from glmchat.cli.ask_sources import AskSources

    sources = AskSources()
    assert sources.cite("sunny [re") == "sunny "
    assert sources.cite("f_2] and [") == "[2] and "  # before the results: by its name
    sources.add([result("ref_1", "A", "a"), result("ref_2", "B", "b")])
    # Not among those known: by its name (more may come, sent again), unless past the kept.
    assert sources.cite("ref_1] or [ref_7]") == "[1] or [7]"
    assert sources.cite("and [ref_101]") == "and [ref_101]"
    assert sources.cite("[ref_1") == ""
    assert sources.flush() == "[ref_1"  # the answer ended without closing it
    assert sources.cite("[" + " " * 40) == "[" + " " * 40  # too long to be a citation
    sources.new_call()
    sources.add([result("ref_1", "C", "c")])
    assert sources.cite("[ref_1].") == "[3]."
    assert [s["number"] for s in sources.as_json()] == [1, 2, 3]


def _repeated_search() -> Reply:
    """Results on the first chunk, then the whole list again, grown, on the final one (Z.ai
    sends them once; a repeat is the call's results so far)."""
    one = result("ref_1", "One", "https://one.example")
    two = result("ref_2", "Two", "https://two.example")
    return Reply(
        body=sse_body(
            chunk({"content": "A [ref_1]."}, web_search=[one]),
            chunk({"content": " B [ref_2]."}),
            chunk({"content": ""}, finish_reason="stop", usage=USAGE, web_search=[one, two]),
        ),
        splits=7,
    )


def test_a_repeated_search_replaces_the_first_in_ask_and_the_store(wire: WireServer) -> None:
    """Found by QA: a second `web_search` in one stream was added to the first (sources
    One, One, Two; `B [3]` saved). It replaces it."""
    web_search_on()
    wire.reply(_repeated_search())
    proc = ask("--base-url", wire.url, "Search twice")
    assert proc.returncode == 0, proc.stderr
    # `B [ref_2]` was printed while only One was known: numbered by its name.
    assert proc.stdout.startswith("A [1]. B [2].")
    assert proc.stdout.endswith(
        "\n\nSources\n[1] One — https://one.example\n[2] Two — https://two.example\n"
    )
    saved_sources = latest().messages[-1].web_search
    assert [item["title"] for item in saved_sources] == ["One", "Two"]


async def test_a_live_answer_shows_its_sources_as_saved(zai: WireServer) -> None:
    """Found by QA: live, the TUI showed the results as they came (150 of them, a repeat
    added to the first); resumed, as saved (100, the repeat replacing). The same live."""
    web_search_on()
    many = [result(f"ref_{n}", f"Result {n}", f"https://r{n}.example") for n in range(1, 151)]
    zai.reply(searched("See [ref_1], [ref_120].", many), _repeated_search())
    async with running() as pilot:
        await send(pilot, "Search a lot")
        await wait_for_stream(pilot)
        await pilot.pause()
        message = active(pilot).log_view.children[-1]
        sources = message.query_one(Sources)
        assert len(sources.results) == 100
        assert "See [1], [ref_120]." in message.text  # 120 was not kept: left as written
        await send(pilot, "Search twice")
        await wait_for_stream(pilot)
        await pilot.pause()
        message = active(pilot).log_view.children[-1]
        assert [r["title"] for r in message.query_one(Sources).results] == ["One", "Two"]
        assert "A [1]. B [2]." in message.text


async def test_ctrl_y_copies_the_whole_answer_as_shown(zai: WireServer, tmp_path: Path) -> None:
    """Found by QA: ctrl+y copied the last round's text with the model's raw `[ref_1]`, while
    the log showed every round's text with numbered citations. It copies what is shown."""
    two_searching_rounds(zai, tmp_path)
    async with running() as pilot:
        await send(pilot, "Two searches")
        await wait_for_stream(pilot)
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert pilot.app.clipboard == "First [1].\n\nThen [2]."


def test_citations_in_code_are_the_models_code() -> None:
    """Found by QA: `table[ref_1]` in a code block was renumbered too. Code spans and fenced
    blocks (closed, or still open at the end) are left as written; the text around them is
    cited."""
    from glmchat.web_sources import cite

    results = [{"refer": "ref_1"}, {"refer": "ref_2"}]
    assert cite("Code `x[ref_1]` but [ref_1].", results) == "Code `x[ref_1]` but [1]."
    fenced = "```python\ntable[ref_1]\n```\nthen 【ref_2】."
    assert cite(fenced, results) == "```python\ntable[ref_1]\n```\nthen [2]."
    assert cite("~~~\n[ref_1]\n~~~~\n[ref_1]", results) == "~~~\n[ref_1]\n~~~~\n[1]"
    assert cite("```\nopen [ref_2]", results) == "```\nopen [ref_2]"
    assert cite("``a [ref_1] b`` [ref_2]", results) == "``a [ref_1] b`` [2]"
    assert cite("a lone ` and [ref_1]", results) == "a lone ` and [1]"


def test_results_named_out_of_order_are_numbered_as_ask_prints_them(wire: WireServer) -> None:
    """Found by QA: with results sent as [ref_2, ref_1], `ask` printed `[1]` for ref_1 (by its
    name: the results came after the text) over a Sources list whose [1] was ref_2. Results
    named ref_1..ref_N are kept in that order, everywhere."""
    web_search_on()
    out_of_order = [result("ref_2", "Second", "https://2.example"), result("ref_1", "First", "")]
    wire.reply(searched("A [ref_1] and B [ref_2].", out_of_order))
    proc = ask("--base-url", wire.url, "Order")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "A [1] and B [2].\n\nSources\n[1] First\n[2] Second — https://2.example\n"
    )
    saved_sources = latest().messages[-1].web_search
    assert [item["refer"] for item in saved_sources] == ["ref_1", "ref_2"]
    markdown = to_markdown(latest())
    assert "A [1] and B [2]." in markdown and "- [1] First" in markdown
