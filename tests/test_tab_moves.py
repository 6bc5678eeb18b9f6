"""A new pane or a switch moves the tab underline at once: Textual's 0.3 s slide was about 18
frames of the whole screen each time (compat `still_underline`). Counts, never wall time."""

from __future__ import annotations

import inspect
from typing import Any

from textual.widgets import Tabs
from textual.widgets._tabs import Underline

from tests.tui_helpers import active, glm, running


def test_tabs_still_moves_its_underline_through_highlight_active() -> None:
    """Tripwire: the shim wraps `Tabs._highlight_active(animate=...)`."""
    assert "animate" in inspect.signature(Tabs._highlight_active).parameters


async def test_a_new_pane_and_a_switch_do_not_animate_the_underline() -> None:
    async with running() as pilot:
        app = glm(pilot)
        app.animation_level = "full"  # what a user has (the tests' helper turns it off)
        underline = app.query_one(Underline)
        animated: list[str] = []
        original = underline.animate

        def recording(attribute: str, *args: Any, **kwargs: Any) -> None:
            animated.append(attribute)
            original(attribute, *args, **kwargs)

        underline.animate = recording  # type: ignore[method-assign]
        # New panes, a switch, and closing the shown pane (its neighbour is shown, and the tabs
        # after it move left).
        for key in ("ctrl+n", "ctrl+n", "ctrl+pageup", "ctrl+w", "ctrl+n", "ctrl+pageup"):
            await pilot.press(key)
            await pilot.pause(0.1)
            tabs = app.query_one(Tabs)
            active_tab = tabs.active_tab
            assert active_tab is not None
            start, end = active_tab.virtual_region.shrink(active_tab.styles.gutter).column_span
            assert (underline.highlight_start, underline.highlight_end) == (start, end)
        assert animated == []
        assert active(pilot) is app.active_pane
