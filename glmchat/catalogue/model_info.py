"""What glmchat knows of one model on one provider, and what config.toml may say about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Thinking = Literal["hybrid", "default-on", "always"]
THINKING_KINDS: tuple[str, ...] = ("hybrid", "default-on", "always")
Source = Literal["catalogue", "config", "openrouter", "unknown"]
# The efforts an always-thinking model takes when nothing says otherwise: Z.ai's GLM-5.3 scale,
# which OpenRouter's `reasoning.effort` shares.
DEFAULT_EFFORTS = ("low", "high", "max")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model's limits, thinking behaviour and prices; None where nothing is known.

    Prices are USD per million tokens; `price_date` and `price_source` say when and where they
    were taken. `source` is where the entry came from ("config" when config.toml changed any
    of it, "unknown" when no entry exists)."""

    provider: str
    model: str
    known: bool
    context: int | None = None
    max_output: int | None = None
    thinking: Thinking | None = None
    efforts: tuple[str, ...] = ()
    default_effort: str | None = None
    tool_stream: bool | None = None
    price_input: float | None = None
    price_cached: float | None = None
    price_output: float | None = None
    price_date: str | None = None
    price_source: str | None = None
    source: Source = "unknown"

    @property
    def always_thinks(self) -> bool:
        """Thinking cannot be turned off: the switch moves between effort levels instead."""
        return self.thinking == "always"

    @property
    def priced(self) -> bool:
        return self.price_input is not None and self.price_output is not None


@dataclass(frozen=True, slots=True)
class ModelOverride:
    """A `[models."PROVIDER/MODEL"]` table of config.toml: each value given replaces the
    catalogue's (or describes a model the catalogue lacks)."""

    context: int | None = None
    max_output: int | None = None
    thinking: str | None = None  # one of THINKING_KINDS
    price_input: float | None = None
    price_cached: float | None = None
    price_output: float | None = None
