"""What each finish_reason means: one table that the stream parser, `ask` and the TUI all read.

Sources: Z.ai and BigModel document `stop`, `length`, `tool_calls`, `sensitive`, `network_error`
and `model_context_window_exceeded`; OpenRouter normalises to `stop`, `length`, `tool_calls`,
`content_filter` and `error`; OpenAI-compatible servers add the legacy `function_call`."""

from __future__ import annotations

from dataclasses import dataclass

from glmchat.backend import errors as E
from glmchat.terminal_text import neutralize_controls

# Said only where no tool loop ran the calls: the tools are off (or none is configured).
TOOL_NOTE = (
    "The model asked to call a tool, but tools are off here (`ask --tools`, or Tools… in the "
    "chat's palette); the call is listed but was not run."
)


@dataclass(frozen=True, slots=True)
class FinishRule:
    """How an answer that ended with `reason` is reported.

    `failure` is None for an answer that ended normally (stored `complete`), else the error it
    is reported as (the partial answer is kept and stored `partial`, or `error` when nothing
    arrived). `note` is one line for the person: a remark on a normal end, or the error message
    (`{name}`: the provider's name; `{kept}`: a word on the partial answer)."""

    reason: str
    failure: type[E.ProviderError] | None
    note: str

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def kind(self) -> str | None:
        """The `ask --json` error kind, None for a normal end."""
        return None if self.failure is None else self.failure.kind

    @property
    def status(self) -> str:
        return "complete" if self.failure is None else "partial"

    def error(self, provider_name: str, display_name: str, *, text: bool) -> E.ProviderError:
        """The failure this ending is (only for rules with one)."""
        assert self.failure is not None
        kept = " The partial answer is kept." if text else ""
        error = self.failure(self.note.format(name=display_name, kept=kept), provider=provider_name)
        error.finish_reason = self.reason
        return error


_FILTERED = (
    '{name} stopped the answer: its content filter flagged it (finish_reason "%s").{kept} '
    "Rephrase the prompt."
)
_FAILED = '{name} failed while writing the answer (finish_reason "%s").{kept} Retry.'

FINISH_RULES: dict[str, FinishRule] = {
    rule.reason: rule
    for rule in (
        FinishRule("stop", None, ""),
        FinishRule("length", None, "The answer stopped at the max_tokens limit."),
        FinishRule("tool_calls", None, TOOL_NOTE),
        FinishRule("function_call", None, TOOL_NOTE),
        FinishRule(
            "model_context_window_exceeded",
            None,
            "The answer stopped where the model's context window filled up; "
            "start a new conversation or shorten this one.",
        ),
        # A filtered answer is not what was asked for: a script must not take it as success.
        FinishRule("sensitive", E.BadRequestError, _FILTERED % "sensitive"),
        FinishRule("content_filter", E.BadRequestError, _FILTERED % "content_filter"),
        # Z.ai: "model inference failed"; OpenRouter: the upstream provider failed mid-answer.
        FinishRule("network_error", E.ServerError, _FAILED % "network_error"),
        FinishRule("error", E.ServerError, _FAILED % "error"),
    )
}


def finish_rule(reason: str | None) -> FinishRule:
    """The rule for `reason`; a stream that ended without one ended normally. An unknown reason
    keeps the answer and says so: local servers invent their own (`eos_token`, `abort`, ...)."""
    if reason is None:
        return FINISH_RULES["stop"]
    rule = FINISH_RULES.get(reason)
    if rule is None:
        # Control characters the server put in it are spelt out as everywhere else (`\x1b`).
        shown = neutralize_controls(reason[:60])
        rule = FinishRule(
            reason,
            None,
            f'The provider ended the answer with finish_reason "{shown}", which glmchat does '
            "not know; the answer may be incomplete.",
        )
    return rule


def finish_note(reason: str | None, *, tool_calls: bool = False) -> str | None:
    """The line to show the person after an answer that ended normally, if any."""
    rule = finish_rule(reason)
    if not rule.ok:
        return None  # an error: its message is the line to show
    note = rule.note
    if tool_calls and note != TOOL_NOTE:
        # Some servers say "stop" next to a tool call; the call still was not run.
        note = f"{note} {TOOL_NOTE}" if note else TOOL_NOTE
    return note or None
