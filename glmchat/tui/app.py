"""The glmchat Textual app: conversation panes in tabs, key bindings, palette, modals (what it
gives the panes is in tui/app_services.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from glmchat.config import BINDING_IDS, Settings
from glmchat.credentials import CredentialStore
from glmchat.engine import NEW_TITLE, ConversationEngine
from glmchat.tui import budget_mark
from glmchat.tui.app_services import AppServices
from glmchat.tui.app_tools import AppTools
from glmchat.tui.closed_terminal import end_on_signals
from glmchat.tui.commands import ChatCommands, Palette
from glmchat.tui.compat.keys import KeysAsRead
from glmchat.tui.compat.one_write import FramesInOneWrite
from glmchat.tui.compat.terminal_input import install as install_terminal_input
from glmchat.tui.export_file import export_to_file
from glmchat.tui.key_order import box_key_in_order, move_focus_as_read
from glmchat.tui.screens.chat_screen import ChatScreen
from glmchat.tui.warm_up import WARM_UP_STEPS, freeze_what_lives_on
from glmchat.tui.widgets.chat_pane import ChatPane
from glmchat.tui.widgets.history import BRANCH_END
from glmchat.tui.widgets.key_footer import KeyFooter
from glmchat.tui.widgets.pane_tabs import PaneTabs

if TYPE_CHECKING:
    from glmchat.store import Conversation


def _binding(binding_id: str, action: str, description: str, **kw: Any) -> Binding:
    return Binding(BINDING_IDS[binding_id], action, description, id=binding_id, **kw)


class GlmChatApp(FramesInOneWrite, KeysAsRead, AppServices):  # compat: see each mixin
    CSS_PATH = "app.tcss"
    TITLE = "glmchat"
    COMMANDS = App.COMMANDS | {ChatCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        _binding("toggle_thinking", "toggle_thinking", "Thinking", priority=True),
        _binding("stop", "stop", "Stop"),
        # The same key between answers, with the focus out of the prompt (check_action).
        _binding("stop", "to_prompt", "Prompt"),
        _binding("new_pane", "new_pane", "New", priority=True),
        _binding("close_pane", "close_pane", "Close", priority=True),
        _binding("prev_pane", "prev_pane", "Prev", show=False, priority=True),
        _binding("next_pane", "next_pane", "Next", show=False, priority=True),
        _binding("resume", "resume", "Resume", priority=True),
        _binding("fold_thinking", "fold_thinking", "Fold", priority=True),
        _binding("copy_answer", "copy_answer", "Copy", priority=True),
        # The Footer docks the palette key on its right already (show=True listed it twice).
        _binding("command_palette", "command_palette", "Palette", show=False, priority=True),
        _binding("quit", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        store: Any,
        credentials: CredentialStore,
        resume: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(settings, store=store, credentials=credentials)
        install_terminal_input()  # pastes with escape codes, bytes that are not UTF-8 (compat)
        self._resume = resume
        self._model = model
        self._pane_count = 0
        self._warm_up_left: list[Callable[[], None]] = []  # see _warm_up
        self._signals_off: Callable[[], None] = lambda: None
        self.tools = AppTools(settings, changed=self._tools_changed, failed=self._tools_failed)
        if settings.theme:
            self.theme = settings.theme if settings.theme in self.available_themes else self.theme

    # --- layout ------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return ChatScreen(self.settings.key_for, id="_default")

    def compose(self) -> ComposeResult:
        yield PaneTabs(id="tabs")
        yield KeyFooter()

    async def on_mount(self) -> None:
        # UI options that are pure style live in app.tcss behind these classes.
        self.set_class(not self.settings.ui.show_thinking, "-hide-thinking")
        self.set_class(self.settings.ui.compact, "-compact")
        if self.settings.keys:
            self.set_keymap(dict(self.settings.keys))
        self._signals_off = end_on_signals(self)  # a closed terminal keeps the drafts
        await self.open_pane(self._resume)
        for warning in self.settings.warnings:
            self.notify(warning, severity="warning", timeout=8)
        self._warm_up_left = [*WARM_UP_STEPS, partial(budget_mark.at_start, self)]
        # Right after the first paint (not during it), one step at a time on this thread,
        # so a key typed meanwhile waits for one step at most and no thread competes with
        # the terminal writer.
        self.call_after_refresh(self._warm_up)
        if self.tools.has_servers:
            self.call_after_refresh(self._start_mcp_servers)

    def _start_mcp_servers(self) -> None:
        # Servers start in the background after the first paint; their tools join the panes'
        # toolboxes as each one is ready (a failure is one notification).
        self.run_worker(self.tools.start(), name="mcp servers", group="mcp", exit_on_error=False)

    def _tools_changed(self) -> None:
        for pane in self.panes:
            pane.tools_changed()

    def _tools_failed(self, line: str) -> None:
        self.notify(line, severity="error", timeout=10)

    def _warm_up(self) -> None:
        freeze_what_lives_on()
        if self._warm_up_left:
            step = self._warm_up_left.pop(0)
            try:
                step()
            except Exception:  # only a head start: the first real use reports its own error,
                # and the steps after it (the last turns the garbage collector back on) still run
                logging.getLogger(__name__).debug("warm-up step %s failed", step, exc_info=True)
            self.call_later(self._warm_up)  # after the messages (keys) that came meanwhile

    @property
    def tabs(self) -> PaneTabs:
        return self.query_one("#tabs", PaneTabs)

    @property
    def active_pane(self) -> ChatPane | None:
        # Asked on every streaming tick: a lookup, not a query (a query of the whole pane
        # walked every mounted message's widgets: a resumed conversation's window, 5x the CPU).
        return self.tabs.active_pane

    @property
    def panes(self) -> list[ChatPane]:
        return list(self.query(ChatPane))

    async def open_pane(
        self, conversation_id: str | None = None, *, after: ChatPane | None = None
    ) -> ChatPane:
        conversation, rest = None, None
        if conversation_id and self.store is not None:
            # The end of its branch first, the rest after the first paint (Branches.read_whole).
            end = self.guard_store(self.store.get_branch_end, conversation_id, BRANCH_END)
            if end is not None:
                conversation = end[0]
                if not end[1]:
                    rest = partial(self.guard_store, self.store.get_conversation, conversation.id)
        pane = ChatPane(self._engine_for(conversation, rest))
        self._pane_count += 1
        pane_id = f"pane-{self._pane_count}"
        # The pane, its widgets and its tab are mounted in steps: shown at the end, they are
        # laid out once, not once a step.
        with self.batch_update():
            await self.tabs.add(pane, pane_id, after=self._tab_id(after) if after else None)
            self.tabs.show(pane_id)
        return pane

    def _engine_for(
        self,
        conversation: Conversation | None,
        rest: Callable[[], Conversation | None] | None = None,
    ) -> ConversationEngine:
        """The engine that runs a pane's conversation: a saved one, or a new one."""
        toolbox = self.tools.toolbox()
        if conversation is not None:
            return ConversationEngine.resume(
                self.settings, self.store, self.client_for, conversation, toolbox=toolbox, rest=rest
            )
        provider, model = self.settings.resolve_model(self._model)
        return ConversationEngine(
            self.settings,
            self.store,
            self.client_for,
            provider=provider.name,
            model=model,
            toolbox=toolbox,
        )

    def _tab_id(self, pane: ChatPane) -> str | None:
        return self.tabs.pane_id(pane)

    def show_pane(self, pane: ChatPane) -> None:
        pane_id = self._tab_id(pane)
        if pane_id:
            self.tabs.show(pane_id)

    async def close(self, pane: ChatPane) -> None:
        pane_id = self._tab_id(pane)
        self.tools.forget(pane.engine.toolbox)
        if pane_id:
            await self.tabs.close_pane(pane_id)

    @on(ChatPane.TitleChanged)
    def retitle(self, event: ChatPane.TitleChanged) -> None:
        pane_id = self._tab_id(event.pane)
        if pane_id:
            self.tabs.set_title(pane_id, event.title)

    def mark_tab(self, pane: ChatPane, state: str) -> None:
        """Show a pane's activity on its tab ("streaming", "approval", "done" or "failed").
        Called, not posted: the relabel joins the layout of what changed with it (an answer's
        end), where a message bubbling up to the app came after that layout and made one more
        layout of the screen per answer."""
        pane_id = self._tab_id(pane)
        if pane_id:
            self.tabs.set_activity(pane_id, state)
        self.refresh_bindings()  # Stop is enabled while an answer streams

    # --- actions -----------------------------------------------------------------------------

    # Pane actions are priority bindings: without this check they reach past a modal (a second
    # picker on top of the first, a pane opened or closed behind the key prompt).
    _PANE_ACTIONS = frozenset(
        {
            "toggle_thinking",
            "new_pane",
            "close_pane",
            "prev_pane",
            "next_pane",
            "resume",
            "fold_thinking",
            "copy_answer",
        }
    )

    def action_command_palette(self) -> None:
        # Textual's, with its keys at the bottom (commands.Palette).
        if self.use_command_palette and not isinstance(self.screen, Palette):
            self.push_screen(Palette(id="--command-palette"))

    async def as_read(self, key: str, character: str | None) -> bool:
        # A focus move, before the keys after it; a box's own key, between them.
        return await move_focus_as_read(self, key, character) or box_key_in_order(
            self, key, character
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self._PANE_ACTIONS and isinstance(self.screen, ModalScreen):
            return False
        if action in ("stop", "to_prompt"):
            return self._stop_key(action)
        return True

    def _stop_key(self, action: str) -> bool | None:
        """The stop key's two bindings (found by QA: "esc Stop" with nothing streaming): Stop
        while an answer streams; between answers "Prompt" where the key brings the focus back
        to the prompt (from a selected message), else Stop dimmed. The binding not meant now
        is left out (False)."""
        pane = self.active_pane
        streaming = pane is not None and pane.streaming is not None
        elsewhere = (  # a dialog's focus is the dialog's
            pane is not None
            and self.focused is not pane.prompt
            and not isinstance(self.screen, ModalScreen)
        )
        if action == "to_prompt":
            return not streaming and elsewhere
        return True if streaming else (False if elsewhere else None)

    def action_toggle_thinking(self) -> None:
        pane = self.active_pane
        if pane is not None:
            label = pane.toggle_thinking()
            # The setting is the pane's (and its saved conversation's) until toggled again; a
            # model that always thinks moves between its effort levels instead.
            what = f"effort {label}" if pane.engine.model_info.always_thinks else label
            self.notify(f"Thinking {what} for this pane.", timeout=2)

    def action_set_key(self) -> None:
        pane = self.active_pane
        if pane is not None:
            pane.offer_key_dialog()

    def action_to_prompt(self) -> None:
        pane = self.active_pane
        if pane is not None:
            self.screen.set_focus(pane.prompt)

    def action_stop(self) -> None:
        pane = self.active_pane
        if pane is not None and not pane.stop():
            self.screen.set_focus(pane.prompt)

    async def action_new_pane(self) -> None:
        await self.open_pane()

    async def action_close_pane(self) -> None:
        from glmchat.tui.screens.drop_draft import unless_a_draft_is_lost

        pane = self.active_pane
        if pane is not None:  # its unsent prompt stays with its conversation (on unmount)
            await unless_a_draft_is_lost(self, [pane], partial(self._close_pane, pane))

    async def _close_pane(self, pane: ChatPane) -> None:
        if not pane.is_attached:
            return
        pane.stop()  # the worker saves the partial answer as it is cancelled
        if len(self.panes) == 1:
            await self.open_pane()
        await self.close(pane)

    async def action_quit(self) -> None:
        from glmchat.tui.screens.drop_draft import unless_a_draft_is_lost

        await unless_a_draft_is_lost(self, self.panes, self._quit_now, quitting=True)

    async def _quit_now(self) -> None:
        self.exit()

    def _switch(self, step: int) -> None:
        # From the tab shown now, which `show` sets at once: presses faster than a frame each
        # move one step from where the last one landed.
        ids = self.tabs.pane_ids
        if len(ids) < 2 or self.tabs.active not in ids:
            return
        self.tabs.show(ids[(ids.index(self.tabs.active) + step) % len(ids)])

    def action_prev_pane(self) -> None:
        self._switch(-1)

    def action_next_pane(self) -> None:
        self._switch(1)

    def action_resume(self) -> None:
        from glmchat.tui.screens.session_picker import Picked, SessionPicker

        if self.store is None:
            self.notify("The session store is not available.", severity="error")
            return

        async def chosen(picked: Picked | None) -> None:
            if picked is None:
                return
            shown = self.active_pane
            opened = [p for p in self.panes if p.conversation_id == picked.conversation_id]
            if opened:
                pane = opened[0]
                self.show_pane(pane)
            else:
                pane = await self.open_pane(picked.conversation_id, after=shown)
            if picked.hit is not None:  # a search hit: on the branch that holds it
                pane.branches.open_message(picked.hit)
            if shown is not None and shown not in opened and self._untouched(shown):
                await self.close(shown)  # what was picked takes the empty tab's place

        self.push_screen(SessionPicker(self.store), chosen)

    @staticmethod
    def _untouched(pane: ChatPane) -> bool:
        """A fresh pane nobody has used: no conversation, no turns, nothing typed or named."""
        return (
            pane.conversation_id is None
            and not pane.turns
            and pane.streaming is None
            and not pane.prompt.text.strip()
            and pane.title == NEW_TITLE
        )

    def action_fold_thinking(self) -> None:
        pane = self.active_pane
        if pane is not None:
            pane.fold_all()

    def action_copy_answer(self) -> None:
        pane = self.active_pane
        answer = pane.answer_text() if pane is not None else None
        if answer is None:
            self.notify("No answer to copy yet.")
        else:
            self.copy_text(*answer)

    async def action_retry(self) -> None:
        pane = self.active_pane
        if pane is not None:
            await pane.retry()

    async def action_edit_last(self) -> None:
        pane = self.active_pane
        if pane is not None:
            await pane.edit_last()

    def action_rename(self) -> None:
        from glmchat.tui.screens.text_prompt import TextPrompt

        pane = self.active_pane
        if pane is None:
            return

        def done(title: str | None) -> None:
            if title and pane.is_attached:
                pane.rename(title)

        self.push_screen(TextPrompt("Rename conversation", pane.title), done)

    def action_export(self, fmt: str = "markdown") -> None:
        pane = self.active_pane
        if pane is None or not pane.turns:
            self.notify("Nothing to export yet.")
            return
        export_to_file(self, pane, fmt)

    def action_tools(self) -> None:
        from glmchat.tui.screens.tools_picker import ToolsPicker

        pane = self.active_pane
        if pane is None or pane.engine.toolbox is None:
            return
        self.push_screen(
            ToolsPicker(
                pane.engine.toolbox,
                self.tools.statuses,
                web_search_available=pane.web_search_available,
                changed=pane.tools_changed,
            )
        )

    def action_toggle_web_search(self) -> None:
        pane = self.active_pane
        if pane is None:
            return
        if not pane.web_search_available:
            self.notify(
                "Web search is Z.ai's: switch this pane to a zai, zai-coding or bigmodel model.",
                severity="warning",
            )
            return
        on = pane.toggle_web_search()
        self.notify(f"Web search {'ON' if on else 'OFF'} for this pane.", timeout=2)

    def action_switch_model(self, provider: str, model: str) -> None:
        pane = self.active_pane
        if pane is not None:
            pane.set_model(provider, model)
            self.notify(f"Model: {provider}/{model}", timeout=2)

    async def on_unmount(self) -> None:
        self._signals_off()
        await self.tools.aclose()  # MCP servers: their processes end with the app
        await self.close_clients()
