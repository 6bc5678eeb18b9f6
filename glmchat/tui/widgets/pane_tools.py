"""A chat pane's tools: what its status line counts, web search, and the call awaiting approval."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widget import Widget

from glmchat.engine.events import ApprovalRequest, ToolCallUpdate
from glmchat.tools.base import Decision
from glmchat.tui.widgets.messages import AssistantMessage

if TYPE_CHECKING:
    from glmchat.tui.widgets.chat_pane import ChatPane


class PaneTools:
    """The pane draws; this keeps its tool state: one call at most waits for the user per pane
    (the engine runs one exchange at a time), and its question takes the keys."""

    def __init__(self, pane: ChatPane) -> None:
        self._pane = pane
        self.approval: ApprovalRequest | None = None  # a tool call waiting for the user
        self._question: Widget | None = None  # its question, which takes the keys

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

    def update(self, message: AssistantMessage, update: ToolCallUpdate, fold: bool) -> None:
        message.tool_update(update, fold_thinking=fold)
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
        pane.post_message(pane.Activity(pane, "approval"))
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

    def answered(self, decision: Decision | None) -> None:
        """The user answered (None: the call no longer waits); the keys go back to the pane."""
        pane = self._pane
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
            pane.post_message(pane.Activity(pane, "streaming"))
            pane.tick()
