"""The conversation engine: one exchange at a time, for the TUI and `glmchat ask` (no Textual)."""

from glmchat.engine.conversation import (
    NEW_TITLE,
    ConversationEngine,
    HistoryUnavailable,
    RequestOptions,
)
from glmchat.engine.events import (
    EngineEvent,
    ExchangeEnded,
    ExchangeResult,
    SaveFailed,
)
from glmchat.engine.exchange import Exchange
from glmchat.engine.turns import Turn, history, usage_totals

__all__ = [
    "NEW_TITLE",
    "ConversationEngine",
    "EngineEvent",
    "Exchange",
    "ExchangeEnded",
    "ExchangeResult",
    "HistoryUnavailable",
    "RequestOptions",
    "SaveFailed",
    "Turn",
    "history",
    "usage_totals",
]
