"""Tokens and money summed from the store: `glmchat usage`, the budget, a coding plan's count.

Every figure comes from `usage_hours` (migration 4), a ledger the database keeps per UTC hour,
conversation and model; a range of days is a range of its hours, read from its primary key.
A token count a provider did not send is unknown, never 0: the ledger counts the answers that
reported each count (migration 9)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

By = Literal["day", "model", "conversation"]
BY_CHOICES: tuple[By, ...] = ("day", "model", "conversation")

# A group's sums, in the order `_row` reads them: each token count's sum, then how many
# answers reported it (migration 9), then the known cost.
_SUMS = (
    "sum(answers) AS n_answers, sum(priced) AS n_priced, sum(prompt_tokens) AS n_prompt, "
    "sum(cached_tokens) AS n_cached, sum(completion_tokens) AS n_completion, "
    "sum(reasoning_tokens) AS n_reasoning, sum(prompt_reported), sum(cached_reported), "
    "sum(completion_reported), sum(reasoning_reported), total(cost) AS spent"
)
_SUMMED = 11  # the columns of _SUMS

Count = Literal["prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens"]
COUNTS: tuple[Count, ...] = (
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "reasoning_tokens",
)


@dataclass(frozen=True, slots=True)
class TokenSum:
    """One token count over a group's answers: the sum of the counts that were reported, and
    how many answers reported one (a provider may send no cached or reasoning count)."""

    total: int = 0
    reported: int = 0

    @property
    def known(self) -> int | None:
        """The sum, or None when no answer reported the count: unknown, never 0."""
        return self.total if self.reported else None

    def __add__(self, other: TokenSum) -> TokenSum:
        return TokenSum(self.total + other.total, self.reported + other.reported)


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One group's answers and their tokens and cost. `cost` sums the answers whose cost is
    known: `unpriced` says how many are left out of it (None when none is known). Each token
    count likewise sums the answers that reported it: `unreported(count)` says how many did
    not (None when none did)."""

    key: str  # the local day (YYYY-MM-DD), PROVIDER/MODEL, or the conversation id
    answers: int = 0
    priced: int = 0
    prompt: TokenSum = TokenSum()
    cached: TokenSum = TokenSum()
    completion: TokenSum = TokenSum()
    reasoning: TokenSum = TokenSum()
    known_cost: float = 0.0
    title: str | None = None  # by conversation: its title (None: deleted or untitled)
    deleted: bool = False  # by conversation: no longer in the store (what it cost stays)

    @property
    def unpriced(self) -> int:
        return self.answers - self.priced

    @property
    def cost(self) -> float | None:
        return self.known_cost if self.priced else None

    @property
    def prompt_tokens(self) -> int | None:
        return self.prompt.known

    @property
    def cached_tokens(self) -> int | None:
        return self.cached.known

    @property
    def completion_tokens(self) -> int | None:
        return self.completion.known

    @property
    def reasoning_tokens(self) -> int | None:
        return self.reasoning.known

    def tokens(self, count: Count) -> TokenSum:
        return {
            "prompt_tokens": self.prompt,
            "cached_tokens": self.cached,
            "completion_tokens": self.completion,
            "reasoning_tokens": self.reasoning,
        }[count]

    def unreported(self, count: Count) -> int:
        """How many of the answers did not report `count`: its sum leaves them out."""
        return self.answers - self.tokens(count).reported

    def __add__(self, other: UsageRow) -> UsageRow:
        return replace(
            self,
            answers=self.answers + other.answers,
            priced=self.priced + other.priced,
            prompt=self.prompt + other.prompt,
            cached=self.cached + other.cached,
            completion=self.completion + other.completion,
            reasoning=self.reasoning + other.reasoning,
            known_cost=self.known_cost + other.known_cost,
        )


def total(rows: Sequence[UsageRow]) -> UsageRow:
    """The rows summed, as one row keyed "total"."""
    # One sum per column: adding rows one by one copies a row per row (10,000 conversations).
    return UsageRow(
        "total",
        answers=sum(row.answers for row in rows),
        priced=sum(row.priced for row in rows),
        prompt=_summed(row.prompt for row in rows),
        cached=_summed(row.cached for row in rows),
        completion=_summed(row.completion for row in rows),
        reasoning=_summed(row.reasoning for row in rows),
        known_cost=sum(row.known_cost for row in rows),
    )


