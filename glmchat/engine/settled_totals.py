"""A branch's usage totals without walking the whole branch on every status update.

The status bar asks for them several times a second while an answer streams; a resumed
10,000-message conversation would make that a walk of 10,000 turns each time. The turns
before the last prompt are settled (an exchange only changes its own turns), and a branch's
turns up to a given turn are always the same ones (the path from the root to it), so their
totals are kept, keyed by that last settled turn, and only the last exchange is added up."""

from __future__ import annotations

from collections.abc import Sequence

from glmchat.engine.turns import Turn, UsageTotals, usage_totals


class SettledTotals:
    """`usage_totals(turns)`, with the part before the last prompt computed once."""

    def __init__(self) -> None:
        self._upto: Turn | None = None  # the last turn of the settled part counted
        self._length = 0
        self._totals = UsageTotals()

    def of(self, turns: Sequence[Turn]) -> UsageTotals:
        last_prompt = len(turns) - 1
        while last_prompt > 0 and turns[last_prompt].role != "user":
            last_prompt -= 1
        if last_prompt <= 0:
            return usage_totals(turns)
        anchor = turns[last_prompt - 1]
        if anchor is not self._upto or self._length != last_prompt:
            self._totals = usage_totals(turns[:last_prompt])
            self._upto, self._length = anchor, last_prompt
        return _combined(self._totals, usage_totals(turns[last_prompt:]))


def _combined(head: UsageTotals, tail: UsageTotals) -> UsageTotals:
    """The totals of `head`'s turns followed by `tail`'s, when `tail` starts with a prompt
    (so the last exchange's figures are all `tail`'s)."""
    return UsageTotals(
        prompt_tokens=head.prompt_tokens + tail.prompt_tokens,
        completion_tokens=head.completion_tokens + tail.completion_tokens,
        cached_tokens=head.cached_tokens + tail.cached_tokens,
        context_tokens=tail.context_tokens or head.context_tokens,
        answers=head.answers + tail.answers,
        cost=head.cost + tail.cost,
        unpriced=head.unpriced + tail.unpriced,
        last_cost=tail.last_cost,
        last_estimated=tail.last_estimated,
        estimated=head.estimated or tail.estimated,
        last_counted=tail.last_counted,
    )
