"""UI options from config.toml: hidden thinking panels and the compact layout."""

from __future__ import annotations

from glmchat.config import save_value
from glmchat.tui.widgets.messages import AssistantMessage, ThinkingPanel
from tests.tui_helpers import running, screen_text


async def test_show_thinking_false_hides_panels_but_keeps_the_answer() -> None:
    save_value("ui.show_thinking", "false")
    async with running() as pilot:
        pane = pilot.app.active_pane
        await pane.log_view.mount(AssistantMessage(content="the answer", reasoning="secret plan"))
        await pilot.pause()
        panel = pane.query_one(ThinkingPanel)
        assert not panel.display
        text = screen_text(pilot.app)
        assert "the answer" in text and "Thought for" not in text


async def test_compact_removes_message_margins() -> None:
    save_value("ui.compact", "true")
    async with running() as pilot:
        pane = pilot.app.active_pane
        message = AssistantMessage(content="x")
        await pane.log_view.mount(message)
        await pilot.pause()
        assert message.styles.margin.top == 0


async def test_default_layout_has_message_margins_and_panels() -> None:
    async with running() as pilot:
        pane = pilot.app.active_pane
        message = AssistantMessage(content="x", reasoning="why")
        await pane.log_view.mount(message)
        await pilot.pause()
        assert message.styles.margin.top == 1
        assert pane.query_one(ThinkingPanel).display
