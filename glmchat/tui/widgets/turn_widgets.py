"""The log's widget for turns read from the conversation: a prompt, or a whole answer."""

from __future__ import annotations

from collections.abc import Sequence

from glmchat.config import UiSettings
from glmchat.engine import ConversationEngine, Turn
from glmchat.tui.answer_rounds import answer_rounds
from glmchat.tui.context_budget import marked
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage


def widget_for(
    turns: Sequence[Turn], engine: ConversationEngine, ui: UiSettings, palette_key: str
) -> UserMessage | AssistantMessage:
    """A prompt, or a whole answer (every round of a tool loop, with its tool calls), dimmed
    when the model is no longer sent it. `palette_key` is the key an answer's notes name."""
    first = turns[0]
    if first.role == "user":
        prompt = UserMessage(first.content, siblings=first.siblings)
        prompt.turn = first
        return marked(prompt, engine, first)
    last = next((t for t in reversed(turns) if t.role == "assistant"), turns[-1])
    message = AssistantMessage(
        rounds=answer_rounds(turns),
        refresh_rate=ui.refresh_rate,
        code_theme=ui.code_theme,
        status=last.status,
        error=last.error,
        unfinished=last.unfinished,
        message_id=first.message_id,
        palette_key=palette_key,
        siblings=first.siblings,
    )
    message.turn = first
    return marked(message, engine, first)