def _summed(sums: Iterable[TokenSum]) -> TokenSum:
    totals, reported = 0, 0
    for one in sums:
        totals += one.total
        reported += one.reported
    return TokenSum(totals, reported)


def _row(values: Sequence[Any], title: str | None = None, deleted: bool = False) -> UsageRow:
    """A row from a key followed by the columns of _SUMS."""
    key, answers, priced, *tokens, spent = values
    prompt, cached, completion, reasoning = (
        TokenSum(tokens[i], tokens[i + 4]) for i in range(len(COUNTS))
    )
    return UsageRow(
        key, answers, priced, prompt, cached, completion, reasoning, spent, title, deleted
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
    order = "ORDER BY spent DESC, n_prompt + n_completion DESC"
    if by == "day":
        return _by_local_day(conn, start, end)
    if by == "model":
        rows = conn.execute(
            f"SELECT CASE WHEN provider != '' AND model != '' THEN provider || '/' || model "
            f"ELSE coalesce(nullif(model, ''), nullif(provider, ''), 'unknown') END, {_SUMS} "
            f"FROM usage_hours {where} GROUP BY provider, model {order}",
            (start, end),
        ).fetchall()
        return [_row(row) for row in rows]
    rows = conn.execute(
        f"SELECT u.*, c.title, c.id IS NULL FROM (SELECT conversation_id, {_SUMS} "
        f"FROM usage_hours {where} GROUP BY conversation_id) u "
        f"LEFT JOIN conversations c ON c.id = u.conversation_id {order}",
        (start, end),
    ).fetchall()
    size = 1 + _SUMMED  # the conversation id and its sums; then its title and whether it is gone
    return [_row(row[:size], row[size], bool(row[size + 1])) for row in rows]


def _by_local_day(conn: sqlite3.Connection, start: str, end: str) -> list[UsageRow]:
    """Sums per local day: each day is the range of UTC hours between its midnight and the
    next (daylight saving time included), looked up in the ledger's key."""
    # Two look-ups in the key: asked for both at once, SQLite reads the whole range instead.
    where = "FROM usage_hours WHERE hour >= ? AND hour < ?"
    first = conn.execute(f"SELECT min(hour) {where}", (start, end)).fetchone()[0]
    last = conn.execute(f"SELECT max(hour) {where}", (start, end)).fetchone()[0]
    if first is None:
        return []
    rows: list[UsageRow] = []
    undated = first < "0"  # answers with no time at all (an import without one)
    if undated:
        rows += _day_rows(conn, [("unknown", "", "0")])
        first = conn.execute(
            "SELECT min(hour) FROM usage_hours WHERE hour >= '0' AND hour < ?", (end,)
        ).fetchone()[0]
        if first is None:
            return rows
    day, final = _local_day(first), _local_day(last)
    bounds = []
    start = utc_hour(local_midnight(day))
    while day <= final:
        following = day + timedelta(days=1)
        end = utc_hour(local_midnight(following))  # the next day's start: computed once
        bounds.append((day.isoformat(), start, end))
        day, start = following, end
    return rows + _day_rows(conn, bounds)


def _day_rows(conn: sqlite3.Connection, bounds: list[tuple[str, str, str]]) -> list[UsageRow]:
    values = ", ".join("(?, ?, ?)" for _ in bounds)
    rows = conn.execute(
        f"WITH days (day, first, next) AS (VALUES {values}) "
        f"SELECT day, {_SUMS} FROM days JOIN usage_hours ON hour >= first AND hour < next "
        "GROUP BY day ORDER BY day",
        [value for bound in bounds for value in bound],
    ).fetchall()
    return [_row(row) for row in rows]


def _local_day(hour: str) -> date:
    # fromisoformat reads "2026-08-21T10" as strptime did, without importing _strptime,
    # calendar and locale (3 ms of each `glmchat usage`).
    return datetime.fromisoformat(hour).replace(tzinfo=UTC).astimezone().date()


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
