"""The key bar rebuilds its keys only when what it shows changes (start-up changes the screen's
bindings three times on the way to the first paint, with the same keys each time)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tests.tui_helpers import glm, running, screen_lines, wait_until


def _keys(footer: Footer) -> tuple[tuple[str, str, bool], ...]:
    return tuple((k.key, k.description, k.disabled) for k in footer.query(FooterKey))


@pytest.fixture
def rebuilds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[str, str, bool], ...]]:
    """The keys the footer shows after each of its rebuilds (Textual's Footer.recompose)."""
    shown: list[tuple[tuple[str, str, bool], ...]] = []
    real = Footer.recompose

    async def recompose(self: Footer) -> None:
        await real(self)
        shown.append(_keys(self))

    monkeypatch.setattr(Footer, "recompose", recompose)
    return shown


async def test_start_up_never_rebuilds_the_keys_it_shows(
    rebuilds: list[tuple[tuple[str, str, bool], ...]],
) -> None:
    async with running() as pilot:
        await pilot.pause()
        footer = pilot.app.query_one(Footer)
        assert _keys(footer)  # the keys are shown
        assert rebuilds and rebuilds[-1] == _keys(footer)
        repeats = [
            keys for before, keys in zip(rebuilds, rebuilds[1:], strict=False) if keys == before
        ]
        assert repeats == [], f"{len(rebuilds)} rebuilds, {len(repeats)} to the same keys"


async def test_the_keys_follow_a_change_of_bindings(
    rebuilds: list[tuple[tuple[str, str, bool], ...]],
) -> None:
    async with running() as pilot:
        app = glm(pilot)
        await pilot.pause()
        before = len(rebuilds)
        binding: Any = next(
            b.binding for b in app.screen.active_bindings.values() if b.binding.id == "quit"
        )
        assert app.get_key_display(binding) in screen_lines(app)[-1]
        app.set_keymap({"quit": "f9"})
        await wait_until(pilot, lambda: "f9" in screen_lines(app)[-1].lower(), "the new key")
        assert len(rebuilds) == before + 1
