"""The pane's status line: its state, model, thinking mode, figures, tools and speed.

One line at any width: the state (not saved, waiting, streaming, a retry countdown) comes
first and always shows; the other fields take their short form, then drop out, least useful
first, when the line is narrower than all of them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from glmchat.coding_plan import plan_line
from glmchat.costs import format_usd
from glmchat.terminal_text import neutralize_controls

if TYPE_CHECKING:
    from glmchat.engine.spending import Spending
    from glmchat.engine.turns import UsageTotals

SEPARATOR = "  "
NEAR_LIMIT = 0.8  # of the context window: the gauge turns into a warning


@dataclass(frozen=True, slots=True)
class StatusInfo:
    provider: str = ""
    model: str = ""
    thinking: bool = True
    answers: int = 0  # answers in the conversation that reported usage
    tokens_in: int = 0
    tokens_out: int = 0
    cached: int = 0
    context: int = 0  # tokens the conversation fills (the provider's count, or an estimate)
    context_estimated: bool = False  # shown with "~" until the provider's count arrives
    context_window: int | None = None  # the model's, from the catalogue; None: not known
    effort: str = ""  # a model that always thinks: its effort level, shown instead of ON/OFF
    left_out: int = 0  # oldest turns left out of what is sent
    rate: float | None = None  # estimated tokens per second while streaming
    state: str = ""  # "waiting", "streaming", "retry 2/3 in 4 s", ...
    unsaved: bool = False
    # Money (money_fields): this answer's cost and the conversation's, a budget reached, and
    # on the coding plan its prompts in the window.
    cost_answer: str = ""
    cost_conversation: str = ""
    budget: str = ""
    plan_used: int | None = None
    plan_size: int | None = None
    tools: int = 0  # tools offered to the model in this pane
    servers: str = ""  # MCP servers starting or failed ("MCP starting 2")


@dataclass(frozen=True, slots=True)
class _Field:
    long: str
    short: str
    rank: int  # 0 always shows; higher ranks go first when the line is too narrow
    style: str = ""


def _k(n: int) -> str:
    return f"{n / 1000:.1f}K" if n >= 10_000 else str(n)


def _fields(info: StatusInfo) -> list[_Field]:
    """The line's fields in display order."""
    fields: list[_Field] = []
    if info.unsaved:
        fields.append(_Field("⚠ not saved", "⚠ not saved", 0, "bold red"))
    if info.state == "waiting":
        fields.append(_Field("waiting for the answer", "waiting", 0, "bold yellow"))
    elif info.state:
        fields.append(_Field(info.state, info.state, 0, "bold yellow"))
    fields.append(_Field(f"{info.provider}/{info.model}", info.model, 1, "bold"))
    on = info.effort or ("ON" if info.thinking else "OFF")
    fields.append(
        _Field(f"thinking {on}", f"think {on}", 2, "bold green" if info.thinking else "bold")
    )
    if info.answers:
        # The conversation's answers as it stands: a retried or edited answer is not in it.
        tokens = f"in {_k(info.tokens_in)} · out {_k(info.tokens_out)}"
        fields.append(_Field(f"conversation {tokens}", f"conv. {tokens}", 3))
        if info.cached:
            fields.append(_Field(f"cached {_k(info.cached)}", f"cached {_k(info.cached)}", 6))
    if info.context:
        fields.append(_context_field(info))
    if info.left_out:
        n = info.left_out
        fields.append(_Field(f"{n} oldest turns left out", f"−{n} turns", 2, "yellow"))
    if info.tools:
        fields.append(_Field(f"tools {info.tools}", f"tools {info.tools}", 4))
    if info.servers:
        fields.append(_Field(info.servers, info.servers, 5, "yellow"))
    if info.budget:
        fields.append(_Field(f"⚠ {info.budget}", "⚠ budget", 1, "bold red"))
    if info.cost_conversation:
        conv = f"conv {info.cost_conversation}"
        # No figure of its own (streaming, or failed before writing): the total alone.
        whole = f"{info.cost_answer} · {conv}" if info.cost_answer else conv
        fields.append(_Field(whole, conv, 3))
    if info.plan_used is not None:
        used = f"{info.plan_used}/{info.plan_size}" if info.plan_size else str(info.plan_used)
        long = plan_line(info.plan_used, info.plan_size)
        fields.append(_Field(long, f"plan {used}", 2, "bold" if info.plan_size else ""))
    if info.rate is not None:
        fields.append(_Field(f"~{info.rate:.0f} tok/s", f"~{info.rate:.0f} tok/s", 5))
    return fields


