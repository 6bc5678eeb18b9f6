"""What an answer leaves spent: today's and this month's cost against `[budget]`, and the coding
plan's prompts in its window. Read from the store once an answer is saved, never before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from glmchat.costs import Cost, format_usd

if TYPE_CHECKING:
    from glmchat.config import Settings
    from glmchat.store import SessionStore

_PERIODS = (("daily_usd", "Today's"), ("monthly_usd", "This month's"))


@dataclass(frozen=True, slots=True)
class Spending:
    """After an answer: what the day and month have cost so far (None: not asked, no limit is
    set), the limits reached (`over`, one sentence each) and those this answer pushed over
    (`crossed`, told once), and the coding plan's count (None: not the coding plan)."""

    day: float | None = None
    month: float | None = None
    over: tuple[str, ...] = ()
    crossed: tuple[str, ...] = ()
    plan_prompts: int | None = None
    plan_size: int | None = None

    @property
    def plan_line(self) -> str | None:
        if self.plan_prompts is None:
            return None
        from glmchat.coding_plan import plan_line

        return plan_line(self.plan_prompts, self.plan_size)


def period_starts(now: datetime) -> tuple[datetime, datetime]:
    """The local midnight that began today, and the one that began this month."""
    local = now.astimezone()
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def after_answer(
    store: SessionStore | None,
    settings: Settings,
    provider: str,
    cost: Cost | None,
    now: datetime | None = None,
) -> Spending:
    """The spending an answer (its `cost`, already saved) leaves. Without a store nothing is
    known; without limits or the coding plan nothing is read."""
    from glmchat.coding_plan import PROVIDER, window_start

    if store is None:
        return Spending()
    now = now or datetime.now().astimezone()
    budget = settings.budget
    limits = {"daily_usd": budget.daily_usd, "monthly_usd": budget.monthly_usd}
    spent: dict[str, float] = {}
    day_start, month_start = period_starts(now)
    if budget.daily_usd is not None:
        spent["daily_usd"] = store.spent_since(day_start)
    if budget.monthly_usd is not None:
        spent["monthly_usd"] = store.spent_since(month_start)
    this = cost.usd if cost is not None and cost.usd is not None else 0.0
    over: list[str] = []
    crossed: list[str] = []
    for key, period in _PERIODS:
        limit = limits[key]
        if limit is None or key not in spent or spent[key] < limit:
            continue
        line = (
            f"{period} answers have cost {format_usd(spent[key])}, over your "
            f"{key.removesuffix('_usd')} budget of {format_usd(limit)} ([budget] {key})."
        )
        over.append(line)
        if spent[key] - this < limit:
            crossed.append(line)
    plan = settings.coding_plan.prompts
    prompts = store.prompts_since(PROVIDER, window_start(now)) if provider == PROVIDER else None
    return Spending(
        day=spent.get("daily_usd"),
        month=spent.get("monthly_usd"),
        over=tuple(over),
        crossed=tuple(crossed),
        plan_prompts=prompts,
        plan_size=plan,
    )
