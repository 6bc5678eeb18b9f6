"""A prompt typed and not sent is never lost (found by QA: ctrl+w, or alt+backspace which Textual
decoded as ctrl+w, closed the pane and the draft went with it). A saved conversation keeps it
(glmchat.db's `drafts`, migration 7) as its pane closes or the app quits, and shows it in the
box when it opens again, in this run or a later one; sending forgets it. A new conversation,
not saved yet, has nothing to keep it with: closing its pane or quitting asks first."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot

from glmchat import paths
from glmchat.store import SessionStore
from glmchat.store.database import migrate
from glmchat.tui.screens.drop_draft import DropDraft
from tests.tui_helpers import (
    active,
    glm,
    message,
    running,
    screen_text,
    seed,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer

DRAFT = "Half a thought about\nthe starter, kept"
ID = "aaaa00000001"


def _seed() -> None:
    seed(ID, "Sourdough starter", [message("user", "Feed it?"), message("assistant", "Yes.")])
    seed("bbbb00000002", "Trip planning", [message("user", "Where to?")])


def stored_draft(conversation_id: str = ID) -> str:
    with SessionStore(paths.database_path()) as store:
        return store.draft(conversation_id)


async def _open(pilot: Pilot[Any], search: str) -> None:
    """Open a saved conversation with the ctrl+r picker."""
    app = glm(pilot)
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: "Resume a conversation" in screen_text(app), "the picker")
    await pilot.press(*search)
    await wait_until(pilot, lambda: f"«{search}»" in screen_text(app), "the search's hits")
    await pilot.pause(0.1)
    await pilot.press("enter")
    for _ in range(5):
        await pilot.pause()


async def test_ctrl_w_keeps_the_draft_and_reopening_the_conversation_shows_it() -> None:
    _seed()
    async with running(resume=ID) as pilot:
        app = glm(pilot)
        pane = active(pilot)
        pane.prompt.insert(DRAFT)
        await pilot.press("ctrl+w")
        await wait_until(pilot, lambda: pane not in app.panes, "the pane to close")
        assert len(app.panes) == 1 and active(pilot).prompt.text == ""  # a fresh pane
        await _open(pilot, "Sourdough")
        reopened = active(pilot)
        assert reopened is not pane and reopened.conversation_id == ID
        assert reopened.prompt.text == DRAFT
        assert reopened.prompt.cursor_location == reopened.prompt.document.end
        assert "the starter, kept" in screen_text(app)


async def test_the_draft_survives_quitting_and_comes_back_with_resume() -> None:
    _seed()
    async with running(resume=ID) as pilot:
        active(pilot).prompt.insert(DRAFT)
        await pilot.press("ctrl+q")  # a saved conversation: nothing to ask
        await pilot.pause()
        assert not pilot.app.is_running
    assert stored_draft() == DRAFT
    async with running(resume=ID) as pilot:
        assert active(pilot).prompt.text == DRAFT
    # And through the picker, in another run.
    async with running() as pilot:
        await _open(pilot, "Sourdough")
        assert active(pilot).prompt.text == DRAFT
        assert active(pilot).conversation_id == ID


async def test_every_open_pane_keeps_its_own_draft_when_the_app_quits() -> None:
    _seed()
    async with running(resume=ID) as pilot:
        active(pilot).prompt.insert("for the starter")
        await _open(pilot, "Trip")
        active(pilot).prompt.insert("for the trip")
        pilot.app.exit()  # not the quit key: a closed browser tab (serve), the app ending
        await pilot.pause()
    assert stored_draft() == "for the starter"
    assert stored_draft("bbbb00000002") == "for the trip"


async def test_sending_forgets_the_draft(zai: WireServer) -> None:
    _seed()
    with SessionStore(paths.database_path()) as store:
        store.save_draft(ID, DRAFT)
    zai.reply(Reply(chunks=stream(["Twice a day."])))
    async with running(resume=ID) as pilot:
        pane = active(pilot)
        assert pane.prompt.text == DRAFT
        await pilot.press("enter")
        await wait_for_stream(pilot)
        assert stored_draft() == ""  # at once, not only when the pane goes
        assert pane.prompt.text == ""
    assert stored_draft() == ""
    async with running(resume=ID) as pilot:
        assert active(pilot).prompt.text == ""
    assert zai.requests[-1].json["messages"][-1] == {"role": "user", "content": DRAFT}


async def test_emptying_the_box_forgets_the_draft() -> None:
    _seed()
    with SessionStore(paths.database_path()) as store:
        store.save_draft(ID, DRAFT)
    async with running(resume=ID) as pilot:
        active(pilot).prompt.clear()
        await pilot.press("ctrl+w")
        await pilot.pause()
    assert stored_draft() == ""


async def test_a_draft_is_kept_as_the_box_cleans_it_and_put_back_cleaned() -> None:
    """Cleaned text only: what the box holds (its controls spelt out), whatever wrote it."""
    _seed()
    with SessionStore(paths.database_path()) as store:
        store.save_draft(ID, "raw \x1b]0;T\x07 text")  # written by something else
    async with running(resume=ID) as pilot:
        pane = active(pilot)
        assert pane.prompt.text == "raw \\x1b]0;T\\x07 text"
        pane.prompt.clear()
        pilot.app.post_message(events.Paste("log \x1b[31mred\x1b[0m\rnext"))
        await pilot.pause()
        await pilot.press("ctrl+w")
        await pilot.pause()
    assert stored_draft() == "log \\x1b[31mred\\x1b[0m\nnext"


async def test_closing_a_new_conversation_with_a_prompt_asks_first() -> None:
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+n")
        first, drafted = app.panes
        drafted.prompt.insert("not saved anywhere")
        await pilot.press("ctrl+w")
        await wait_until(pilot, lambda: isinstance(app.screen, DropDraft), "the question")
        assert "closing the pane loses it" in screen_text(app)
        await pilot.press("escape")  # keep it
        await pilot.pause()
        assert app.panes == [first, drafted] and active(pilot) is drafted
        assert drafted.prompt.text == "not saved anywhere"
        await pilot.press("ctrl+w")
        await wait_until(pilot, lambda: isinstance(app.screen, DropDraft), "the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.panes == [first], "the pane to close")
        await pilot.press("ctrl+w")  # an empty new pane: closed without a question
        await pilot.pause()
        assert first not in app.panes and not isinstance(app.screen, DropDraft)


async def test_quitting_with_a_prompt_in_a_new_conversation_asks_first() -> None:
    async with running() as pilot:
        app = glm(pilot)
        active(pilot).prompt.insert("not saved anywhere")
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, DropDraft), "the question")
        assert "quitting loses it" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and active(pilot).prompt.text == "not saved anywhere"
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, DropDraft), "the question")
        await pilot.press("ctrl+q")  # asked to quit, quit again: quit
        await pilot.pause()
        assert not app.is_running and app.return_code == 0


def test_migration_7_adds_drafts_to_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, 6)
    conn.execute(
        "INSERT INTO conversations (id, created, updated) VALUES ('c1', 'x', 'x')",
    )
    conn.close()
    with SessionStore(path) as store:
        assert store.draft("c1") == ""
        store.save_draft("c1", "kept")
        store.save_draft("gone", "nowhere to keep it")  # no such conversation: nothing
        assert (store.draft("c1"), store.draft("gone")) == ("kept", "")
        store.save_draft("c1", "  \n")
        assert store.draft("c1") == ""
        store.save_draft("c1", "again")
        store.delete("c1")  # a draft goes with its conversation
        assert store._conn.execute("SELECT count(*) FROM drafts").fetchone() == (0,)


def test_a_draft_does_not_reorder_the_conversations() -> None:
    _seed()
    with SessionStore(paths.database_path()) as store:
        before = [(c.id, c.updated) for c in store.list_conversations()]
        store.save_draft("bbbb00000002", "later")
        assert [(c.id, c.updated) for c in store.list_conversations()] == before


async def test_a_draft_joins_a_failed_prompt_given_back_without_repeating_it() -> None:
    """A conversation whose last answer failed gives its prompt back to the box as it opens;
    a draft kept from that box holds it already."""
    failed = [message("user", "Feed it?"), message("assistant", "", status="error")]
    seed(ID, "Sourdough starter", failed)
    with SessionStore(paths.database_path()) as store:
        store.save_draft(ID, "Feed it?\nAnd how often?")
    async with running(resume=ID) as pilot:
        assert active(pilot).prompt.text == "Feed it?\nAnd how often?"
    with SessionStore(paths.database_path()) as store:
        store.save_draft(ID, "Something else")
    async with running(resume=ID) as pilot:
        assert active(pilot).prompt.text == "Feed it?\nSomething else"
