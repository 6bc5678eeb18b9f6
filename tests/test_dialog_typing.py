"""In a dialog with a text box, text typed or pasted wherever the focus is goes to the box:
on a button or the dialog's scrolling text it reached nothing and was lost. Keys that act on
what has the focus still act there (enter presses the button)."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Input

from glmchat.config import save_value
from glmchat.tui.screens.key_prompt import KeyPrompt
from tests.tui_helpers import running, send
from tests.wire_server import WireServer


async def key_dialog(pilot: Pilot[Any]) -> tuple[KeyPrompt, Input]:
    """The key dialog a first prompt opens (no key is configured), and its box."""
    await send(pilot, "hi")
    await pilot.pause()
    dialog = pilot.app.screen
    assert isinstance(dialog, KeyPrompt)
    return dialog, dialog.query_one("#key", Input)


async def test_the_key_dialog_takes_a_key_typed_or_pasted_with_a_button_focused(
    wire: WireServer,
) -> None:
    save_value("providers.zai.base_url", wire.url)  # and no key: the dialog asks for one
    async with running() as pilot:
        dialog, box = await key_dialog(pilot)
        dialog.query_one("#check", Button).focus()
        await pilot.pause()
        await pilot.press(*"sk-")
        assert box.value == "sk-" and box.has_focus
        # A paste with a button focused, then one on the dialog's text (it scrolls: focusable).
        dialog.query_one("#cancel", Button).focus()
        await pilot.pause()
        pilot.app.post_message(events.Paste("first-half"))
        await pilot.pause()
        dialog.query_one("#key-text").focus()
        await pilot.pause()
        for character in "-and-rest":  # one read's keys, all routed before the first is handled
            pilot.app.post_message(events.Key(character, character))
        await pilot.pause()
        assert box.value == "sk-first-half-and-rest" and box.has_focus
        # Enter on a focused button is the button's.
        dialog.query_one("#cancel", Button).focus()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, KeyPrompt)


async def test_a_dialogs_box_keeps_its_own_keys_in_order_with_the_letters(
    wire: WireServer,
) -> None:
    """Input's backspace, delete and cursor keys ran once the key had bubbled up to the app:
    keys of one read (a fast typist, a pasted sequence) typed the letters behind a backspace
    before it (found by QA). A backspace with the focus off the box edits the box too."""
    save_value("providers.zai.base_url", wire.url)
    async with running() as pilot:
        dialog, box = await key_dialog(pilot)
        for name in [*"sk-abc", "backspace", "d", "left", "left", "x", "end", "!"]:
            pilot.app.post_message(events.Key(name, name if len(name) == 1 else None))
        await pilot.pause()
        assert box.value == "sk-axbd!"
        # With the focus on a button, the box's editing keys are the box's (one at a time).
        dialog.query_one("#check", Button).focus()
        await pilot.pause()
        await pilot.press("backspace", "backspace", "e")
        assert box.value == "sk-axbe" and box.has_focus
        # The box's other keys too (found by QA: ctrl+u from a button did nothing).
        dialog.query_one("#save", Button).focus()
        await pilot.pause()
        await pilot.press("ctrl+u")
        assert box.value == "" and box.has_focus


async def test_coming_back_to_a_dialogs_box_keeps_what_it_holds(wire: WireServer) -> None:
    """Input selects all it holds each time it takes the focus, so the next key replaced it:
    half a key typed, a look at the buttons (tab) and back (shift+tab), and the rest typed
    over the first half. Only the box's first focus selects (a title to rename)."""
    save_value("providers.zai.base_url", wire.url)
    async with running() as pilot:
        dialog, box = await key_dialog(pilot)
        await pilot.press(*"sk-first")
        await pilot.press("tab")
        assert not box.has_focus
        await pilot.press("shift+tab")
        assert box.has_focus
        await pilot.press(*"-rest")
        assert box.value == "sk-first-rest"
        dialog.dismiss(None)
        await pilot.pause()
        # The rename dialog's first focus selects the title: typing replaces it.
        await pilot.press("ctrl+n")
        pane = pilot.app.active_pane  # type: ignore[attr-defined]
        pane.rename("old title")
        await pilot.pause()
        await pilot.app.run_action("rename")
        await pilot.pause()
        rename = pilot.app.screen.query_one("#value", Input)
        await pilot.press(*"new")
        assert rename.value == "new"
        await pilot.press("tab", "shift+tab", *" one")
        assert rename.value == "new one"
