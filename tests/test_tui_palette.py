"""Palette commands not covered elsewhere: rename, export, switch model, and checking a key."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Input

from glmchat.config import save_value
from glmchat.tui.commands import ChatCommands
from glmchat.tui.screens.key_prompt import KeyPrompt
from glmchat.tui.screens.session_picker import SessionPicker
from glmchat.tui.screens.text_prompt import TextPrompt
from tests.test_prompt import ENTER, burst, typed
from tests.tui_helpers import (
    active,
    glm,
    running,
    saved_conversation,
    screen_text,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer, fixture_reply


async def run_command(pilot, name: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*name)
    await wait_until(pilot, lambda: name in screen_text(pilot.app), f"the command {name!r}")
    await pilot.press("enter")
    await pilot.pause()


async def test_rename_from_the_palette_renames_tab_header_and_store(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["ok"])))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "first prompt")
        await wait_for_stream(pilot)
        await run_command(pilot, "Rename conversation")
        assert isinstance(pilot.app.screen, TextPrompt)
        field = pilot.app.screen.query_one("Input")
        field.value = ""
        await pilot.press(*"Better title", "enter")
        await wait_until(pilot, lambda: pane.title == "Better title", "the rename")
        assert "Better title" in screen_text(pilot.app).splitlines()[0]
    assert saved_conversation(pane.conversation_id).title == "Better title"


async def test_export_writes_markdown_and_json_files(
    zai: WireServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    zai.reply(fixture_reply("zai_thinking_stream"))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "17 x 23?")
        await wait_for_stream(pilot)
        await run_command(pilot, "Export conversation as Markdown")
        await run_command(pilot, "Export conversation as JSON")
        cid = pane.conversation_id
    markdown = (tmp_path / f"glmchat-{cid}.md").read_text()
    assert "17 x 23?" in markdown and "<details>" in markdown and "**391**" in markdown
    doc = json.loads((tmp_path / f"glmchat-{cid}.json").read_text())
    assert json.dumps(doc).count("391") >= 1


async def test_switch_model_changes_the_next_request_and_status(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["one"])), Reply(chunks=stream(["two"])))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "a")
        await wait_for_stream(pilot)
        await run_command(pilot, "Switch model: zai/glm-4.5-air")
        await pilot.pause()
        assert "zai/glm-4.5-air" in screen_text(pilot.app)
        await send(pilot, "b")
        await wait_for_stream(pilot)
        cid = pane.conversation_id
    assert [r.json["model"] for r in zai.requests] == ["glm-4.5", "glm-4.5-air"]
    assert saved_conversation(cid).model == "glm-4.5-air"


async def test_key_modal_check_rejects_a_bad_key_and_saves_a_good_one(
    wire: WireServer, isolated_dirs: Path
) -> None:
    save_value("providers.zai.base_url", wire.url)
    wire.reply(
        fixture_reply("zai_error_401"),
        Reply(body=b'{"data":[{"id":"glm-4.5"}]}', headers={"Content-Type": "application/json"}),
        Reply(chunks=stream(["checked"])),
    )
    async with running() as pilot:
        app = glm(pilot)
        await send(pilot, "hi")
        await pilot.pause()
        assert isinstance(app.screen, KeyPrompt)
        await pilot.press(*"sk-bad-key-0000")
        await pilot.click("#check")
        await wait_until(pilot, lambda: "rejected the API key" in screen_text(app), "the refusal")
        assert isinstance(app.screen, KeyPrompt)
        assert not (isolated_dirs / "config" / "credentials.toml").exists()
        app.screen.query_one("#key").value = "sk-good-key-1111"
        await pilot.pause(0.3)  # a Button ignores clicks for 0.2 s after a press
        await pilot.click("#check")
        await wait_until(pilot, lambda: "checked" in screen_text(app), "the answer")
    assert [r.path for r in wire.requests] == ["/models", "/models", "/chat/completions"]
    assert wire.requests[2].headers["authorization"] == "Bearer sk-good-key-1111"


async def test_escape_cancels_the_key_modal_and_keeps_the_prompt(wire: WireServer) -> None:
    save_value("providers.zai.base_url", wire.url)
    async with running() as pilot:
        app = glm(pilot)
        await send(pilot, "keep me")
        await pilot.pause()
        assert isinstance(app.screen, KeyPrompt)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, KeyPrompt)
        assert active(pilot).prompt.text == "keep me"
    assert not wire.requests


async def test_every_catalogued_model_can_be_switched_to_and_regenerated_with(
    zai: WireServer,
) -> None:
    """Found by QA: the palette offered only the GLM-4.5 family each provider's config names,
    not the catalogue's later models (GLM-4.6 to 5.x) nor a `[models]` table's."""
    from tests.test_tui_context import add_config

    add_config('[models."zai/glm-9-preview"]\ncontext = 500000\n')
    zai.reply(Reply(chunks=stream(["one"])), Reply(chunks=stream(["two"])))
    async with running() as pilot:
        pane = active(pilot)
        # An empty pane has no answer to regenerate, nothing to fork or undo (found by QA:
        # "Regenerate with model: …" was offered first, and said "No answer to regenerate.").
        titles = [title for title, _, _ in ChatCommands(pilot.app.screen)._commands()]
        assert "Switch model: zai/glm-5.3" in titles
        assert not [
            t for t in titles if t.startswith(("Regenerate", "Fork", "Undo", "Retry", "Edit"))
        ]
        await glm(pilot).action_edit_last()  # as a key bound to it would
        await pilot.pause()
        assert "No prompt to edit." in screen_text(pilot.app)
        await send(pilot, "a")
        await wait_for_stream(pilot)
        titles = [title for title, _, _ in ChatCommands(pilot.app.screen)._commands()]
        for model in ("zai/glm-5.3", "zai/glm-4.6", "bigmodel/glm-5", "zai/glm-9-preview"):
            assert f"Switch model: {model}" in titles, model
            assert f"Regenerate with model: {model}" in titles, model
        assert "Switch model: openrouter/z-ai/glm-4.7" in titles
        await run_command(pilot, "Switch model: zai/glm-5.3")
        await send(pilot, "b")
        await wait_for_stream(pilot)
        assert pane.engine.model == "glm-5.3"
    assert [r.json["model"] for r in zai.requests] == ["glm-4.5", "glm-5.3"]


async def test_a_model_that_always_thinks_is_offered_its_lowest_effort_not_thinking_off(
    zai: WireServer,
) -> None:
    # Found by QA: on GLM-5.3 the palette offered "Regenerate with thinking off", which sent
    # its lowest effort without a word.
    zai.reply(Reply(chunks=stream(["one"])), Reply(chunks=stream(["two"])))
    async with running(model="zai/glm-5.3") as pilot:
        await send(pilot, "a")
        await wait_for_stream(pilot)
        titles = [title for title, _, _ in ChatCommands(pilot.app.screen)._commands()]
        assert "Regenerate with the lowest effort (low)" in titles
        assert not any("thinking off" in title or "thinking on" in title for title in titles)
        await run_command(pilot, "Regenerate with the lowest effort (low)")
        await wait_for_stream(pilot)
    assert zai.requests[-1].json["reasoning_effort"] == "low"


async def test_keys_read_with_the_enter_that_closes_the_palette_do_not_crash_it() -> None:
    """Found by QA: `ctrl+p`, `rename`, then two enters in one read. The first picked the
    command and closed the palette; the second, routed to the palette's box before the first
    was handled, closed it again: the app crashed (no screen left to pop)."""
    async with running() as pilot:
        app = pilot.app
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"rename")
        await pilot.pause(1.0)  # the search has shown its results
        for name in ("enter", "enter"):
            app.post_message(events.Key(name, None))
        await pilot.pause(0.5)
        assert app.is_running and app.return_code is None
        assert isinstance(app.screen, TextPrompt)  # the first enter's pick: rename


@pytest.fixture
def slow_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results that take a moment, as on a busy machine (Textual shows the first ones 0.25 s
    or more after the palette opens)."""
    search = ChatCommands.search

    async def slow(self: ChatCommands, query: str) -> Any:
        await asyncio.sleep(0.3)
        async for hit in search(self, query):
            yield hit

    monkeypatch.setattr(ChatCommands, "search", slow)


