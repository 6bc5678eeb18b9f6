"""The API key dialog fits a small terminal: its buttons can be read and pressed at 60x20,
even with the longest text it shows (found by QA: only the buttons' top edges showed)."""

from __future__ import annotations

import pytest

from glmchat.config import save_value
from glmchat.tui.screens.key_prompt import KeyPrompt
from tests.tui_helpers import running, screen_text, send, wait_for_stream
from tests.wire_server import WireServer, fixture_reply

LABELS = ("Save", "Check and save", "Cancel")


def buttons_readable(app: object) -> None:
    """Each button's label is on screen, and the key box above them."""
    screen = screen_text(app)
    for label in (*LABELS, "paste the key"):
        assert label in screen, f"{label!r} is not on screen:\n{screen}"


@pytest.mark.parametrize("size", [(60, 20), (60, 14)])
async def test_first_run_dialog_fits(wire: WireServer, size: tuple[int, int]) -> None:
    save_value("providers.zai.base_url", wire.url)
    async with running(size=size) as pilot:
        await send(pilot, "hi")
        await pilot.pause()
        assert isinstance(pilot.app.screen, KeyPrompt)
        buttons_readable(pilot.app)
        await pilot.click("#cancel")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, KeyPrompt)


@pytest.mark.parametrize("size", [(60, 20), (60, 14)])
async def test_asked_again_with_a_key_from_the_environment_fits(
    zai: WireServer, size: tuple[int, int]
) -> None:
    """The longest text: why it is asked again, the rule, and the environment's key."""
    zai.reply(fixture_reply("zai_error_401"))
    async with running(size=size) as pilot:
        await send(pilot, "will this work?")
        await wait_for_stream(pilot)
        assert isinstance(pilot.app.screen, KeyPrompt)
        buttons_readable(pilot.app)
