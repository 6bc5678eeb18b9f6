"""The model catalogue: each known model's context window, maximum output, thinking behaviour,
`tool_stream` support and prices, as shipped data (models.toml), config.toml overrides and
OpenRouter's live list. Nothing is read until the first lookup."""

from glmchat.catalogue.lookup import known_models, lookup
from glmchat.catalogue.model_info import (
    DEFAULT_EFFORTS,
    THINKING_KINDS,
    ModelInfo,
    ModelOverride,
    Thinking,
)

__all__ = [
    "DEFAULT_EFFORTS",
    "THINKING_KINDS",
    "ModelInfo",
    "ModelOverride",
    "Thinking",
    "known_models",
    "lookup",
]
