"""A prompt typed and not sent is never lost (found by QA: ctrl+w, or alt+backspace which Textual
decoded as ctrl+w, closed the pane and the draft went with it). A saved conversation keeps it
(glmchat.db's `drafts`, migration 7) as its pane closes or the app quits, and shows it in the
box when it opens again, in this run or a later one; sending forgets it. A new conversation,
not saved yet, has nothing to keep it with: closing its pane or quitting asks first."""

from __future__ import annotations

import json
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
    send,
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


def _kept_long_ago(conversation_id: str = ID) -> None:
    """As if the draft had been kept before the conversation's last answer failed (an `ask`
    elsewhere failed since, or the app died before its box was kept)."""
    with SessionStore(paths.database_path()) as store:
        store._conn.execute(
            "UPDATE drafts SET saved = '2000-01-01T00:00:00.000Z' WHERE conversation_id = ?",
            (conversation_id,),
        )


async def test_a_draft_kept_before_a_prompt_failed_joins_it_without_repeating_it() -> None:
    """A conversation whose last answer failed after its draft was kept: the prompt is given
    back, the draft after it (unless it holds the prompt already)."""
    failed = [message("user", "Feed it?"), message("assistant", "", status="error")]
    seed(ID, "Sourdough starter", failed)
    with SessionStore(paths.database_path()) as store:
        store.save_draft(ID, "Feed it?\nAnd how often?")
    _kept_long_ago()
    async with running(resume=ID) as pilot:
        assert active(pilot).prompt.text == "Feed it?\nAnd how often?"
    with SessionStore(paths.database_path()) as store:
        store.save_draft(ID, "Something else")
    _kept_long_ago()
    async with running(resume=ID) as pilot:
        assert active(pilot).prompt.text == "Feed it?\nSomething else"


async def test_a_draft_kept_after_a_prompt_failed_is_the_box_as_left() -> None:
    failed = [message("user", "Feed it?"), message("assistant", "", status="error")]
    seed(ID, "Sourdough starter", failed)
    for kept in ("Something else", "  \n", "Feed it? Twice"):
        with SessionStore(paths.database_path()) as store:
            store.save_draft(ID, kept)
        async with running(resume=ID) as pilot:
            assert active(pilot).prompt.text == kept.strip()


async def test_a_failed_prompt_given_back_stays_as_the_box_was_left(zai: WireServer) -> None:
    """Found by QA: edited or cleared, the failed prompt came back (joined to the edit) on
    every open. Sent again, edited or cleared: the box reopens as it was left."""
    _seed()
    error = {"error": {"code": "1214", "message": "The request is not valid."}}
    zai.reply(Reply(body=json.dumps(error).encode(), status=400))
    async with running(resume=ID) as pilot:
        pane = active(pilot)
        await send(pilot, "question alpha")
        await wait_for_stream(pilot)
        assert pane.prompt.text == "question alpha"  # given back
        await pilot.press(*["backspace"] * 5, *"beta")
        assert pane.prompt.text == "question beta"
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not pilot.app.is_running
    async with running(resume=ID) as pilot:
        assert active(pilot).prompt.text == "question beta"
        active(pilot).prompt.clear()
        await pilot.press("ctrl+w")  # closing the pane keeps the box as quitting does
        await pilot.pause()
    for _ in range(2):
        async with running(resume=ID) as pilot:
            assert active(pilot).prompt.text == ""
            assert "question alpha" in screen_text(pilot.app)  # still shown, as failed
    assert zai.requests[-1].json["messages"][-1]["content"] == "question alpha"


async def test_quitting_asks_over_the_pane_that_holds_the_prompt() -> None:
    """Found by QA: on a saved pane, with a new pane's prompt in a tab in the background, the
    question said "this pane" over the saved one. It is asked over the pane it is about."""
    _seed()
    async with running(resume=ID) as pilot:
        app = glm(pilot)
        saved = active(pilot)
        saved.prompt.insert("kept with the starter")  # a saved conversation: not at risk
        await pilot.press("ctrl+n")
        drafted = active(pilot)
        drafted.prompt.insert("not saved anywhere")
        app.show_pane(saved)
        await pilot.pause()
        assert active(pilot) is saved
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, DropDraft), "the question")
        assert app.active_pane is drafted
        text = " ".join(screen_text(app).split())
        assert "The prompt in this pane was never sent" in text and "quitting loses it" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and active(pilot) is drafted


async def test_quitting_with_prompts_in_several_new_panes_counts_the_others() -> None:
    async with running() as pilot:
        app = glm(pilot)
        active(pilot).prompt.insert("first")
        for text in ("second", "third"):
            await pilot.press("ctrl+n")
            active(pilot).prompt.insert(text)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, DropDraft), "the question")
        text = " ".join(screen_text(app).split())
        assert "The prompts in this pane and 2 others were never sent" in text, text
        assert "quitting loses them" in text
