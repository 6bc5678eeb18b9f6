"""Every dialog of the app keeps its title and its buttons (or its box and list) on screen down
to 60x14 (found by QA: at 60x14 the unsent-prompt dialog showed no buttons, at 60x17 its
bottom border was cut; the context dialog lost its buttons too). What does not fit of a
dialog's text scrolls between the two (tui/screens/dialog.py, modals.tcss)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.screen import Screen

from glmchat.tui.app import GlmChatApp
from glmchat.tui.screens.context_full import ContextFull
from glmchat.tui.screens.dialog import Dialog
from glmchat.tui.screens.drop_draft import DropDraft
from glmchat.tui.screens.session_picker import SessionPicker
from glmchat.tui.screens.text_prompt import TextPrompt
from glmchat.tui.screens.tools_picker import ToolsPicker
from tests.tui_helpers import active, glm, running, screen_text, wait_until

TOO_LONG = (
    "The prompt needs about 200,000 tokens with the history and the model takes 128,000: "
    "it does not fit, even with the oldest turns left out."
)


def _tools(app: GlmChatApp) -> Screen[Any]:
    pane = app.active_pane
    assert pane is not None and pane.engine.toolbox is not None
    toolbox = pane.engine.toolbox
    return ToolsPicker(toolbox, app.tools.statuses, web_search_available=True, changed=print)


# Each dialog, and what must show of it: its title's start, its buttons, box or list.
DIALOGS: dict[str, tuple[Callable[[GlmChatApp], Screen[Any]], tuple[str, ...]]] = {
    "unsent prompt, quitting": (
        lambda app: DropDraft(quitting=True, panes=3),
        ("Unsent prompt", "Keep it (esc)", "Quit (y)"),
    ),
    "unsent prompt, closing": (
        lambda app: DropDraft(quitting=False),
        ("Unsent prompt", "Keep it (esc)", "Close (y)"),
    ),
    "context full": (
        lambda app: ContextFull(TOO_LONG, can_leave_out=True),
        ("The conversation does not", "Leave out oldest (l)", "Fork (f)", "Cancel (esc)"),
    ),
    "rename": (
        lambda app: TextPrompt("Rename conversation", "Sourdough"),
        ("Rename", "Sourdough", "enter to save · escape to cancel"),
    ),
    "sessions": (
        lambda app: SessionPicker(app.store),
        ("Resume a conversation", "search titles", "No conversations found"),
    ),
    "tools": (_tools, ("Tools for this conversation", "web search", "escape: close")),
}


@pytest.mark.parametrize("size", [(60, 14), (60, 17), (60, 20), (60, 40)])
@pytest.mark.parametrize("name", list(DIALOGS))
async def test_a_dialog_keeps_its_buttons_on_a_short_terminal(
    name: str, size: tuple[int, int]
) -> None:
    make, shown = DIALOGS[name]
    async with running(size=size) as pilot:
        app = glm(pilot)
        dialog = make(app)
        assert isinstance(dialog, Dialog)  # the shared rules apply to it
        app.push_screen(dialog)
        await wait_until(pilot, lambda: app.screen is dialog, "the dialog")
        await pilot.pause()
        screen = screen_text(app)
        for text in shown:
            assert text in screen, f"{text!r} is not on screen:\n{screen}"
        # The whole frame is on screen (at 60x17 its bottom border was cut).
        region = dialog.query_one(".dialog").region
        assert region.y >= 0 and region.bottom <= size[1], (region, size)


async def test_the_unsent_prompt_dialog_s_buttons_answer_at_60x14() -> None:
    async with running(size=(60, 14)) as pilot:
        app = glm(pilot)
        active(pilot).prompt.insert("not saved anywhere")
        await pilot.press("ctrl+w")
        await wait_until(pilot, lambda: isinstance(app.screen, DropDraft), "the question")
        await pilot.click("#keep")
        await pilot.pause()
        assert not isinstance(app.screen, DropDraft)
        assert active(pilot).prompt.text == "not saved anywhere"
