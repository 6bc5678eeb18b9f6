"""A chat pane's tools: what its status line counts, web search, and the call awaiting approval."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.timer import Timer
from textual.widget import Widget

from glmchat.engine.events import ApprovalRequest, ToolCallUpdate
from glmchat.terminal_text import neutralize_controls
from glmchat.tools.base import Decision
from glmchat.tui.literal import one_line
from glmchat.tui.widgets.messages import AssistantMessage

if TYPE_CHECKING:
    from glmchat.tui.widgets.chat_pane import ChatPane


# How long a lone y, a or n at a waiting question waits for another key before it answers:
# another key this soon makes it the first letter of a word ("and also...", "now..."), which
# goes to the prompt. Longer than the gap between two keys of a word, short beside reading.
ANSWER_WAIT = 0.35
ANSWERS: dict[str, Decision] = {
    "y": "once",
    "enter": "once",
    "a": "always",
    "n": "deny",
    "escape": "deny",
}


class PaneTools:
    """The pane draws; this keeps its tool state: one call at most waits for the user per pane
    (the engine runs one exchange at a time), and its question takes the keys."""

    def __init__(self, pane: ChatPane) -> None:
        self._pane = pane
        self.approval: ApprovalRequest | None = None  # a tool call waiting for the user
        self._question: Widget | None = None  # its question, which takes the keys
        self._pending = ""  # a lone y, a or n at the question, waiting for ANSWER_WAIT
        self._pending_timer: Timer | None = None
        self._told = False  # the user was told, once per question, how to answer it

    # --- what is on offer ----------------------------------------------------------------

    def count_on(self) -> int:
        """The tools the model is offered in this pane (web search counts as one)."""
        toolbox = self._pane.engine.toolbox
        if toolbox is None:
            return 0
        count = sum(tool.spec.name not in toolbox.disabled for tool in toolbox.tools)
        return count + bool(toolbox.web_search and self.web_search_available)

    @property
    def web_search_available(self) -> bool:
        """Z.ai's server-side search exists on the Z.ai family of providers only."""
        pane = self._pane
        provider = pane.glm.settings.providers.get(pane.engine.provider_name)
        return (
            pane.engine.toolbox is not None
            and provider is not None
            and (provider.thinking_param == "zai")
        )

    def toggle_web_search(self) -> bool:
        toolbox = self._pane.engine.toolbox
        if toolbox is None:
            return False
        toolbox.web_search = not toolbox.web_search
        self._pane.update_status()
        return toolbox.web_search

    # --- one call waiting for the user ---------------------------------------------------

    def call_moved(self, update: ToolCallUpdate) -> None:
        """A call's progress (its panel follows it, PaneStream): a call no longer waiting
        is not asked about any more."""
        approval = self.approval
        if approval is not None and approval.call.key == update.key and update.state != "waiting":
            self.answered(None)  # answered elsewhere, or the exchange stopped

    def ask(self, message: AssistantMessage, request: ApprovalRequest) -> None:
        """A call waits for the user: its panel asks, the pane takes y / a / n, the tab and the
        status line say so."""
        pane = self._pane
        self.approval = request
        self._question = message.ask(request.call, request.read_only).question
        if pane.is_active():
            pane.screen.set_focus(self._question)
        pane.refresh_bindings()
        pane.show_activity("approval")
        if not pane.is_active():
            # The tab says so too, but it may be out of view (or behind a dialog).
            name = one_line(request.call.title or request.call.name, 40)
            title = one_line(pane.title, 40)
            pane.app.notify(
                neutralize_controls(f"“{title}” waits for your answer: run {name}?"),
                title="Tool call",
                severity="warning",
                markup=False,
            )
        pane.tick()

    @property
    def waiting(self) -> bool:
        """A question the keys can still answer."""
        return self.approval is not None and not self.approval.future.done()

    @property
    def focus_target(self) -> Widget:
        """Where the focus goes when the pane is shown: a waiting question, else the prompt."""
        question = self._question
        if self.approval is not None and question is not None and question.is_attached:
            return question
        return self._pane.prompt

    # --- the keys: typing never answers ------------------------------------------------

    def key_at_question(self, character: str) -> None:
        """A key that types text, pressed while the question has the focus. A lone y, a or n
        answers once no other key follows within ANSWER_WAIT; with another key it is typing,
        as is any key within a second of the last one typed in the prompt: the prompt gets it
        (and the focus), and the call goes on waiting."""
        pending = self._take_pending()
        prompt = self._pane.prompt
        if not pending and character in "yan" and not prompt.typing():
            self._pending = character
            self._pending_timer = self._pane.set_timer(ANSWER_WAIT, self._answer_pending)
            return
        self._to_prompt(pending + character)

    def key_answers(self, key: str) -> None:
        """An answer key from a binding: escape, enter at the question, or y, a, n on a
        message selected with the keyboard."""
        pending = self._take_pending()
        if key == "escape":
            if pending:
                self._to_prompt(pending)
            self.answered(ANSWERS[key])
        elif pending or self._pane.prompt.typing():
            self._to_prompt(pending if key == "enter" else pending + key)
        else:
            self.answered(ANSWERS[key])

    def _answer_pending(self) -> None:
        key = self._take_pending()
        if key and self.waiting:
            self.answered(ANSWERS[key])

    def _take_pending(self) -> str:
        pending, self._pending = self._pending, ""
        if self._pending_timer is not None:
            self._pending_timer.stop()
            self._pending_timer = None
        return pending

    def _to_prompt(self, text: str) -> None:
        pane = self._pane
        if text:
            pane.prompt.take_typing(text)
        else:
            pane.screen.set_focus(pane.prompt)
        if not self._told and self.waiting:
            self._told = True
            pane.app.notify(f"Typed into the box. {self.how_to_answer()}", timeout=6)

    def how_to_answer(self) -> str:
        """What to press to answer the waiting call, with the keys as configured."""
        pane = self._pane
        return (
            f"A tool call waits for you: {pane._key('select_prev')}, then y, a or n "
            f"({pane._key('stop')} denies)."
        )

    def answered(self, decision: Decision | None) -> None:
        """The user answered (None: the call no longer waits); the keys go back to the pane."""
        pane = self._pane
        self._take_pending()
        self._told = False
        request, self.approval = self.approval, None
        question, self._question = self._question, None
        if request is None:
            return
        if decision is not None:
            request.answer(decision)
        if question is not None and question.has_focus:
            pane.screen.set_focus(pane.prompt)
        pane.refresh_bindings()
        if pane.streaming is not None:
            pane.show_activity("streaming")
            pane.tick()
