"""The budget mark in the status bars: the budget is the whole app's (today's and this month's
answers, every conversation), so what an answer leaves is shown in every pane, in a pane opened
later, and from the start when glmchat starts over a limit."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from glmchat.engine.spending import Spending

if TYPE_CHECKING:
    from glmchat.tui.app import GlmChatApp
    from glmchat.tui.widgets.chat_pane import ChatPane


def share(app: GlmChatApp, spending: Spending, *, but: ChatPane | None = None) -> None:
    """Give every pane (but `but`, whose own answer left `spending`) the budget's state. A
    pane's coding-plan count stays its own (its provider's). A streaming pane shows it at its
    next tick; the others at once."""
    app.budget = spending
    for pane in app.panes:  # a query of the screen: only when the budget's state changes
        mine = pane.spending or Spending()
        if pane is but or mine.over == spending.over:
            continue
        pane.spending = budget_of(spending, mine)
        if pane.streaming is None:
            pane.update_status()


def budget_of(spending: Spending, mine: Spending | None = None) -> Spending:
    """`mine` (a pane's) with the budget's part of `spending`."""
    return replace(mine or Spending(), day=spending.day, month=spending.month, over=spending.over)


def at_start(app: GlmChatApp) -> None:
    """After the first paint: a limit already reached is marked from the start (two sums over
    the saved answers, asked only when a limit is set)."""
    from glmchat.engine.spending import after_answer

    budget = app.settings.budget
    if budget.daily_usd is None and budget.monthly_usd is None:
        return
    spending = after_answer(app.store, app.settings, "", None)
    if spending.over:
        share(app, spending)
