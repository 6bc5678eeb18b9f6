"""A tool call inside an answer: a foldable panel with its name, state, arguments and result."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from glmchat.engine.events import ToolCallUpdate, ToolState
from glmchat.tui.literal import literal
from glmchat.tui.widgets.fold_in_place import FoldsInPlace
from glmchat.tui.widgets.prompt import type_into_prompt

# A result shows this many lines until the user asks for all of it.
RESULT_LINES = 6

# States in which the call is over: the panel folds, like a thinking panel when the answer starts.
ENDED: frozenset[ToolState] = frozenset(
    {"ok", "error", "denied", "timeout", "cancelled", "not_run"}
)
OPEN_STATES: frozenset[ToolState] = frozenset({"streaming", "queued", "waiting", "running"})
_STATE_STYLE: dict[str, str] = {
    "queued": "$text-muted",
    "waiting": "bold $text-warning",
    "running": "$text-accent",
    "ok": "$text-success",
    "error": "bold $text-error",
    "timeout": "bold $text-error",
    "denied": "$text-warning",
    "cancelled": "$text-muted",
    "not_run": "$text-muted",
}


def state_text(update: ToolCallUpdate, running_for: float | None = None) -> str:
    """What the panel's title says of the call's state. `running_for`: seconds so far."""
    seconds = update.seconds
    state = update.state
    if state == "streaming":
        return "writing arguments…"
    if state == "queued":
        return "queued"
    if state == "waiting":
        return "waiting for approval"
    if state == "running":
        return f"running {running_for or 0.0:.1f} s"
    if state == "ok":
        return "done" if seconds is None else f"done in {seconds:.1f} s"
    if state == "error":
        return "error" if seconds is None else f"error after {seconds:.1f} s"
    if state == "timeout":
        return "timed out" if seconds is None else f"timed out after {seconds:.0f} s"
    return {"denied": "denied", "cancelled": "cancelled", "not_run": "not run"}.get(state, state)


def shown_arguments(arguments: str, *, final: bool) -> str:
    """The arguments as the model wrote them; once complete, a JSON object laid out to read."""
    if not final or not arguments.strip():
        return arguments
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    if not isinstance(value, dict) or not value:
        return arguments
    return json.dumps(value, indent=2, ensure_ascii=False)


class FoldedText(Static, can_focus=True):
    """A result: its first lines, and all of it on enter or a click."""

    DEFAULT_CSS = """
    FoldedText {
        height: auto;
    }
    FoldedText:focus {
        background: $block-cursor-blurred-background;
    }
    """
    # Not "toggle": DOMNode.action_toggle(attribute_name) is Textual's own action.
    BINDINGS = [Binding("enter", "toggle_fold", "Show all", show=False)]

    def __init__(self, text: str = "", *, style: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.full_text = text
        self.result_style = style
        self.expanded = False

    def on_mount(self) -> None:
        self._show()

    def set_text(self, text: str, *, style: str = "") -> None:
        self.full_text, self.result_style = text, style
        self._show()

    @property
    def hidden_lines(self) -> int:
        """Lines not shown while folded."""
        return 0 if self.expanded else max(0, len(self.full_text.splitlines()) - RESULT_LINES)

    def _show(self) -> None:
        lines = self.full_text.splitlines()
        hidden = self.hidden_lines
        shown = self.full_text if not hidden else "\n".join(lines[:RESULT_LINES])
        content = literal(shown, self.result_style)
        if hidden:
            more = f"\n… {hidden} more line{'s' if hidden != 1 else ''} (enter or click: show all)"
            content = content + literal(more, "italic $text-muted")
        self.update(content)

    def action_toggle_fold(self) -> None:
        self.expanded = not self.expanded
        self._show()

    def on_click(self) -> None:
        self.action_toggle_fold()


class ApprovalQuestion(Static, can_focus=True):
    """The question of a call waiting for approval. It takes the focus while it asks; every key
    that types text is handed to the pane as it comes, in order (PaneTools.key_at_question
    decides whether it answers or is the user's text); enter and escape reach the pane's
    bindings."""

    @dataclass
    class Typed(Message):
        character: str

    def on_key(self, event: events.Key) -> None:
        if not event.is_printable or not event.character:
            return
        event.stop()
        event.prevent_default()
        self.post_message(self.Typed(event.character))

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        type_into_prompt(self, event.text)


class ToolPanel(FoldsInPlace):
    """One call: open while its arguments stream, it waits or it runs; folded when it ends."""

    DEFAULT_CSS = """
    ToolPanel {
        border: none;
        padding: 0;
        margin: 0;
        background: transparent;
    }
    ToolPanel > Contents {
        padding: 0 0 0 2;
        height: auto;
    }
    ToolPanel .tool-arguments {
        color: $text-muted;
    }
    ToolPanel .tool-question {
        color: $text-warning;
        text-style: bold;
    }
    ToolPanel .tool-question:focus {
        background: $block-cursor-blurred-background;
    }
    """

    def __init__(self, update: ToolCallUpdate) -> None:
        self.update_seen = update
        self.arguments = Static("", classes="tool-arguments")
        self.question = ApprovalQuestion("", classes="tool-question")
        self.question.display = False
        self.result = FoldedText(classes="tool-result")
        self.result.display = False
        self._running_since: float | None = None
        super().__init__(
            self.arguments,
            self.question,
            self.result,
            title=self._heading(update),  # type: ignore[arg-type]
            collapsed=update.state in ENDED,
        )
        self._fill(update)

    @property
    def state(self) -> ToolState:
        return self.update_seen.state

    def validate_title(self, title: str | Content) -> Content:
        return literal(title) if isinstance(title, str) else title

    def _heading(self, update: ToolCallUpdate, running_for: float | None = None) -> Content:
        state = state_text(update, running_for)
        return literal(update.title or update.name or "tool", "bold") + literal(
            f" · {state}", _STATE_STYLE.get(update.state, "")
        )

    def apply(self, update: ToolCallUpdate) -> None:
        """The call moved on: new arguments, a new state, a result."""
        before = self.update_seen.state
        if update.state == "running" and before != "running":
            self._running_since = time.monotonic()
        self.update_seen = update
        self._fill(update)
        self.title = self._heading(update, self._elapsed())  # type: ignore[assignment]
        if update.state == "waiting":
            self.collapsed = False  # the question must show
        elif update.state in ENDED and before not in ENDED:
            self.fold_in_place(True)

    def ask(self, read_only: bool) -> None:
        """Show the approval question (the pane takes the keys)."""
        what = "reads only" if read_only else "may change things"
        name = self.update_seen.title or self.update_seen.name
        self.question.update(
            literal(
                f"Run {name}? ({what})  y or enter: once · a: always, in this conversation · "
                "n or escape: no"
            )
        )
        self.question.display = True
        self.collapsed = False

    def tick(self) -> None:
        """Refresh the elapsed time of a running call (a few times a second)."""
        if self.update_seen.state == "running":
            self.title = self._heading(self.update_seen, self._elapsed())  # type: ignore[assignment]

    def _elapsed(self) -> float | None:
        if self._running_since is None:
            return None
        return time.monotonic() - self._running_since

    def _fill(self, update: ToolCallUpdate) -> None:
        final = update.state != "streaming"
        arguments = shown_arguments(update.arguments, final=final)
        self.arguments.update(literal(arguments or ("(no arguments)" if final else "")))
        if update.state != "waiting":
            self.question.display = False
        if update.result is not None:
            failed = update.state in ("error", "timeout")
            self.result.set_text(update.result, style="$text-error" if failed else "")
            self.result.display = True