@pytest.mark.usefixtures("slow_search")
async def test_enter_before_the_results_show_picks_the_first_result(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["ok"])))
    async with running() as pilot:
        app = glm(pilot)
        await send(pilot, "first prompt")
        await wait_for_stream(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        burst(app, [*typed("rename conv"), ENTER])  # Enter long before any result shows
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt), "the rename dialog")


@pytest.mark.usefixtures("slow_search")
async def test_enter_after_more_letters_waits_for_their_results(zai: WireServer) -> None:
    """The first letters' results are on screen, more letters are typed and Enter at once:
    the command is the one the whole text finds, not the first letters' best."""
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press("r", "e", "n")
        await wait_until(pilot, lambda: "Rename conversation" in screen_text(app), "results")
        await pilot.press("backspace", "backspace")
        burst(app, [*typed("sume conv"), ENTER])
        await wait_until(pilot, lambda: isinstance(app.screen, SessionPicker), "the picker")


@pytest.mark.usefixtures("slow_search")
async def test_letters_typed_after_an_early_enter_cancel_it(zai: WireServer) -> None:
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        burst(app, [*typed("rename"), ENTER])
        await pilot.pause(0.1)  # the Enter is in; the results are not
        await pilot.press("x")  # typed on: that Enter was for less, it picks nothing
        await pilot.pause(0.8)
        assert app.screen.query_one(Input).value == "renamex" and not isinstance(
            app.screen, TextPrompt
        )


@pytest.mark.parametrize(
    ("before", "keys", "after"),
    [
        ("ab", ["x", "backspace", "y"], "aby"),
        ("ab", ["home", "Z"], "Zab"),
        ("abc", ["left", "x"], "abxc"),
        ("abc", ["backspace", "x"], "abx"),
        ("abc", ["ctrl+u", *"rename"], "rename"),
        ("abc def", ["ctrl+w", "x"], "abc x"),
    ],
)
async def test_keys_read_together_in_the_palette_act_in_their_order(
    before: str, keys: list[str], after: str
) -> None:
    """Found by QA: the palette's box typed the letters of a read before the editing and cursor
    keys read with them (backspace, home, ctrl+u are bindings, run once the key has bubbled
    up to the app): `x`, backspace, `y` left `abx`; ctrl+u and a word, an empty box."""
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*before)
        await pilot.pause()
        burst(app, [(key, key if len(key) == 1 else None) for key in keys])  # one read
        await pilot.pause()
        assert app.screen.query_one(Input).value == after