def _window(n: int) -> str:
    """A context window as its size is usually named: 128K, 200K, 1M."""
    if n >= 1_000_000:
        return f"{n / 1_048_576 if n % 1_000_000 else n / 1_000_000:g}M"
    return f"{n // 1024}K" if n % 1024 == 0 else _k(n)


def _context_field(info: StatusInfo) -> _Field:
    """How full the model's window is: a share of it when the window is known (a warning near
    and over the limit), else the tokens alone; "~" marks an estimate."""
    mark = "~" if info.context_estimated else ""
    used = f"{mark}{_k(info.context)}"
    window = info.context_window
    if not window:
        return _Field(f"context {used}", f"context {used}", 4)
    share = info.context / window
    pct = f"{mark}{100 * share:.0f}%"
    long = f"context {used}/{_window(window)} ({pct})"
    if share > 1:
        return _Field(f"{long} over the window", f"context {pct}", 1, "bold red")
    if share >= NEAR_LIMIT:
        return _Field(f"{long} near the limit", f"context {pct}", 1, "bold yellow")
    return _Field(long, f"context {pct}", 4)


def render_info(info: StatusInfo, width: int | None = None) -> Text:
    """The line for `info`, fitted to `width` cells (None: every field in full)."""
    # Model and provider names, states and server lines come from the config, the store or an
    # import: each shown as written (control characters as `\xNN`), measured as shown.
    fields = [
        replace(field, long=neutralize_controls(field.long), short=neutralize_controls(field.short))
        for field in _fields(info)
    ]
    forms = [field.long for field in fields]

    def total() -> int:
        shown = [form for form in forms if form]
        return sum(cell_len(form) for form in shown) + len(SEPARATOR) * (len(shown) - 1)

    if width is not None:
        least_useful_first = sorted(
            (i for i, field in enumerate(fields) if field.rank), key=lambda i: -fields[i].rank
        )
        for i in least_useful_first:  # first the short forms
            if total() <= width:
                break
            forms[i] = fields[i].short
        for i in least_useful_first:  # then fewer fields
            if total() <= width:
                break
            forms[i] = ""
    text = Text(no_wrap=True, overflow="ellipsis")
    for field, form in zip(fields, forms, strict=True):
        if form:
            if text:
                text.append(SEPARATOR)
            text.append(form, style=field.style)
    return text


def money_fields(totals: UsageTotals, spending: Spending | None) -> dict[str, Any]:
    """The StatusInfo money fields for a conversation's totals and its last answer's spending.

    A cost as reported is "$0.0031"; computed from the model's prices "~$0.0031"; unknown
    "$?"; a conversation total that leaves out answers of unknown cost "≥$0.042"."""
    out: dict[str, Any] = {"cost_answer": "", "cost_conversation": "", "budget": ""}
    if totals.answers or totals.unpriced:
        if not totals.last_counted:
            pass  # the last answer failed before writing anything (or is still streaming)
        elif totals.last_cost is None:
            out["cost_answer"] = "$?"
        else:
            out["cost_answer"] = ("~" if totals.last_estimated else "") + format_usd(
                totals.last_cost
            )
        priced = totals.answers - totals.unpriced
        if priced <= 0 and not totals.cost:
            out["cost_conversation"] = "$?"
        else:
            mark = "≥" if totals.unpriced else "~" if totals.estimated else ""
            out["cost_conversation"] = mark + format_usd(totals.cost)
    if spending is not None:
        kinds = [kind for kind in ("daily", "monthly") if any(kind in o for o in spending.over)]
        if kinds:
            out["budget"] = f"over {' and '.join(kinds)} budget"
        out["plan_used"], out["plan_size"] = spending.plan_prompts, spending.plan_size
    return out


class StatusBar(Widget):
    """The line itself; its look is the app's (app.tcss)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.info = StatusInfo()

    def set(self, **changes: object) -> None:
        info = replace(self.info, **changes)  # type: ignore[arg-type]
        if info != self.info:
            self.info = info
            self.refresh()  # one fixed line: a repaint, never a layout

    def render(self) -> Text:
        return render_info(self.info, self.content_region.width or None)
