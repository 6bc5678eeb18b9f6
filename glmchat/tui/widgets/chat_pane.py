"""One conversation: its message log, prompt, status bar, and the stream that feeds them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message as TMessage
from textual.widget import Widget

from glmchat.coding_plan import first_use_notice
from glmchat.config import BINDING_IDS
from glmchat.engine import ConversationEngine, Exchange, HistoryUnavailable, Turn
from glmchat.engine.budget import DoesNotFit
from glmchat.engine.events import ApprovalRequest
from glmchat.tui import budget_mark
from glmchat.tui.answer_rounds import answer_rounds, cited, exchanges
from glmchat.tui.branches import PaneBranches
from glmchat.tui.context_budget import cannot_regenerate, does_not_fit, model_fields
from glmchat.tui.glm_app import glm_app
from glmchat.tui.widgets.history import HistoryLog
from glmchat.tui.widgets.message_select import SelectableMessage
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage
from glmchat.tui.widgets.not_saved import NotSaved
from glmchat.tui.widgets.pane_draft import PaneDraft
from glmchat.tui.widgets.pane_stream import PaneStream
from glmchat.tui.widgets.pane_tools import PaneTools
from glmchat.tui.widgets.prompt import PromptInput
from glmchat.tui.widgets.status_bar import StatusBar, money_fields
from glmchat.tui.widgets.title_row import TitleRow
from glmchat.tui.widgets.tool_panel import ApprovalQuestion
from glmchat.tui.widgets.turn_widgets import widget_for

if TYPE_CHECKING:
    from glmchat.engine.spending import Spending
    from glmchat.store import Conversation
    from glmchat.tui.app import GlmChatApp


class ChatPane(Vertical):
    # While a tool call waits for approval these keys answer it, from its question (which
    # takes the focus; it passes every key that types text through PaneTools.key_at_question)
    # or a message selected with the keyboard. In the prompt y, a and n are typed and enter is
    # the box's; escape denies from anywhere. Typing never answers: see PaneTools.
    BINDINGS = [
        Binding("y", "answer('y')", "Allow once"),
        Binding("enter", "answer('enter')", "Allow once", show=False),
        Binding("a", "answer('a')", "Always allow"),
        Binding("n", "answer('n')", "Deny"),
        Binding("escape", "answer('escape')", "Deny", show=False, priority=True),
        # From the prompt, the selection starts at the last message (tui/branches.py).
        Binding(BINDING_IDS["select_prev"], "select_last", "Select", show=False, id="select_prev"),
        # While an earlier prompt's edit is in the box, the stop key makes it a new prompt.
        Binding(BINDING_IDS["stop"], "cancel_edit", "Not an edit", show=False, id="stop"),
    ]

    @dataclass
    class TitleChanged(TMessage):
        pane: ChatPane
        title: str

    def __init__(self, engine: ConversationEngine, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The engine runs the conversation (requests, history, saving); the pane draws it.
        self.engine = engine
        self._shown_title = engine.title
        self.spending: Spending | None = None  # after the last answer: budget, coding plan
        self.pane_tools = PaneTools(self)
        self.branches = PaneBranches(self)
        self.answer_stream = PaneStream(self)
        self.not_saved = NotSaved(self)
        self.draft = PaneDraft(self)

    # What the app and the tests read of the conversation, from the engine that holds it.
    @property
    def conversation_id(self) -> str | None:
        return self.engine.conversation_id

    @property
    def turns(self) -> list[Turn]:
        return self.engine.turns

    @property
    def title(self) -> str:
        return self.engine.title

    @property
    def thinking(self) -> bool:
        return self.engine.thinking

    @property
    def save_error(self) -> str | None:
        return self.engine.save_error

    @property
    def streaming(self) -> AssistantMessage | None:
        """The answer being streamed, None between answers."""
        return self.answer_stream.message

    @property
    def glm(self) -> GlmChatApp:
        return glm_app(self)

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleRow(self.title, id="title")
        log = HistoryLog(exchanges(self.engine.turns), self._widget_for, id="log")
        yield log
        yield PromptInput(id="prompt", scrolls=log)
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        if self.glm.budget is not None:  # over a limit: the mark shows from the start
            self.spending = budget_mark.budget_of(self.glm.budget)
        self.update_status()
        self.query_one(PromptInput).focus()
        self.log_view.after_first_paint(self.branches.read_whole)  # a resumed conversation
        # Its draft, and a prompt whose answer failed (unless the box was kept since).
        self.draft.restore(self.prompt)
        store = self.glm.store
        if store is not None and store.read_only:
            # Said as the pane opens, not when the first prompt fails to save (found by QA).
            self.engine.saving_failed(f"{store.path} is read-only, so nothing new is saved")
            self.not_saved.say_pending()

    def on_unmount(self) -> None:
        self.draft.keep()  # closed, or the app quitting: the unsent prompt stays with it

    @property
    def log_view(self) -> HistoryLog:
        return self.query_one("#log", HistoryLog)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def _widget_for(self, turns: Sequence[Turn]) -> UserMessage | AssistantMessage:
        ui, palette_key = self.glm.settings.ui, self._key("command_palette")
        return widget_for(turns, self.engine, ui, palette_key)

    def _show_title(self) -> None:
        """Show the engine's title if it changed (first prompt, rename)."""
        title = self.engine.title
        if title == self._shown_title:
            return
        self._shown_title = title
        self.query_one("#title", TitleRow).show(title)
        self.post_message(self.TitleChanged(self, title))

    # --- saving --------------------------------------------------------------------------

    def snapshot(self) -> Conversation:
        """The conversation as the pane holds it, for exporting what the store may not have."""
        return self.engine.snapshot()

    # --- status --------------------------------------------------------------------------

    def update_status(self, **extra: Any) -> None:
        engine = self.engine
        totals = engine.usage_totals()
        self.status.set(
            provider=engine.provider_name,
            model=engine.model,
            thinking=engine.thinking,
            answers=totals.answers,
            tokens_in=totals.prompt_tokens,
            tokens_out=totals.completion_tokens,
            cached=totals.cached_tokens,
            **model_fields(engine),  # the window, an estimate until counted, the effort
            unsaved=engine.save_error is not None,
            **money_fields(totals, self.spending),
            tools=self.pane_tools.count_on(),
            servers=self.glm.tools.summary(),
            **extra,
        )

    @property
    def web_search_available(self) -> bool:
        return self.pane_tools.web_search_available

    def toggle_web_search(self) -> bool:
        return self.pane_tools.toggle_web_search()

    def tools_changed(self) -> None:
        """The tools on offer changed (a server came up, a toggle): the status line says so."""
        self.update_status()

    def toggle_thinking(self) -> str:
        """On/off, or the next effort level on a model that always thinks; its new name."""
        label = self.engine.toggle_thinking()
        self.update_status()
        self.not_saved.say_pending()
        return label

    def set_model(self, provider: str, model: str) -> None:
        self.engine.set_model(provider, model)
        self.update_status()
        self.not_saved.say_pending()

    # --- sending ---------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    def on_prompt_submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        self.send(event.text)

    def send(self, text: str) -> None:
        """Send a prompt (the prompt box has already let go of it: a refusal gives it back)."""
        if self._busy():
            self._give_back(text)
            return
        provider = self.glm.settings.providers.get(self.engine.provider_name)
        if provider is None:
            self.app.notify(f"Unknown provider {self.engine.provider_name}.", severity="error")
            self._give_back(text)
            return
        if not self.glm.has_key(provider):
            # The prompt waits in the box, in sight behind the key dialog; with a key it is
            # sent from there, without one it stays for the user.
            self._give_back(text)
            self.glm.ask_for_key(provider, lambda ok: self._send_waiting(text) if ok else None)
            return
        if notice := first_use_notice(self.engine.provider_name):
            self.app.notify(notice, title="Coding plan", timeout=20, markup=False)
        try:
            exchange, edited = self.branches.send(text)
        except DoesNotFit as exc:  # not sent, nothing saved: the choice is the user's
            self._give_back(text)
            does_not_fit(self, exc, text)
            return
        except HistoryUnavailable as exc:  # not sent: the model would see a cut history
            self._give_back(text)
            self.app.notify(str(exc), severity="error", timeout=15, markup=False)
            return
        self.draft.sent()
        for note in self.engine.take_notices():
            self.app.notify(note, timeout=8, markup=False)
        self._show_title()
        # An edit, the log away from the end, or messages drawn that gained a version in
        # another glmchat (`‹ 1/2 ›`, found by QA): it shows the path again.
        if edited or self.engine.took_in:
            self.branches.answer_on_new_branch(exchange)
            return
        turn = self.engine.turns[-2]  # the prompt's, before the answer's
        prompt = UserMessage(text, siblings=turn.siblings)  # after an undo: `‹ 2/2 ›`
        prompt.turn = turn
        self.log_view.mount(prompt)
        self._begin_answer(exchange)

    def _send_waiting(self, text: str) -> None:
        """Send the prompt that waited in the box for a key (unless the user changed it)."""
        if self.prompt.text == text:
            self.prompt.clear()
            self.send(text)

    # --- the answer in flight (its stream lives in PaneStream) -----------------------------

    def _begin_answer(self, exchange: Exchange) -> None:
        self.answer_stream.begin(exchange)

    def tick(self) -> None:
        self.answer_stream.tick()

    @work(exclusive=True, group="stream", exit_on_error=False)
    async def run_stream(self, exchange: Exchange, message: AssistantMessage) -> None:
        """The pane owns the worker: closing it, or quitting, cancels the exchange."""
        await self.answer_stream.draw(exchange, message)

    def stop(self) -> bool:
        """Stop the answer being streamed (what arrived is kept and saved)."""
        return self.answer_stream.stop()

    def show_activity(self, state: str) -> None:
        """An answer started ("streaming"), waits for a tool approval ("approval") or ended
        ("done", "failed"): the pane's tab shows it."""
        if self.is_attached:
            self.glm.mark_tab(self, state)

    def is_active(self) -> bool:
        """Shown, with no dialog over it: the user is looking at this pane."""
        return self.app.screen is self.screen and self.glm.active_pane is self

    def offer_key_dialog(self, reason: str | None = None) -> None:
        """Ask for this pane's provider's API key; the next send uses the new one."""
        provider = self.glm.settings.providers.get(self.engine.provider_name)
        if provider is not None:
            self.glm.ask_for_key(provider, lambda saved: None, reason=reason)

    def _give_back(self, text: str) -> None:
        """Put text back in the prompt box, cursor at its end, ready to edit or send. Text
        typed meanwhile is kept after it."""
        prompt = self.prompt
        typed = prompt.text
        prompt.text = f"{text}\n{typed}" if typed.strip() else text
        prompt.move_cursor(prompt.document.end)
        prompt.focus()

    def _key(self, binding_id: str) -> str:
        """The key the user has for a binding (the first, when several are configured)."""
        return self.glm.settings.key_for(binding_id).split(",")[0].strip()

    # --- tool calls (their state lives in PaneTools) ----------------------------------------

    @property
    def approval(self) -> ApprovalRequest | None:
        """A tool call waiting for the user."""
        return self.pane_tools.approval

    @property
    def focus_target(self) -> Widget:
        return self.pane_tools.focus_target

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer":
            # Enter in the box is the box's: a follow-up typed meanwhile must not approve.
            return self.pane_tools.waiting and not (
                parameters == ("enter",) and self.prompt.has_focus
            )
        if action == "cancel_edit":
            return self.branches.editing is not None and self.streaming is None
        return True

    def action_answer(self, key: str) -> None:
        """y / enter: run it once; a: run this tool without asking for the rest of this
        conversation; n / escape: refuse (the model is told; a second escape stops it all).
        Escape always answers: a denial runs nothing; the others never while the user types."""
        self.pane_tools.key_answers(key)

    @on(ApprovalQuestion.Typed)
    def key_at_question(self, event: ApprovalQuestion.Typed) -> None:
        event.stop()
        self.pane_tools.key_at_question(event.character)

    # --- actions -----------------------------------------------------------------------

    def last_turn(self, role: str) -> Turn | None:
        for turn in reversed(self.engine.turns):
            if turn.role == role:
                return turn
        return None

    def answer_text(self) -> tuple[str, str] | None:
        """The answer to copy, and what it is: the one streaming, else the last one, as the
        log shows it (a tool loop's text from every round, web search citations numbered)."""
        if self.streaming is not None:
            self.answer_stream.catch_up()
            return self.streaming.text, "the partial answer"
        answers = [group for group in exchanges(self.engine.turns) if group[0].role != "user"]
        if not answers:
            return None
        rounds, _ = cited(answer_rounds(answers[-1]))
        text = "\n\n".join(each.content for each in rounds if each.content)
        return (text, "the last answer") if text else None

    def _busy(self) -> bool:
        if self.pane_tools.waiting:  # escape would deny the call, not stop the answer
            self.app.notify(self.pane_tools.how_to_answer(), severity="warning")
            return True
        if self.streaming is not None:
            self.app.notify(
                f"Still answering: press {self._key('stop')} first.", severity="warning"
            )
            return True
        return False

    async def retry(self) -> None:
        """A new answer to the last prompt, beside the last one (which is kept)."""
        if self._busy():
            return
        try:
            exchange = self.engine.retry()
        except DoesNotFit as exc:  # held to the window as a new prompt is
            cannot_regenerate(self, exc)
            return
        if exchange is None:
            self.app.notify("Nothing to retry.")
            return
        self.branches.answer_on_new_branch(exchange)

    async def edit_last(self) -> None:
        """The last prompt back in the box; its exchange stays as a branch."""
        if self.last_turn("user") is None:
            self.app.notify("No prompt to edit.")  # not "Nothing to undo." (found by QA)
            return
        self.branches.undo()

    # --- the message selection (tui/branches.py) ------------------------------------------

    def action_select_last(self) -> None:
        messages = [w for w in self.log_view.children if isinstance(w, SelectableMessage)]
        if messages:
            messages[-1].clicked = False  # with the keyboard: the letter keys act on it
            self.screen.set_focus(messages[-1])  # now: the next key press starts from it
            messages[-1].scroll_visible(animate=False)

    def action_cancel_edit(self) -> None:
        if self.branches.cancel_edit():
            self.app.notify("Not an edit any more: the text is sent as a new prompt.", timeout=3)

    @on(SelectableMessage.Selected)
    def _selected(self, event: SelectableMessage.Selected) -> None:
        self.branches.selected = event.message

    def fold_all(self) -> None:
        from glmchat.tui.widgets.messages import ThinkingPanel

        panels = list(self.query(ThinkingPanel))
        if not panels:
            return
        fold = any(not p.collapsed for p in panels)
        anchored = self.log_view.is_vertical_scroll_end
        for panel in panels:
            panel.fold_in_place(fold)
        if anchored:
            # The content changed height: the log keeps to its end (and takes the anchor it
            # drops while the content is shorter than the view).
            self.call_after_refresh(self.log_view.follow)

    def rename(self, title: str) -> None:
        if self.engine.rename(title):
            self._show_title()
            self.not_saved.say_pending()
