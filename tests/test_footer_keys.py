"""The key bar shows each key as `[keys]` has it, the palette's too, and a message's version
keys only where they lead to another version (found by QA: `command_palette = "f2"` lost the
palette's hint; `[ ‹ Version  ] Version ›` were offered on messages with no other version)."""

from __future__ import annotations

import threading
from typing import Any

from textual.pilot import Pilot

from glmchat.config import save_value
from glmchat.keybindings import BINDING_IDS
from glmchat.tui.compat.keys import PALETTE_KEY_CLASS, FooterKey
from glmchat.tui.widgets.key_footer import KeyFooter
from tests.test_selection_burst import branched
from tests.tui_helpers import (
    active,
    running,
    screen_lines,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer

# A key for every binding id, none of them a default or a key the prompt box binds.
FRESH = [f"ctrl+f{n}" for n in range(1, 13)] + [f"shift+f{n}" for n in range(1, 13)]
REMAP = dict(zip(BINDING_IDS, FRESH, strict=False))
REMAP_SELECT_PREV = BINDING_IDS["select_prev"].split(",")[0]  # the default key


def shown(pilot: Pilot[Any]) -> list[tuple[str, str, bool]]:
    """(key, description, whether it is the palette's) for each key the footer shows."""
    footer = pilot.app.query_one(KeyFooter)
    return [
        (key.key, key.description, key.has_class(PALETTE_KEY_CLASS))
        for key in footer.query(FooterKey)
    ]


async def footers(pilot: Pilot[Any], select_prev: str) -> list[list[tuple[str, str, bool]]]:
    """The footer with the box focused, then with answer 0 (‹ 1/2 ›), then question 0."""
    seen = [shown(pilot)]
    for presses in (5, 1):
        for _ in range(presses):
            await pilot.press(select_prev)
        await pilot.pause()
        seen.append(shown(pilot))
    return seen


async def test_every_key_shown_follows_its_remapping(zai: WireServer) -> None:
    conversation = branched()
    async with running(resume=conversation) as pilot:
        default = await footers(pilot, BINDING_IDS["select_prev"])
    for binding_id, key in REMAP.items():
        save_value(f"keys.{binding_id}", key)
    async with running(resume=conversation) as pilot:
        remapped = await footers(pilot, REMAP["select_prev"])
        footer_line = screen_lines(pilot.app)[-1]
        palette = pilot.app.get_key_display(
            next(
                b.binding
                for b in pilot.app.screen.active_bindings.values()
                if b.binding.id == "command_palette"
            )
        )
    for before, after in zip(default, remapped, strict=True):
        assert sorted((d, p) for _, d, p in after) == sorted((d, p) for _, d, p in before)
        assert all(key in FRESH for key, _, _ in after), after
    assert (BINDING_IDS["command_palette"], "Palette", True) in default[0]
    assert (REMAP["command_palette"], "Palette", True) in remapped[0]
    assert f"{palette} Palette" in footer_line


async def test_the_palette_key_is_its_own_even_when_ctrl_p_is_another_keys(
    zai: WireServer,
) -> None:
    save_value("keys.command_palette", "f2")
    save_value("keys.fold_thinking", "ctrl+p")
    async with running() as pilot:
        keys = shown(pilot)
        assert [(k, d) for k, d, palette in keys if palette] == [("f2", "Palette")]
        assert ("ctrl+p", "Fold", False) in keys


def versions_offered(pilot: Pilot[Any]) -> set[str]:
    return {d for _, d, _ in shown(pilot) if "Version" in d}


async def test_version_keys_are_offered_only_where_another_version_is(
    zai: WireServer,
) -> None:
    async with running(resume=branched()) as pilot:
        pane = active(pilot)
        await pilot.press("alt+up")  # answer 2: no other version
        await pilot.pause()
        assert versions_offered(pilot) == set()
        await pilot.press("alt+up")  # question 2: none either
        await pilot.pause()
        assert versions_offered(pilot) == set()
        await pilot.press("alt+up", "alt+up", "alt+up")  # answer 0, ‹ 1/2 ›
        await pilot.pause()
        assert versions_offered(pilot) == {"Version ›"}
        await pilot.press("right_square_bracket")  # ‹ 2/2 ›
        await pilot.pause()
        assert [t.content for t in pane.engine.turns][-1] == "other answer 0"
        assert versions_offered(pilot) == {"‹ Version"}
        # Not offered, the key is typed (as any key that is not the selection's).
        await pilot.press("right_square_bracket")
        assert pane.prompt.text == "]" and pane.prompt.has_focus


def stop_key(pilot: Pilot[Any]) -> FooterKey:
    footer = pilot.app.query_one(KeyFooter)
    return next(key for key in footer.query(FooterKey) if key.action == "stop")


async def test_stop_is_dimmed_with_nothing_to_stop_and_the_keys_are_not_rebuilt(
    zai: WireServer,
) -> None:
    """Found by QA: the footer offered "esc Stop" with nothing streaming. It is dimmed then
    (focus in the prompt), enabled while an answer streams; the keys are restyled, not
    rebuilt, as each answer starts and ends (a rebuild is a dozen widgets)."""
    gate = threading.Event()
    zai.reply(Reply(chunks=stream(["Half an ", "answer"], holds={1: gate}), delay=0.005))
    try:
        async with running() as pilot:
            pane = active(pilot)
            await pilot.pause()
            keys = list(pilot.app.query_one(KeyFooter).query(FooterKey))
            assert stop_key(pilot).has_class("-disabled")
            await send(pilot, "go")
            await wait_until(pilot, lambda: not stop_key(pilot).has_class("-disabled"), "Stop")
            assert pane.streaming is not None
            gate.set()
            await wait_for_stream(pilot)
            await wait_until(pilot, lambda: stop_key(pilot).has_class("-disabled"), "dimmed")
            assert list(pilot.app.query_one(KeyFooter).query(FooterKey)) == keys
            await pilot.press("escape")  # nothing to stop: no harm, the focus stays
            assert pane.prompt.has_focus
    finally:
        gate.set()


async def test_the_stop_key_says_prompt_where_it_brings_the_focus_back(zai: WireServer) -> None:
    """Found by QA: with a message selected between answers, the footer offered "esc Stop"
    while the key took the focus back to the prompt. There it says "Prompt" (and does it);
    remapped, both follow the new key."""
    save_value("keys.stop", "f5")
    async with running(resume=branched()) as pilot:
        pane = active(pilot)
        await pilot.pause()
        assert ("f5", "Stop") in [(k, d) for k, d, _ in shown(pilot)]
        assert stop_key(pilot).has_class("-disabled")
        await pilot.press(REMAP_SELECT_PREV)
        await pilot.pause()
        assert not pane.prompt.has_focus
        keys = [(k, d) for k, d, _ in shown(pilot)]
        assert ("f5", "Prompt") in keys and ("f5", "Stop") not in keys, keys
        await pilot.press("f5")
        await pilot.pause()
        assert pane.prompt.has_focus
        assert ("f5", "Stop") in [(k, d) for k, d, _ in shown(pilot)]


async def test_a_dialog_shows_its_own_keys_not_the_chats() -> None:
    """The key bar under a dialog was the chat's: `r Regenerate` under the rename box (where r
    is typed), `⏎ Send` and `esc Stop` under the key dialog (where esc cancels). Each dialog
    shows its own keys, as its buttons name them, and only those that act (found by QA: the
    letters were never shown, and a lone "Edit the prompt (esc)" had `esc Cancel` below it)."""
    from glmchat.tui.screens.context_full import ContextFull
    from glmchat.tui.screens.drop_draft import DropDraft
    from glmchat.tui.screens.session_picker import SessionPicker
    from glmchat.tui.screens.text_prompt import TextPrompt
    from glmchat.tui.screens.tools_picker import ToolsPicker

    async with running() as pilot:
        app = pilot.app
        pane = active(pilot)
        chat_keys = screen_lines(app)[-1]
        assert "Send" in chat_keys, chat_keys
        tools = ToolsPicker(
            pane.engine.toolbox, lambda: (), web_search_available=False, changed=lambda: None
        )
        dialogs: list[tuple[Any, list[str], list[str]]] = [
            (TextPrompt("Rename", "a title"), ["esc Cancel"], []),
            (SessionPicker(app.store), ["esc Cancel"], []),  # type: ignore[attr-defined]
            (tools, ["esc Close"], []),
            (
                ContextFull("too long", can_leave_out=True),
                ["l Leave out oldest", "f Fork", "esc Cancel"],
                ["Edit"],
            ),
            (ContextFull("too long", can_leave_out=False), ["f Fork", "esc Cancel"], ["l Leave"]),
            (
                ContextFull("too long", can_leave_out=False, can_fork=False),
                ["esc Edit the prompt"],
                ["Fork", "Leave", "Cancel"],
            ),
            (DropDraft(quitting=True), ["esc Keep it", "y Quit"], ["Close"]),
            (DropDraft(quitting=False), ["esc Keep it", "y Close"], ["Quit"]),
        ]
        for dialog, shown, not_shown in dialogs:
            await app.push_screen(dialog)
            await pilot.pause()
            bottom = screen_lines(app)[-1]
            for words in shown:
                assert words in bottom, (type(dialog).__name__, bottom)
            for words in [*not_shown, "Send", "Regenerate", "Stop", " New"]:
                assert words not in bottom, (type(dialog).__name__, bottom)
            app.pop_screen()
            await pilot.pause()
        assert screen_lines(app)[-1] == chat_keys
        # The command palette (Textual's own screen) too.
        await pilot.press("ctrl+p")
        await pilot.pause()
        bottom = screen_lines(app)[-1]
        assert "esc Exit the command palette" in bottom and "Send" not in bottom, bottom
        await pilot.press("escape")
        await pilot.pause()
        assert screen_lines(app)[-1] == chat_keys
