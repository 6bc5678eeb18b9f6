"""The order of a search's hits: matching titles first, then the most recent (README), in the
ctrl+r picker as in `glmchat sessions list --search`.

Found by QA: two "slow alpha stream" and two "slow gamma stream with a long title here"
(created in that order, twice); ctrl+r `slow` listed 03:41 alpha, 03:38 alpha, 03:41 gamma,
03:38 gamma (the shorter title scored higher), while `sessions list --search slow` listed gamma
03:41, alpha 03:41, gamma 03:38, alpha 03:38."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import OptionList

from glmchat.cli import main
from glmchat.store import SessionStore
from tests.tui_helpers import glm, message, running, seed, wait_until

ALPHA = "slow alpha stream"
GAMMA = "slow gamma stream with a long title here"
# Titles of every length, with the word once or several times: how well a title "scores" must
# not move it above a newer one.
TITLED = [
    ("t1", ALPHA, "2026-11-30T03:38:33.882Z"),
    ("t2", GAMMA, "2026-11-30T03:38:33.883Z"),
    ("t3", ALPHA, "2026-11-30T03:41:14.000Z"),
    ("t4", GAMMA, "2026-11-30T03:41:17.000Z"),
    ("t5", "slow slow slow", "2026-11-29T10:00:00.000Z"),
    ("t6", "slow " + "and a very long title that goes on " * 4, "2026-11-30T05:00:00.000Z"),
]
# Only a message holds the word: after every title hit, the newest first.
IN_MESSAGES = [
    ("m1", "about rivers", "2026-11-30T06:00:00.000Z", "the river is slow slow slow"),
    ("m2", "about snails", "2026-11-28T06:00:00.000Z", "snails are slow"),
    ("m3", "about glaciers", "2026-11-30T07:00:00.000Z", "a glacier moves slow, " * 20),
]


def _seed_all(db: Path, *, word: str = "slow") -> None:
    conversations = [
        (cid, title.replace("slow", word), updated, "hello") for cid, title, updated in TITLED
    ] + [
        (cid, title, updated, text.replace("slow", word))
        for cid, title, updated, text in IN_MESSAGES
    ]
    for cid, title, updated, text in conversations:
        seed(
            f"{cid}0000000000",
            title,
            [message("user", text), message("assistant", "ok", position=1)],
            updated=updated,
        )
    assert db.exists()


def _by_rule(ids: list[str]) -> list[str]:
    """The README's rule: matching titles first, then the most recent."""
    titled = sorted(TITLED, key=lambda row: row[2], reverse=True)
    others = sorted(IN_MESSAGES, key=lambda row: row[2], reverse=True)
    order = [f"{cid}0000000000" for cid, *_ in [*titled, *others]]
    return [cid for cid in order if cid in ids]


@pytest.fixture(params=["fts", "no-fts"])
def searched(request: pytest.FixtureRequest, db_path: Path) -> Iterator[SessionStore]:
    _seed_all(db_path)
    with SessionStore(db_path, use_fts=request.param == "fts") as store:
        yield store


def test_title_hits_come_first_then_the_most_recent(searched: SessionStore) -> None:
    found = [s.id for s in searched.list_conversations(search="slow")]
    assert found == _by_rule(found) and len(found) == len(TITLED) + len(IN_MESSAGES)
    # A limit keeps the first of that order, not the best-scoring.
    assert [s.id for s in searched.list_conversations(search="slow", limit=3)] == found[:3]


def test_an_unspaced_word_follows_the_same_rule(db_path: Path) -> None:
    _seed_all(db_path, word="慢速")
    with SessionStore(db_path) as store:
        found = [s.id for s in store.list_conversations(search="慢速")]
    assert found == _by_rule(found) and len(found) == len(TITLED) + len(IN_MESSAGES)


async def _picked_in_order(search: str, hits: int) -> list[str]:
    """The ids the ctrl+r picker lists for `search`, top to bottom, once all `hits` show."""
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        rows = app.screen.query_one("#sessions", OptionList)
        await pilot.press(*search)
        await wait_until(pilot, lambda: rows.option_count == hits, f"{hits} hits")
        await pilot.pause()
        return [rows.get_option_at_index(i).id or "" for i in range(rows.option_count)]


async def test_the_picker_lists_equal_matches_newest_first_as_the_cli_does(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for cid, title, updated in TITLED[:4]:  # QA's four: every hit is a title hit
        seed(f"{cid}0000000000", title, [message("user", "hello")], updated=updated)
    assert main(["sessions", "list", "--search", "slow", "--json"]) == 0
    cli = [row["id"] for row in json.loads(capsys.readouterr().out)]
    picker = await _picked_in_order("slow", 4)
    newest_first = ["t4", "t3", "t2", "t1"]
    assert picker == cli == [f"{cid}0000000000" for cid in newest_first]


async def test_the_picker_puts_title_hits_first(db_path: Path) -> None:
    _seed_all(db_path)
    picker = await _picked_in_order("slow", len(TITLED) + len(IN_MESSAGES))
    assert picker == _by_rule(picker)
