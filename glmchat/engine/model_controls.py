"""The part of a conversation's engine that depends on its model: the thinking switch and
effort, max_tokens within the model's output, and the context window as a budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from glmchat.backend.events import ChatRequest
from glmchat.catalogue import ModelInfo, lookup
from glmchat.engine import thinking_levels
from glmchat.engine.budget import (
    Budget,
    DoesNotFit,
    answer_room,
    estimate_request,
    fit_from_end,
)
from glmchat.engine.turns import Turn, UsageTotals

if TYPE_CHECKING:
    from glmchat.config import Settings
    from glmchat.engine.conversation import RequestOptions


class ModelControls:
    """Mixed into ConversationEngine, whose state it reads and sets."""

    settings: Settings
    options: RequestOptions
    provider_name: str
    model: str
    thinking: bool
    effort: str | None
    omit_before: int
    estimate: int | None
    turns: list[Turn]
    conversation_id: str | None
    _info: ModelInfo | None
    _notices: list[str]

    if TYPE_CHECKING:  # provided by ConversationEngine

        @property
        def busy(self) -> bool: ...
        def save(self, method: str, *args: object, **kwargs: object) -> object: ...
        def usage_totals(self) -> UsageTotals: ...
        def request_for(self, earlier: Sequence[Turn], prompt: str) -> ChatRequest: ...

    @property
    def model_info(self) -> ModelInfo:
        """What the catalogue (and config.toml) say of the current model."""
        info = self._info
        if info is None or (info.provider, info.model) != (self.provider_name, self.model):
            info = self._info = lookup(self.settings, self.provider_name, self.model)
        return info

    def set_thinking(self, on: bool) -> str | None:
        """Thinking on or off; on a model that always thinks, its highest or lowest effort
        instead, and a note that says so."""
        on, self.effort, note = thinking_levels.switched(self.model_info, on)
        self._save_thinking(on)
        return note

    def toggle_thinking(self) -> str:
        """ctrl+t: on/off, or the next effort level on a model that always thinks; returns
        the new setting's name ("ON", "OFF", "high")."""
        on, self.effort = thinking_levels.next_level(self.model_info, self.thinking, self.effort)
        self._save_thinking(on)
        return self.thinking_label

    @property
    def thinking_label(self) -> str:
        return thinking_levels.label(self.thinking, self.effort, self.model_info)

    def _save_thinking(self, on: bool) -> None:
        self.thinking = on
        if self.conversation_id:
            self.save("update_conversation", self.conversation_id, thinking=on)

    def take_notices(self) -> list[str]:
        """Notes for the user about the request just started (max_tokens capped)."""
        notices, self._notices = self._notices, []
        return notices

    # --- the context window ----------------------------------------------------------------

    def check_fit(self, prompt: str, history: Sequence[Turn] | None = None) -> Budget:
        """The request `prompt` would make, estimated against the model's window; raises
        DoesNotFit (saying from which turn it would fit) when it is over. The history is
        walked back from its newest exchange: a request that fits costs what it sends, not
        what the whole conversation holds (sizes counted once are kept, see fit_from_end)."""
        info = self.model_info
        window = info.context
        turns = self.turns if history is None else history  # the history before `prompt`
        alone = self.request_for((), prompt)
        fixed = estimate_request(alone)  # prompt, system prompt, tools
        if window is None:
            return Budget(fit_from_end(turns, self.omit_before, fixed, None).tokens, None)
        room = answer_room(window, self.options.max_tokens, info.max_output)
        fit = fit_from_end(turns, self.omit_before, fixed, window - room)
        budget = Budget(fit.tokens, window, room)
        if budget.fits:
            return budget
        # No history left out or carried into a fork makes room when the prompt alone is over
        # (found by QA: the dialog offered a fork that was over again, in a loop): say so.
        what, size = "the conversation", budget.tokens
        if fit.start is None:
            size = fixed
            what = "the prompt alone"
            if alone.system or alone.tools:
                what = "the prompt with the system prompt and the tools"
        over = (
            "more than"
            if size > window
            else f"which leaves less than the {room:,} kept for the answer in"
        )
        raise DoesNotFit(
            f"Not sent: {what} is about {size:,} tokens (an estimate), "
            f"{over} {self.model}'s context window of {window:,}.",
            budget,
            fit.start,
        )

    def leave_out_before(self, index: int) -> None:
        """Send no turn before `index` from now on (they stay in the conversation)."""
        self.omit_before = max(0, min(index, len(self.turns)))
        self._left_out = {id(turn) for turn in self.turns[: self.omit_before]}

    def left_out(self, turn: Turn) -> bool:
        """Whether a turn is left out of what is sent (O(1): asked for every message drawn)."""
        return id(turn) in getattr(self, "_left_out", ())

    def context_used(self) -> tuple[int, bool]:
        """Tokens the conversation fills, and whether that is an estimate: the estimate of the
        request in flight until the provider's count arrives, then the provider's."""
        totals = self.usage_totals()
        if self.busy or not totals.answers:
            return self.estimate or totals.context_tokens, bool(self.estimate)
        return totals.context_tokens, False
