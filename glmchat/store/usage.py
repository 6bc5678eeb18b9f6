"""Tokens and money summed from the store: `glmchat usage`, the budget, a coding plan's count.

Every figure comes from `usage_hours` (migration 4), a ledger the database keeps per UTC hour,
conversation and model; a range of days is a range of its hours, read from its primary key."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

By = Literal["day", "model", "conversation"]
BY_CHOICES: tuple[By, ...] = ("day", "model", "conversation")

_SUMS = (
    "sum(answers), sum(priced), sum(prompt_tokens), sum(cached_tokens), "
    "sum(completion_tokens), sum(reasoning_tokens), total(cost)"
)


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One group's answers and their tokens and cost. `cost` sums the answers whose cost is
    known: `unpriced` says how many are left out of it (None when none is known)."""

    key: str  # the local day (YYYY-MM-DD), PROVIDER/MODEL, or the conversation id
    answers: int = 0
    priced: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    known_cost: float = 0.0
    title: str | None = None  # by conversation: its title (None: deleted or untitled)
    deleted: bool = False  # by conversation: no longer in the store (what it cost stays)

    @property
    def unpriced(self) -> int:
        return self.answers - self.priced

    @property
    def cost(self) -> float | None:
        return self.known_cost if self.priced else None

    def __add__(self, other: UsageRow) -> UsageRow:
        return replace(
            self,
            answers=self.answers + other.answers,
            priced=self.priced + other.priced,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            known_cost=self.known_cost + other.known_cost,
        )


def utc_hour(moment: datetime) -> str:
    """The usage_hours bucket a moment falls in ("2026-08-21T10")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def local_midnight(day: date) -> datetime:
    """The start of a local calendar day, as an aware datetime."""
    return datetime(day.year, day.month, day.day).astimezone()


def hour_range(since: date | None, until: date | None) -> tuple[str, str]:
    """The buckets of local days `since` to `until`, both included, as [start, end) hours.

    Hours are whole UTC hours: where the local zone is not a whole number of hours from UTC,
    the hour that holds local midnight counts toward the day it starts in."""
    start = utc_hour(local_midnight(since)) if since else ""
    end = utc_hour(local_midnight(until + timedelta(days=1))) if until else "~"
    return start, end


def report(
    conn: sqlite3.Connection, by: By, since: date | None, until: date | None
) -> list[UsageRow]:
    """The groups of the period, in order: days oldest first; models and conversations by
    cost, then tokens, highest first."""
    start, end = hour_range(since, until)
    where = "WHERE hour >= ? AND hour < ?"
    if by == "day":
        rows = conn.execute(
            f"SELECT hour, {_SUMS} FROM usage_hours {where} GROUP BY hour ORDER BY hour",
            (start, end),
        ).fetchall()
        return _by_local_day(rows)
    if by == "model":
        rows = conn.execute(
            f"SELECT provider, model, {_SUMS} FROM usage_hours {where} GROUP BY provider, model",
            (start, end),
        ).fetchall()
        out = [_row(f"{p}/{m}" if p and m else (m or p or "unknown"), r) for p, m, *r in rows]
    else:
        rows = conn.execute(
            f"SELECT u.*, c.title, c.id IS NULL FROM (SELECT conversation_id, {_SUMS} "
            f"FROM usage_hours {where} GROUP BY conversation_id) u "
            "LEFT JOIN conversations c ON c.id = u.conversation_id",
            (start, end),
        ).fetchall()
        out = [replace(_row(cid, r[:-2]), title=r[-2], deleted=bool(r[-1])) for cid, *r in rows]
    out.sort(key=lambda row: (-row.known_cost, -row.prompt_tokens - row.completion_tokens))
    return out


def _row(key: str, sums: Any) -> UsageRow:
    return UsageRow(key, *(int(v or 0) for v in sums[:6]), float(sums[6] or 0.0))


def _by_local_day(rows: list[Any]) -> list[UsageRow]:
    days: dict[str, UsageRow] = {}
    day_of = _hour_to_local_day()
    for hour, *sums in rows:
        day = day_of(hour)
        row = _row(day, sums)
        days[day] = days[day] + row if day in days else row
    return list(days.values())


def _hour_to_local_day() -> Callable[[str], str]:
    cache: dict[str, str] = {}

    def day_of(hour: str) -> str:
        if hour not in cache:
            try:
                moment = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
                cache[hour] = moment.astimezone().date().isoformat()
            except ValueError:  # a row with no time at all (an imported answer without one)
                cache[hour] = "unknown"
        return cache[hour]

    return day_of


def spent_since(conn: sqlite3.Connection, since: datetime) -> float:
    """The known cost of every answer from `since` (to its hour) until now."""
    row = conn.execute(
        "SELECT total(cost) FROM usage_hours WHERE hour >= ?", (utc_hour(since),)
    ).fetchone()
    return float(row[0])


def prompts_since(conn: sqlite3.Connection, provider: str, since: datetime) -> int:
    """How many prompts were sent to `provider` from `since` on."""
    stamp = since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    row = conn.execute(
        "SELECT count(*) FROM messages WHERE role = 'user' AND provider = ? AND started >= ?",
        (provider, stamp),
    ).fetchone()
    return int(row[0])
