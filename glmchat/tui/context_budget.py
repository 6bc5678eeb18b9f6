"""The pane's side of the context budget and the model's thinking: the status fields, the
choice offered when a prompt would not fit the window, and left-out turns drawn as such."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from textual.widget import Widget

from glmchat.engine import Turn
from glmchat.engine.budget import DoesNotFit, carry_over
from glmchat.tui.screens.context_full import ContextFull

if TYPE_CHECKING:
    from glmchat.engine import ConversationEngine
    from glmchat.tui.widgets.chat_pane import ChatPane

W = TypeVar("W", bound=Widget)
LEFT_OUT = "-left-out"  # the class of a message that is no longer sent (app.tcss dims it)


def model_fields(engine: ConversationEngine) -> dict[str, Any]:
    """The StatusInfo fields that depend on the model: the window, the thinking effort."""
    info = engine.model_info
    used, estimated = engine.context_used()
    return {
        "context": used,
        "context_estimated": estimated,
        "context_window": info.context,
        "effort": engine.thinking_label if info.always_thinks else "",
        "left_out": engine.omit_before,
    }


def marked(widget: W, engine: ConversationEngine, first: Turn) -> W:
    """A message widget, dimmed when its turn is left out of what is sent."""
    if engine.left_out(first):
        widget.add_class(LEFT_OUT)
    return widget


def does_not_fit(pane: ChatPane, exc: DoesNotFit, text: str) -> None:
    """The prompt went back to the box; offer to leave out the oldest turns (then send) or to
    fork into a new conversation that starts from the last few turns' text. When the prompt
    alone is over the window (`omit_before` None) neither would help: the dialog says so, and
    the prompt stays in the box to be shortened."""

    def chosen(choice: str | None) -> None:
        if choice == "leave" and exc.omit_before is not None:
            pane.engine.leave_out_before(exc.omit_before)
            mark_left_out(pane)
            pane.prompt.text = ""
            pane.send(text)
        elif choice == "fork" and exc.omit_before is not None:
            pane.prompt.text = ""
            pane.run_worker(_fork(pane, text), exit_on_error=False)

    can_fork = exc.omit_before is not None
    dialog = ContextFull(str(exc), can_leave_out=can_fork, can_fork=can_fork)
    pane.app.push_screen(dialog, chosen)


def cannot_regenerate(pane: ChatPane, exc: DoesNotFit) -> None:
    """A regenerate or retry over the window: why, and what to do instead (no prompt of the
    user's is at stake, so no dialog: a new prompt offers to leave out turns or fork)."""
    instead = (
        "Send a new prompt to leave out the oldest turns or fork"
        if exc.omit_before is not None
        else "Edit the prompt shorter"  # nothing left out or forked makes room for it
    )
    pane.app.notify(
        f"{exc} {instead}, or regenerate with a model whose window is larger (palette).",
        severity="warning",
        timeout=10,
    )


def mark_left_out(pane: ChatPane) -> None:
    """Dim the mounted messages whose turns are now left out (each message knows its first
    turn: the log mounts a window of them, not always the last ones)."""
    from glmchat.tui.widgets.messages import AssistantMessage, UserMessage

    engine = pane.engine
    for widget in pane.log_view.children:
        if isinstance(widget, UserMessage | AssistantMessage) and widget.turn is not None:
            widget.set_class(engine.left_out(widget.turn), LEFT_OUT)
    pane.app.notify(
        f"The oldest {engine.omit_before} turns are left out of what is sent (still here, dimmed).",
        timeout=6,
    )


async def _fork(pane: ChatPane, text: str) -> None:
    old = pane.engine
    new = await pane.glm.open_pane(after=pane)
    new.set_model(old.provider_name, old.model)
    new.prompt.text = _carried(new.engine, old.title, _recent(old.turns), text)
    new.prompt.move_cursor(new.prompt.document.end)


def _carried(engine: ConversationEngine, title: str, turns: Sequence[Turn], text: str) -> str:
    """The fork's first prompt, with as many of the last turns as fit the window with it (a
    fork that is over again would only offer to fork again); the prompt alone fits, or no
    fork would have been offered."""
    for first in range(len(turns)):
        carried = carry_over(title, turns[first:], text)
        try:
            engine.check_fit(carried)
        except DoesNotFit:
            continue
        return carried
    return text


def _recent(turns: Sequence[Turn]) -> Sequence[Turn]:
    return [t for t in turns if t.role in ("user", "assistant") and t.content.strip()][-4:]
