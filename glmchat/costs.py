"""What an answer cost: the provider's own figure when it sends one, else its tokens at the
model's catalogue prices. The one place this arithmetic lives (engine, ask, TUI and exports)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from glmchat.backend.events import Usage
    from glmchat.catalogue import ModelInfo
    from glmchat.config import Settings

CostSource = Literal["provider", "catalogue"]
PER_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Cost:
    """US dollars and where the figure came from; both None when unknown (never a made-up 0)."""

    usd: float | None = None
    source: CostSource | None = None

    @property
    def known(self) -> bool:
        return self.usd is not None


UNKNOWN = Cost()


def priced_cost(
    info: ModelInfo, prompt_tokens: int, cached_tokens: int, completion_tokens: int
) -> float | None:
    """Tokens at the model's prices (USD per million): input not read from the cache at the
    input price, cached input at the cached price, and everything the model wrote (reasoning
    included: it is billed as output) at the output price. None without input and output
    prices. A model with no cached price is charged its input price for cached tokens: never
    less than it may cost."""
    if info.price_input is None or info.price_output is None:
        return None
    cached = min(max(cached_tokens, 0), prompt_tokens)
    cached_price = info.price_input if info.price_cached is None else info.price_cached
    return (
        (prompt_tokens - cached) * info.price_input
        + cached * cached_price
        + completion_tokens * info.price_output
    ) / PER_MILLION


def answer_cost(usage: Usage | None, settings: Settings | None, provider: str, model: str) -> Cost:
    """One model call's cost: the provider's `usage.cost` (OpenRouter), else computed from the
    catalogue, else unknown (no usage, no token counts, or no prices for the model)."""
    if usage is None:
        return UNKNOWN
    if usage.cost is not None and math.isfinite(usage.cost) and usage.cost >= 0:
        return Cost(usage.cost, "provider")
    if usage.prompt_tokens is None or usage.completion_tokens is None:
        return UNKNOWN
    from glmchat.catalogue import lookup

    usd = priced_cost(
        lookup(settings, provider, model),
        usage.prompt_tokens,
        usage.cached_tokens or 0,  # not reported: nothing was read from a cache
        usage.completion_tokens,
    )
    return UNKNOWN if usd is None else Cost(usd, "catalogue")


def add_costs(a: Cost | None, b: Cost | None) -> Cost | None:
    """Two model calls of one exchange as one figure: unknown if either is; "catalogue" if
    either was computed. None stands for no call at all."""
    if a is None or b is None:
        return a or b
    if a.usd is None or b.usd is None:
        return UNKNOWN
    source: CostSource = "provider" if a.source == b.source == "provider" else "catalogue"
    return Cost(a.usd + b.usd, source)


def format_usd(usd: float) -> str:
    """A cost for people: cents for dollars, two significant digits below a cent
    ($12.30, $0.042, $0.0031, $0.00025, $0)."""
    if usd == 0:
        return "$0"
    if usd >= 1:
        return f"${usd:,.2f}"
    if usd >= 0.01:
        return f"${usd:.3f}"
    decimals = min(-math.floor(math.log10(usd)) + 1, 8)
    return f"${usd:.{decimals}f}"


def counts_as_answer(message: Any) -> bool:
    """Whether a message counts in usage and cost totals (an engine Turn or a StoredMessage):
    an answer whose usage or cost is known, or one that ended having written text or thinking
    (stopped or cut off: its tokens were spent and billed, its cost is unknown). One that
    failed or was stopped before writing anything counts as none. The store's ledger and its
    summaries say the same in SQL (store/migrations.py `_ANSWER_ROW`)."""
    if message.role != "assistant":
        return False
    if message.usage or message.cost is not None:
        return True
    return message.finished is not None and bool(message.content or message.reasoning)
