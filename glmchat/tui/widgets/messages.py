"""Chat messages: a plain user turn, and an assistant turn with a foldable thinking panel."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Collapsible, Static

from glmchat.terminal_text import neutralize_controls
from glmchat.token_estimate import estimate_tokens
from glmchat.tui.compat.textual_private import SettledBySizing
from glmchat.tui.literal import literal

# A streaming message grows in steps of this many lines: most new lines then repaint only
# themselves instead of re-laying out the screen and scrolling the log (see StreamingMarkdown).
STREAM_HEIGHT_STEP = 8


class UserMessage(Static):
    """The user's prompt, shown literally: markup in a prompt is text, never style."""

    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $accent;
        background: $boost;
    }
    """

    def __init__(self, text: str, **kwargs: object) -> None:
        super().__init__(Text(neutralize_controls(text)), **kwargs)  # type: ignore[arg-type]
        self.text = text


def thinking_title(seconds: float | None, tokens: int, *, exact: bool, live: bool) -> str:
    """The panel's title. `exact`: the provider's count, else an estimate (marked `~`);
    `seconds` None: no time was recorded (an imported answer), so none is shown."""
    count = f"{'' if exact else '~'}{tokens} token{'' if tokens == 1 else 's'}"
    if live:
        return f"Thinking… {seconds or 0.0:.1f} s · {count}"
    if seconds is None:
        return f"Thinking · {count}"
    return f"Thought for {seconds:.1f} s · {count}"


class ThinkingPanel(Collapsible):
    """Reasoning in a foldable panel: open while it streams, folded when the answer starts."""

    DEFAULT_CSS = """
    ThinkingPanel {
        border: none;
        padding: 0;
        margin: 0;
        background: transparent;
    }
    ThinkingPanel > Contents {
        padding: 0 0 0 2;
        color: $text-muted;
    }
    """

    def __init__(
        self,
        text: str = "",
        *,
        title: str = "Thinking…",
        collapsed: bool = False,
        refresh_rate: float = 30.0,
    ) -> None:
        from glmchat.tui.widgets.markdown_view import StreamingMarkdown

        self.body = StreamingMarkdown(text, refresh_rate=refresh_rate, classes="thinking-body")
        super().__init__(self.body, title=literal(title), collapsed=collapsed)  # type: ignore[arg-type]

    def validate_title(self, title: str | Content) -> Content:
        # Titles are set as plain strings; Collapsible would read them as markup.
        return literal(title) if isinstance(title, str) else title


class AssistantMessage(SettledBySizing, Vertical):
    """One answer. While streaming it takes deltas; finished, it is a few cached widgets."""

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
        message_id: int | None = None,
        palette_key: str = "ctrl+p",
    ) -> None:
        super().__init__()
        self.message_id = message_id
        self.palette_key = palette_key  # as configured: the notes name it
        self.streaming = streaming
        self.refresh_rate = refresh_rate
        # Imported with the first message, not at start-up (Markdown, pygments: 20 ms).
        from glmchat.tui.widgets.markdown_view import StreamingMarkdown

        self.answer = StreamingMarkdown(content, refresh_rate=refresh_rate, code_theme=code_theme)
        if streaming:
            self.answer.height_step = STREAM_HEIGHT_STEP
        self.thinking: ThinkingPanel | None = None
        self._initial_reasoning = reasoning
        # Reasoning not yet counted into the estimate: counted a few times a second (tick), not
        # per token; the provider's figure replaces the estimate when it arrives.
        self._uncounted: list[str] = []
        self._estimated_tokens = estimate_tokens(reasoning)
        self._thinking_started: float | None = None
        self._thinking_seconds = reasoning_seconds
        self._reasoning_tokens = reasoning_tokens
        self._answer_started = bool(content)
        self.first_output_at: float | None = None  # monotonic time of the first delta
        self._status = status
        self._error = error
        self._note = Static("", classes="note")
        self._note.display = False

    def compose(self) -> ComposeResult:
        if self._initial_reasoning:
            self.thinking = ThinkingPanel(
                self._initial_reasoning,
                title=self._title(self._thinking_seconds, live=False),
                collapsed=True,
                refresh_rate=self.refresh_rate,
            )
            yield self.thinking
        yield self.answer
        yield self._note

    def on_mount(self) -> None:
        if not self.streaming:
            self._show_status()

    # --- streaming ---------------------------------------------------------------------

    def add_reasoning(self, text: str) -> None:
        if self.thinking is None:
            self._thinking_started = self.first_output_at = time.monotonic()
            self.thinking = ThinkingPanel(
                title="Thinking…", collapsed=False, refresh_rate=self.refresh_rate
            )
            self.thinking.body.height_step = STREAM_HEIGHT_STEP
            self.mount(self.thinking, before=self.answer)
        elif self._thinking_started is None:
            self._thinking_started = time.monotonic()
        self._uncounted.append(text)
        self.thinking.body.append(text)

    def add_content(self, text: str, *, fold_thinking: bool = True) -> None:
        if not self._answer_started:
            self._answer_started = True
            if self.first_output_at is None:
                self.first_output_at = time.monotonic()
            self._close_thinking(fold=fold_thinking)
        self.answer.append(text)

    def _close_thinking(self, *, fold: bool) -> None:
        if self.thinking is None or self._thinking_started is None:
            return
        if self._thinking_seconds is None:
            self._thinking_seconds = time.monotonic() - self._thinking_started
        self.thinking.body.finish()
        self.thinking.title = self._title(self._thinking_seconds, live=False)
        if fold:
            self.thinking.collapsed = True

    def _title(self, seconds: float | None, *, live: bool) -> str:
        if self._reasoning_tokens:
            return thinking_title(seconds, self._reasoning_tokens, exact=True, live=live)
        if not live and self.thinking is not None and self._uncounted:
            # Once, over the whole text: the same figure as a resumed answer gets.
            self._estimated_tokens = estimate_tokens(self.thinking.body.text)
        elif self._uncounted:
            self._estimated_tokens += estimate_tokens("".join(self._uncounted))
        self._uncounted.clear()
        return thinking_title(seconds, self._estimated_tokens, exact=False, live=live)

    @property
    def thinking_seconds(self) -> float | None:
        return self._thinking_seconds

    def tick(self) -> None:
        """Refresh the live thinking title; called a few times a second while streaming."""
        if self.thinking is not None and not self._answer_started and self._thinking_started:
            seconds = time.monotonic() - self._thinking_started
            self.thinking.title = self._title(seconds, live=True)

    def finish(
        self, *, status: str, error: str | None = None, reasoning_tokens: int | None = None
    ) -> None:
        self.streaming = False
        if reasoning_tokens:
            self._reasoning_tokens = reasoning_tokens
        self._close_thinking(fold=True)
        if self.thinking is not None:
            self.thinking.body.finish()
        self.answer.finish()
        self._status = status
        self._error = error
        self._show_status()

    def _show_status(self) -> None:
        text: Text | None = None
        if self._error:
            text = Text(neutralize_controls(self._error), style="bold")
            self._note.set_classes("error")
        elif self._status == "partial":
            text = Text(
                f"⚠ partial answer: the stream stopped early (retry: {self.palette_key} → Retry)"
            )
            self._note.set_classes("note")
        elif self._status == "cancelled":
            text = Text("■ stopped; the partial answer is kept")
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
        return self.answer.text

    @property
    def reasoning_text(self) -> str:
        return self.thinking.body.text if self.thinking is not None else ""
