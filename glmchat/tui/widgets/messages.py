"""An answer in the log: its rounds (thinking, text, tool call panels), sources and a note.

The user's prompt (user_message.py) and the thinking panel (thinking_panel.py) have their own
modules; they are imported from here too, where the log's messages have always come from."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from glmchat.engine.events import ToolCallUpdate, ToolState
from glmchat.terminal_text import neutralize_controls
from glmchat.token_estimate import estimate_tokens
from glmchat.tui.answer_rounds import AnswerRound, cited
from glmchat.tui.compat.textual_private import (
    GrowsInPlace,
    SettledBySizing,
    relabelled_in_place,
)
from glmchat.tui.widgets.message_select import SelectableMessage, sibling_label
from glmchat.tui.widgets.sources import Sources
from glmchat.tui.widgets.thinking_panel import ThinkingPanel, thinking_title
from glmchat.tui.widgets.tool_panel import OPEN_STATES, ToolPanel
from glmchat.tui.widgets.user_message import UserMessage
from glmchat.web_sources import cite, kept_results, numbered_rounds

if TYPE_CHECKING:
    from glmchat.tui.widgets.markdown_view import StreamingMarkdown

__all__ = [
    "STREAM_HEIGHT_STEP",
    "AssistantMessage",
    "ThinkingPanel",
    "UserMessage",
    "thinking_title",
]

# A streaming message grows in steps of this many lines: most new lines then repaint only
# themselves instead of re-laying out the screen and scrolling the log (see StreamingMarkdown).
STREAM_HEIGHT_STEP = 8


@dataclass(eq=False)
class _Round:
    """One model call of an answer as shown: its thinking panel, its text, its tool calls."""

    thinking: ThinkingPanel | None = None
    answer: StreamingMarkdown | None = None
    tools: list[ToolPanel] = field(default_factory=list)
    thinking_started: float | None = None
    thinking_seconds: float | None = None
    exact_tokens: int | None = None  # the provider's count of reasoning tokens
    estimated_tokens: int = 0
    # Reasoning not yet counted into the estimate: counted a few times a second (tick), not
    # per token; the provider's figure replaces the estimate when it arrives.
    uncounted: list[str] = field(default_factory=list)
    answer_started: bool = False
    web_search: list[Mapping[str, Any]] = field(default_factory=list)  # what it cites


class AssistantMessage(GrowsInPlace, SettledBySizing, Vertical, SelectableMessage, can_focus=True):
    """One answer: in a tool loop, several rounds (each model call's thinking, text and tool
    calls, in order), then the web search sources and a note. While streaming it takes deltas;
    finished, it is a few cached widgets."""

    BLANK = True  # its own rows are background only: drawn as such (see MessageLog.BLANK)

    DEFAULT_CSS = """
    AssistantMessage {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
    }
    AssistantMessage .note {
        color: $text-muted;
    }
    AssistantMessage .error {
        color: $error;
    }
    AssistantMessage:focus {
        background: $accent 25%;  /* selected (tui/widgets/message_select.py) */
    }
    AssistantMessage > .siblings {
        color: $text-muted;
    }
    """

    def __init__(
        self,
        *,
        content: str = "",
        reasoning: str = "",
        streaming: bool = False,
        refresh_rate: float = 30.0,
        code_theme: str = "monokai",
        reasoning_seconds: float | None = None,
        reasoning_tokens: int | None = None,
        status: str = "complete",
        error: str | None = None,
        unfinished: bool = False,
        message_id: int | None = None,
        palette_key: str = "ctrl+p",
        rounds: Sequence[AnswerRound] = (),
        siblings: tuple[int, int] = (1, 1),
    ) -> None:
        """`content`, `reasoning` and their figures make a one-round answer; `rounds` a saved
        tool loop (and then they are not used). `siblings`: this answer's place among the
        answers to its prompt, and their count (shown as `‹ 2/3 ›` when there are others)."""
        super().__init__()
        self.versions = siblings
        self.message_id = message_id
        self.palette_key = palette_key  # as configured: the notes name it
        self.streaming = streaming
        self.refresh_rate = refresh_rate
        self.code_theme = code_theme
        if not rounds:
            rounds = [AnswerRound(content, reasoning, reasoning_seconds, reasoning_tokens)]
        # A saved answer's sources, shown as they were when it was streamed.
        rounds, sources = cited(rounds)
        self._saved = rounds
        self._rounds: list[_Round] = []
        self._panels: dict[tuple[int, int], ToolPanel] = {}
        for index, saved in enumerate(self._saved):
            self._rounds.append(self._round_from(saved, first=index == 0))
        self._round = self._rounds[-1]  # the one deltas go to
        # Round one's text view exists from the start: a stream begins there.
        self.answer: StreamingMarkdown = self._rounds[0].answer  # type: ignore[assignment]
        if streaming:
            self.answer.height_step = STREAM_HEIGHT_STEP
        self.first_output_at: float | None = None  # monotonic time of the first delta
        self._status = status
        self._error = error
        self._unfinished = unfinished  # see Turn.unfinished
        self._sources: Sources | None = Sources(sources) if sources else None
        self._note = Static("", classes="note")
        self._note.display = False
        self._as_of: float | None = None  # see `as_of`

    def _round_from(self, saved: AnswerRound, *, first: bool) -> _Round:
        from glmchat.tui.widgets.markdown_view import StreamingMarkdown

        one = _Round(thinking_seconds=saved.reasoning_seconds, exact_tokens=saved.reasoning_tokens)
        if saved.content or first:
            one.answer = StreamingMarkdown(
                saved.content, refresh_rate=self.refresh_rate, code_theme=self.code_theme
            )
        one.answer_started = bool(saved.content)
        one.estimated_tokens = estimate_tokens(saved.reasoning)
        if saved.reasoning:
            one.thinking = ThinkingPanel(
                saved.reasoning,
                title=self._title(one, saved.reasoning_seconds, live=False),
                collapsed=True,
                refresh_rate=self.refresh_rate,
            )
        for call in saved.calls:
            panel = ToolPanel(call)
            one.tools.append(panel)
            self._panels[call.key] = panel
        return one

    def compose(self) -> ComposeResult:
        if label := sibling_label(*self.versions):
            yield Static(label, classes="siblings", markup=False)
        for one in self._rounds:
            if one.thinking is not None:
                yield one.thinking
            if one.answer is not None:
                yield one.answer
            yield from one.tools
        if self._sources is not None:
            yield self._sources
        yield self._note

    def on_mount(self) -> None:
        if not self.streaming:
            self._show_status()

    # --- streaming ---------------------------------------------------------------------

    @contextmanager
    def as_of(self, moment: float) -> Iterator[None]:
        """What is done inside arrived at `moment` (time.monotonic): a hidden pane's answer is
        drawn when the pane is shown, each event timed as it arrived (PaneStream)."""
        self._as_of = moment
        try:
            yield
        finally:
            self._as_of = None

    def _now(self) -> float:
        return time.monotonic() if self._as_of is None else self._as_of

    def add_reasoning(self, text: str) -> None:
        one = self._round
        if one.thinking is None:
            one.thinking_started = self._now()
            if self.first_output_at is None:
                self.first_output_at = one.thinking_started
            one.thinking = ThinkingPanel(
                title="Thinking…", collapsed=False, refresh_rate=self.refresh_rate
            )
            one.thinking.body.height_step = STREAM_HEIGHT_STEP
            self.mount(one.thinking, before=self._after_thinking(one))
        elif one.thinking_started is None:
            one.thinking_started = self._now()
        one.uncounted.append(text)
        one.thinking.body.append(text)

    def add_content(self, text: str, *, fold_thinking: bool = True) -> None:
        one = self._round
        if not one.answer_started:
            self._start_answer(one, fold_thinking)
        one.answer.append(text)  # type: ignore[union-attr]

    def _start_answer(self, one: _Round, fold_thinking: bool) -> None:
        one.answer_started = True
        if self.first_output_at is None:
            self.first_output_at = self._now()
        self._close_thinking(one, fold=fold_thinking)
        if one.answer is None:
            from glmchat.tui.widgets.markdown_view import StreamingMarkdown

            one.answer = StreamingMarkdown(
                refresh_rate=self.refresh_rate, code_theme=self.code_theme
            )
            one.answer.height_step = STREAM_HEIGHT_STEP
            self.mount(one.answer, before=one.tools[0] if one.tools else self._tail)

    def start_round(self) -> None:
        """The model is called again with the tool results: what it sends goes below."""
        self._close_round(self._round, fold=True)
        self._round = _Round()
        self._rounds.append(self._round)

    def tool_update(self, update: ToolCallUpdate, *, fold_thinking: bool = True) -> ToolPanel:
        """A call's progress: its panel appears with its first update and follows it."""
        panel = self._panels.get(update.key)
        if panel is not None:
            panel.apply(update)
            return panel
        one = self._round
        if self.first_output_at is None:
            self.first_output_at = self._now()
        self._close_thinking(one, fold=fold_thinking)
        if one.answer is not None and one.answer.height_step > 1:
            # The round's text stops growing here (a panel follows it): no blank rows kept
            # for lines to come between the text and the call.
            one.answer.height_step = 1
            one.answer.refresh(layout=True)
        panel = ToolPanel(update)
        self._panels[update.key] = panel
        one.tools.append(panel)
        self.mount(panel, before=self._tail)
        return panel

    def ask(self, update: ToolCallUpdate, read_only: bool) -> ToolPanel:
        """The engine waits for the user's answer about this call: its panel asks."""
        panel = self.tool_update(update)
        panel.ask(read_only)
        return panel

    def panel(self, key: tuple[int, int]) -> ToolPanel | None:
        return self._panels.get(key)

    @property
    def tool_panels(self) -> list[ToolPanel]:
        return list(self._panels.values())

    def round_sources(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Web search results for the model call being streamed (all of them so far: a repeat
        replaces them), kept as they are saved: its citations name them."""
        self._round.web_search = list(kept_results(results) or ())

    def round_usage(self, reasoning_tokens: int | None) -> None:
        """The provider's usage for the model call being streamed."""
        if reasoning_tokens:
            self._round.exact_tokens = reasoning_tokens

    @property
    def _tail(self) -> Widget:
        """What new widgets go before: the sources, if shown, or the note."""
        return self._sources if self._sources is not None else self._note

    def _after_thinking(self, one: _Round) -> Widget:
        if one.answer is not None:
            return one.answer
        return one.tools[0] if one.tools else self._tail

    def _close_thinking(self, one: _Round, *, fold: bool) -> None:
        if one.thinking is None or one.thinking_started is None:
            return
        if one.thinking_seconds is None:
            one.thinking_seconds = self._now() - one.thinking_started
        one.thinking.body.finish()
        one.thinking.title = self._title(one, one.thinking_seconds, live=False)
        if fold:
            one.thinking.fold_in_place(True)

    def _close_round(self, one: _Round, *, fold: bool) -> None:
        self._close_thinking(one, fold=fold)
        if one.thinking is not None:
            one.thinking.body.finish()
        if one.answer is not None:
            one.answer.finish()

    def _title(self, one: _Round, seconds: float | None, *, live: bool) -> str:
        if one.exact_tokens:
            return thinking_title(seconds, one.exact_tokens, exact=True, live=live)
        if not live and one.thinking is not None and one.uncounted:
            # Once, over the whole text: the same figure as a resumed answer gets.
            one.estimated_tokens = estimate_tokens(one.thinking.body.text)
        elif one.uncounted:
            one.estimated_tokens += estimate_tokens("".join(one.uncounted))
        one.uncounted.clear()
        return thinking_title(seconds, one.estimated_tokens, exact=False, live=live)

    @property
    def thinking(self) -> ThinkingPanel | None:
        """The thinking panel of the round being streamed (the last one)."""
        return self._round.thinking

    @property
    def thinking_seconds(self) -> float | None:
        return self._rounds[0].thinking_seconds

    def live_view(self) -> StreamingMarkdown | None:
        """The text view that deltas go to now (the answer, or the thinking before it)."""
        one = self._round
        if one.answer_started:
            return one.answer
        return one.thinking.body if one.thinking is not None else None

    def tick(self) -> None:
        """Refresh the live titles (thinking, running tools); called a few times a second."""
        one = self._round
        # Live until the round's first text or tool call (`_close_thinking`): a call that
        # then waits for the user, or runs, is not the model thinking.
        thinking = one.thinking_seconds is None and not one.answer_started
        if one.thinking is not None and thinking and one.thinking_started:
            seconds = time.monotonic() - one.thinking_started
            one.thinking.title = self._title(one, seconds, live=True)
            relabelled_in_place(one.thinking)  # a layout of what is in view, not of the log
        for panel in one.tools:
            panel.tick()

    def finish(
        self,
        *,
        status: str,
        error: str | None = None,
        reasoning_tokens: int | None = None,
    ) -> None:
        """The answer ended. `reasoning_tokens` is the exchange's count (it titles the thinking
        of a one-round answer); each round's web search results (`round_sources`) become
        numbered sources."""
        self.streaming = False
        for panel in self._panels.values():
            if panel.state in OPEN_STATES:  # the exchange ended around it: it never ran
                ended: ToolState = "cancelled" if status == "cancelled" else "not_run"
                panel.apply(replace(panel.update_seen, state=ended))
        one = self._round
        if reasoning_tokens and len(self._rounds) == 1 and not one.exact_tokens:
            one.exact_tokens = reasoning_tokens
        self._close_round(one, fold=True)
        self._show_sources()
        self._status = status
        self._error = error
        self._unfinished = False
        self._show_status()

    def _show_sources(self) -> None:
        """Number the answer's `[ref_N]` citations, each round's against its own results (a
        later round's numbered on), and list the sources under it, as a resumed answer is."""
        sources, firsts = numbered_rounds([each.web_search for each in self._rounds])
        if not sources or self._sources is not None:
            return
        for each, first in zip(self._rounds, firsts, strict=True):
            if each.answer is not None and "ref_" in each.answer.text:
                each.answer.set_text(cite(each.answer.text, each.web_search, first))
        self._sources = Sources(sources)
        self.mount(self._sources, before=self._note)

    def _show_status(self) -> None:
        text: Text | None = None
        if self._error:
            text = Text(neutralize_controls(self._error), style="bold")
            self._note.set_classes("error")
        elif self._status == "partial":
            # Found by QA: "reopen to see more" did nothing while the tab was open (ctrl+r
            # switches to it), and Retry would answer again beside the other glmchat.
            why = (
                "unfinished answer: another glmchat may still be writing it (close this tab "
                "and open it again to see more), or glmchat stopped before its end (then retry"
                if self._unfinished
                else "partial answer: the stream stopped early (retry"
            )
            text = Text(f"⚠ {why}: {self.palette_key} → Retry)")
            self._note.set_classes("note")
        elif self._status == "cancelled":
            # Stopped before any text, there is no partial answer to keep (found by QA).
            kept = "; the partial answer is kept" if self.text.strip() else " before any answer"
            text = Text(f"■ stopped{kept}")
            self._note.set_classes("note")
        if text is not None:
            if self._error and self._status in ("partial", "error"):
                text.append(f"  · retry: {self.palette_key} → Retry last answer", style="dim")
            self._note.update(text)
            self._note.display = True
        else:
            self._note.display = False

    @property
    def text(self) -> str:
        """The answer's text: every round's, in order."""
        texts = [r.answer.text for r in self._rounds if r.answer is not None and r.answer.text]
        return "\n\n".join(texts)

    @property
    def reasoning_text(self) -> str:
        texts = [r.thinking.body.text for r in self._rounds if r.thinking is not None]
        return "\n\n".join(texts)
