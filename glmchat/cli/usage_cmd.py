"""`glmchat usage`: tokens and cost by day, model or conversation over a period, from the store."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from glmchat.cli.cells import aligned
from glmchat.cli.errors import CliError
from glmchat.terminal_text import dumps_json, neutralize_controls

if TYPE_CHECKING:
    from glmchat.store.usage import Count, UsageRow

_COLUMNS = ("answers", "input", "cached", "output", "reasoning", "cost")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "usage",
        description="Sum the saved answers' tokens (input, cached, output, reasoning) and "
        "cost by local day, model or conversation. What was spent stays counted after a retry "
        "or a delete. A cost marked ~ was computed from the model's prices; one marked ≥ "
        "leaves out answers whose price is unknown. A token count marked ≥ leaves out answers "
        "whose provider did not send it; one shown as ? is unknown: no answer's provider "
        "sent it.",
    )
    p.add_argument("--since", metavar="DATE", help="from this local day (YYYY-MM-DD), included")
    p.add_argument("--until", metavar="DATE", help="to this local day (YYYY-MM-DD), included")
    p.add_argument(
        "--by", choices=("day", "model", "conversation"), default="day", help="group by (day)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _day(flag: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"{flag} {text!r} is not a date; give it as YYYY-MM-DD") from None


def run(args: argparse.Namespace) -> int:
    from glmchat import paths
    from glmchat.coding_plan import PROVIDER, plan_line, window_start
    from glmchat.config import load_settings
    from glmchat.store import SessionStore
    from glmchat.store.usage import total as summed

    since, until = _day("--since", args.since), _day("--until", args.until)
    if since and until and since > until:
        raise CliError(f"--since {since} is after --until {until}; nothing is in between")
    settings = load_settings()
    for warning in settings.warnings:
        print(f"glmchat: warning: {warning}", file=sys.stderr)
    path = paths.database_path()
    rows: list[UsageRow] = []
    plan_used: int | None = None
    if path.exists():  # no database yet: nothing was spent, and none is made for asking
        with SessionStore(path) as store:
            rows = store.usage_report(args.by, since, until)
            plan_used = store.prompts_since(PROVIDER, window_start(datetime.now().astimezone()))
    plan_size = settings.coding_plan.prompts
    if not plan_size and not plan_used:
        plan_used = None  # no plan set and none used: no line for it
    total = summed(rows)
    if args.json:
        plan = None
        if plan_used is not None:
            plan = {"provider": PROVIDER, "prompts": plan_used, "plan_prompts": plan_size}
        doc = {
            "by": args.by,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "rows": [_row_doc(row, args.by) for row in rows],
            "total": _row_doc(total, None),
            "coding_plan": plan,
        }
        print(dumps_json(doc, indent=2))
        return 0
    _print_table(rows, total, args.by)
    if plan_used is not None:
        print(plan_line(plan_used, plan_size))
    return 0


# The JSON's name for each token count, in the order of the table's columns.
_JSON_COUNTS: tuple[tuple[str, Count], ...] = (
    ("input_tokens", "prompt_tokens"),
    ("cached_tokens", "cached_tokens"),
    ("output_tokens", "completion_tokens"),
    ("reasoning_tokens", "reasoning_tokens"),
)


def _row_doc(row: UsageRow, by: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if by is not None:
        doc[by] = row.key
    if by == "conversation":
        doc["title"] = row.title
        doc["deleted"] = row.deleted
    doc["answers"] = row.answers
    # A count no answer reported is null, as in `ask --json`; one some answers did not report
    # sums those that did, and `unreported_answers` says how many did not, as for the cost.
    doc.update((name, row.tokens(count).known) for name, count in _JSON_COUNTS)
    doc.update(
        cost=row.cost,
        unpriced_answers=row.unpriced,
        unreported_answers={name: row.unreported(count) for name, count in _JSON_COUNTS},
    )
    return doc


def _tokens(row: UsageRow, count: Count) -> str:
    """A token count's cell: "?" when no answer reported it, "≥" when some did not."""
    known = row.tokens(count).known
    if known is None:
        return "?" if row.answers else "-"
    return ("≥" if row.unreported(count) else "") + f"{known:,}"


def _cost(row: UsageRow) -> str:
    from glmchat.costs import format_usd

    if row.cost is None:
        return "?" if row.answers else "-"
    return ("≥" if row.unpriced else "") + format_usd(row.cost)


def _label(row: UsageRow, by: str) -> str:
    if by != "conversation":
        return row.key
    if row.deleted:
        return f"{row.key} (deleted)"
    title = neutralize_controls(row.title or "Untitled")
    return f"{row.key} {title[:40]}"


def _print_table(rows: list[UsageRow], total: UsageRow, by: str) -> None:
    if not rows:
        print("No answers in this period.")
        return
    lines = [[by, *_COLUMNS]]
    for row in [*rows, total]:
        lines.append(
            [
                _label(row, by) if row is not total else "total",
                f"{row.answers:,}",
                *(_tokens(row, count) for _, count in _JSON_COUNTS),
                _cost(row),
            ]
        )
    out = aligned(lines, right=range(1, len(lines[0])), rule_before_last=True)
    print("\n".join(out))  # one write: each goes through the terminal-safe stream
