"""One conversation: its message log, prompt, status bar, and the stream that feeds them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message as TMessage
from textual.timer import Timer
from textual.types import NoActiveAppError
from textual.widget import Widget
from textual.widgets import Static

from glmchat.backend.errors import AuthError, ProviderError
from glmchat.backend.events import (
    ChatRequest,
    ContentDelta,
    Finish,
    Message,
    ReasoningDelta,
    RetryScheduled,
    Usage,
)
from glmchat.engine.turns import Turn, turns_from_stored, usage_totals
from glmchat.store.database import StoreError
from glmchat.token_estimate import estimate_tokens
from glmchat.tui.literal import literal
from glmchat.tui.widgets.message_log import MessageLog
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage
from glmchat.tui.widgets.prompt import PromptInput
from glmchat.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from glmchat.store import Conversation
    from glmchat.tui.app import GlmChatApp

# Only the most recent turns are mounted: every mounted widget costs layout time on every
# frame, so a 1,000-message conversation must not mean 1,000 widgets.
HISTORY_WINDOW = 24
# A resumed conversation first shows only the turns that fill about one and a half screens;
# the rest of the window is mounted above them after the first paint, a few turns at a time,
# while the view stays on the last message.
FIRST_PAINT_SCREENS = 1.5
MOUNT_BATCH = 4
MOUNT_PAUSE = 0.015  # seconds between batches: time for a layout and a frame
T = TypeVar("T")

# The live speed is shown from this long after the first token on (a rate over a few
# milliseconds says nothing).
MIN_RATE_SECONDS = 0.5


class EarlierMessages(Static):
    """A marker at the top of a long conversation; clicking it mounts more history."""

    DEFAULT_CSS = """
    EarlierMessages {
        color: $text-muted;
        text-align: center;
        width: 1fr;
    }
    EarlierMessages:hover { color: $text; }
    """

    @dataclass
    class Clicked(TMessage):
        pass

    def on_click(self) -> None:
        self.post_message(self.Clicked())


class ChatPane(Vertical):
    DEFAULT_CSS = """
    ChatPane {
        height: 1fr;
    }
    ChatPane > #title {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-style: bold;
    }
    ChatPane > #log {
        height: 1fr;
        scrollbar-gutter: stable;
        padding: 0 1 1 1;
    }
    ChatPane > #unsaved {
        height: auto;
        padding: 0 1;
        background: $error 25%;
    }
    """

    NEW_TITLE = "New conversation"

    @dataclass
    class TitleChanged(TMessage):
        pane: ChatPane
        title: str

    @dataclass
    class Activity(TMessage):
        """An answer started ("streaming") or ended ("done", "failed"): the tab shows it."""

        pane: ChatPane
        state: str

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        thinking: bool,
        system_prompt: str | None = None,
        conversation: Conversation | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.provider_name = provider
        self.model = model
        self.thinking = thinking
        self.system_prompt = system_prompt
        self.conversation_id: str | None = None
        self.title = self.NEW_TITLE
        self.turns: list[Turn] = []
        self.shown_from = 0  # index of the first mounted turn
        self._window_start = 0  # the first turn to mount (the rest stay in `turns` only)
        self.streaming: AssistantMessage | None = None
        self._recorder: Any = None
        self._tick_timer: Timer | None = None
        # Streamed text not yet counted into the live speed: counted on the status tick, not
        # per token.
        self._uncounted: list[str] = []
        self._out_tokens = 0
        self._pending_prompt: str | None = None
        self._retry: tuple[RetryScheduled, float] | None = None
        self.save_error: str | None = None  # lasting: this conversation is not fully saved
        self.totals = usage_totals(())  # the turns in the conversation now (not dropped ones)
        if conversation is not None:
            self._load(conversation)

    @property
    def glm(self) -> GlmChatApp:
        return self.app  # type: ignore[return-value]

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(literal(self.title), id="title")
        with MessageLog(id="log"):
            if self.shown_from > 0:
                yield EarlierMessages(self._marker_text())
            for turn in self.turns[self.shown_from :]:
                yield self._widget_for(turn)
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        self.log_view.follow()
        self._update_status()
        self.query_one(PromptInput).focus()
        if self.shown_from > self._window_start:
            self.set_timer(MOUNT_PAUSE, self._mount_more_history)

    def _mount_more_history(self) -> None:
        """Mount the next few turns of the history window above those shown."""
        if self.shown_from <= self._window_start or not self.is_attached:
            return
        if not self.log_view.size.height:  # the first turns are not laid out (and shown) yet
            self.set_timer(MOUNT_PAUSE, self._mount_more_history)
            return
        start = max(self._window_start, self.shown_from - MOUNT_BATCH)
        widgets = [self._widget_for(t) for t in self.turns[start : self.shown_from]]
        self.shown_from = start
        markers = self.query(EarlierMessages)
        if markers:
            self.log_view.mount_all(widgets, after=markers.first())
        else:
            self.log_view.mount_all(widgets, before=0)
        self._update_marker()
        # A timer, not call_after_refresh: that runs before the layout the mount asks for, so
        # every batch would end up in one long layout.
        self.set_timer(MOUNT_PAUSE, self._mount_more_history)

    def _update_marker(self) -> None:
        for marker in self.query(EarlierMessages):
            if self.shown_from == 0:
                marker.remove()
            else:
                marker.update(self._marker_text())

    def _marker_text(self) -> str:
        return f"▲ {self.shown_from} earlier messages (click to show)"

    @property
    def log_view(self) -> MessageLog:
        return self.query_one("#log", MessageLog)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def _widget_for(self, turn: Turn) -> UserMessage | AssistantMessage:
        if turn.role == "user":
            return UserMessage(turn.content)
        timings = turn.timings or {}
        usage = turn.usage or {}
        return AssistantMessage(
            content=turn.content,
            reasoning=turn.reasoning,
            refresh_rate=self.glm.settings.ui.refresh_rate,
            code_theme=self.glm.settings.ui.code_theme,
            reasoning_seconds=timings.get("thinking_seconds"),
            reasoning_tokens=usage.get("reasoning_tokens") or None,
            status=turn.status,
            error=turn.error,
            message_id=turn.message_id,
            palette_key=self._key("command_palette"),
        )

    def _load(self, conversation: Conversation) -> None:
        self.conversation_id = conversation.id
        self.title = conversation.title or "Untitled"
        self.provider_name = conversation.provider or self.provider_name
        self.model = conversation.model or self.model
        self.thinking = conversation.thinking
        self.system_prompt = conversation.system_prompt
        self.turns = turns_from_stored(conversation.messages)
        self.totals = usage_totals(self.turns)
        self._window_start = max(0, len(self.turns) - HISTORY_WINDOW)
        self.shown_from = self._first_paint_start()

    def _first_paint_start(self) -> int:
        """The first turn to mount at once: enough of the last ones to fill the screen."""
        try:
            screen_lines = self.app.size.height
        except NoActiveAppError:
            screen_lines = 40
        lines = 0
        start = len(self.turns)
        while start > self._window_start and lines < FIRST_PAINT_SCREENS * screen_lines:
            start -= 1
            content = self.turns[start].content
            lines += 2 + content.count("\n") + len(content) // 100
        return start

    @on(EarlierMessages.Clicked)
    async def show_earlier(self, event: EarlierMessages.Clicked) -> None:
        event.stop()
        marker = self.query_one(EarlierMessages)
        start = max(0, self.shown_from - HISTORY_WINDOW)
        widgets = [self._widget_for(t) for t in self.turns[start : self.shown_from]]
        self.shown_from = self._window_start = start
        await self.log_view.mount_all(widgets, after=marker)
        self._update_marker()

    def _set_title(self, title: str) -> None:
        self.title = title
        self.query_one("#title", Static).update(literal(title))
        self.post_message(self.TitleChanged(self, title))

    # --- saving --------------------------------------------------------------------------

    def _save(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Run a store write; a failure puts the pane in the lasting "not saved" state."""
        try:
            return fn(*args, **kwargs)
        except StoreError as exc:
            self._saving_failed(str(exc))
            return None

    def _saving_failed(self, reason: str) -> None:
        if self._recorder is not None:
            self._recorder.detach()  # the rest of this answer stays in memory only
        if self.save_error is not None:
            return
        self.save_error = reason
        # A banner that stays (a toast goes away while the user keeps chatting), and the
        # status bar says it too.
        banner = literal("⚠ Not saved: ", "bold") + literal(
            f"{reason.rstrip('.')}. This conversation now lives only on the screen: copy the "
            f"last answer with {self._key('copy_answer')}, or export it all with "
            f"{self._key('command_palette')} → Export (written from the screen)."
        )
        self.mount(Static(banner, id="unsaved"), before=self.prompt)
        self.app.notify(f"Not saved: {reason}", severity="error", timeout=10, markup=False)
        self._update_status()

    def snapshot(self) -> Conversation:
        """The conversation as the pane holds it, for exporting what the store may not have."""
        from glmchat.store import Conversation, StoredMessage
        from glmchat.store.sessions import new_id, now_iso

        stamp = now_iso()
        conversation_id = self.conversation_id or new_id()
        messages = tuple(
            StoredMessage(
                id=turn.message_id or 0,
                conversation_id=conversation_id,
                position=position,
                role=turn.role,
                content=turn.content,
                reasoning=turn.reasoning,
                model=self.model,
                provider=self.provider_name,
                usage=turn.usage,
                status=turn.status,
                error=turn.error,
                finish_reason=turn.finish_reason,
                timings=turn.timings,
            )
            for position, turn in enumerate(self.turns)
        )
        return Conversation(
            id=conversation_id,
            title=self.title,
            created=stamp,
            updated=stamp,
            model=self.model,
            provider=self.provider_name,
            thinking=self.thinking,
            system_prompt=self.system_prompt,
            messages=messages,
        )

    # --- status --------------------------------------------------------------------------

    def _update_status(self, **extra: Any) -> None:
        totals = self.totals
        self.status.set(
            provider=self.provider_name,
            model=self.model,
            thinking=self.thinking,
            answers=totals.answers,
            tokens_in=totals.prompt_tokens,
            tokens_out=totals.completion_tokens,
            cached=totals.cached_tokens,
            context=totals.context_tokens,
            unsaved=self.save_error is not None,
            **extra,
        )

    def toggle_thinking(self) -> None:
        self.thinking = not self.thinking
        self._update_status()
        if self.conversation_id and self.glm.store is not None:
            self._save(
                self.glm.store.update_conversation, self.conversation_id, thinking=self.thinking
            )

    def set_model(self, provider: str, model: str) -> None:
        self.provider_name, self.model = provider, model
        self._update_status()
        if self.conversation_id and self.glm.store is not None:
            self._save(
                self.glm.store.update_conversation,
                self.conversation_id,
                provider=provider,
                model=model,
            )

    # --- sending ---------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    def on_prompt_submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        self.send(event.text)

    def send(self, text: str) -> None:
        if self._busy():
            return
        provider = self.glm.settings.providers.get(self.provider_name)
        if provider is None:
            self.app.notify(f"Unknown provider {self.provider_name}.", severity="error")
            return
        if not self.glm.has_key(provider):
            # Keep the prompt; ask for the key, then send it.
            self.glm.ask_for_key(provider, lambda ok: self.send(text) if ok else None)
            return
        self.prompt.clear()
        self._pending_prompt = text
        self._start_conversation(text)
        turn = Turn(role="user", content=text)
        store = self.glm.store
        if store is not None and self.conversation_id:
            turn.message_id = self._save(
                store.add_message,
                self.conversation_id,
                "user",
                text,
                model=self.model,
                provider=self.provider_name,
                thinking=self.thinking,
            )
        self.turns.append(turn)
        self.log_view.mount(UserMessage(text))
        self._begin_answer()

    def _start_conversation(self, first_prompt: str) -> None:
        if self.conversation_id is not None or self.glm.store is None:
            if self.conversation_id is None and self.title == self.NEW_TITLE:
                self._set_title(first_prompt.strip().splitlines()[0][:80])
            return
        self.conversation_id = self._save(
            self.glm.store.create_conversation,
            model=self.model,
            provider=self.provider_name,
            thinking=self.thinking,
            system_prompt=self.system_prompt,
        )
        self._set_title(first_prompt.strip().splitlines()[0][:80] or "Untitled")

    def _begin_answer(self) -> None:
        settings = self.glm.settings
        message = AssistantMessage(
            streaming=True,
            refresh_rate=settings.ui.refresh_rate,
            code_theme=settings.ui.code_theme,
            palette_key=self._key("command_palette"),
        )
        self.streaming = message
        self.log_view.mount(message)
        self.log_view.follow()
        self._recorder = None
        store = self.glm.store
        if store is not None and self.conversation_id:
            from glmchat.store import StreamRecorder

            message_id = self._save(
                store.begin_assistant,
                self.conversation_id,
                model=self.model,
                provider=self.provider_name,
                thinking=self.thinking,
            )
            if message_id is not None:
                message.message_id = message_id
                self._recorder = StreamRecorder(store, message_id)
        request = ChatRequest(
            model=self.model,
            messages=self._history(),
            thinking=self.thinking,
            system=self.system_prompt or settings.system_prompt,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=settings.max_tokens,
        )
        self._uncounted.clear()
        self._out_tokens = 0
        self._retry = None
        self._update_status(rate=None, state="waiting")  # no speed before the first token
        # Two status updates a second: each one is a frame of its own.
        self._tick_timer = self.set_interval(0.5, self._tick)
        self.post_message(self.Activity(self, "streaming"))
        self.run_stream(request, message)

    def _history(self) -> tuple[Message, ...]:
        """The turns to send. A prompt whose answer failed before any text is left out: it was
        given back to the prompt box, and sending it again must not send it twice."""
        turns = self.turns
        out = []
        for i, t in enumerate(turns):
            if not t.content or t.status == "error":
                continue
            after = turns[i + 1] if i + 1 < len(turns) else None
            if t.role == "user" and after is not None and after.status == "error":
                continue  # "error" means nothing came back ("partial" keeps its text)
            out.append(Message(t.role, t.content))  # type: ignore[arg-type]
        return tuple(out)

    def _tick(self) -> None:
        if self.streaming is None:
            return
        self.streaming.tick()
        if self._recorder is not None:  # checkpoint a quiet stream too
            self._save(self._recorder.tick)
        now = time.monotonic()
        first = self.streaming.first_output_at
        state = "waiting" if first is None else "streaming"
        if self._retry is not None:
            event, deadline = self._retry
            if now < deadline and first is None:
                state = f"retry {event.attempt + 1}/{event.max_attempts} in {deadline - now:.0f} s"
            else:
                self._retry = None
        if self._uncounted:
            self._out_tokens += estimate_tokens("".join(self._uncounted))
            self._uncounted.clear()
        rate = None
        if first is not None and now - first >= MIN_RATE_SECONDS:
            rate = self._out_tokens / (now - first)
        self._update_status(rate=rate, state=state)

    @work(exclusive=True, group="stream", exit_on_error=False)
    async def run_stream(self, request: ChatRequest, message: AssistantMessage) -> None:
        client = self.glm.client_for(self.provider_name)
        fold = self.glm.settings.ui.fold_thinking_when_answer_starts
        usage: Usage | None = None
        error: ProviderError | None = None
        finish_reason: str | None = None
        status = "complete"
        content: list[str] = []
        reasoning: list[str] = []
        try:
            async for event in client.stream(request):
                if isinstance(event, ContentDelta):
                    content.append(event.text)
                    self._uncounted.append(event.text)
                    message.add_content(event.text, fold_thinking=fold)
                    if self._recorder is not None:
                        self._save(self._recorder.add_content, event.text)
                elif isinstance(event, ReasoningDelta):
                    reasoning.append(event.text)
                    self._uncounted.append(event.text)
                    message.add_reasoning(event.text)
                    if self._recorder is not None:
                        self._save(self._recorder.add_reasoning, event.text)
                elif isinstance(event, Usage):
                    usage = event
                elif isinstance(event, Finish):
                    finish_reason = event.reason
                elif isinstance(event, RetryScheduled):
                    # The client sleeps before the next try; the tick shows the countdown.
                    self._retry = (event, time.monotonic() + event.delay)
                    self._tick()
        except ProviderError as exc:
            error = exc
            status = "partial" if content else "error"
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        except Exception as exc:  # never take the app down: show it on the message
            error = ProviderError(f"Unexpected error: {type(exc).__name__}: {exc}")
            status = "partial" if content else "error"
        finally:
            self._end_stream(
                message,
                status=status,
                error=error,
                usage=usage,
                finish_reason=finish_reason,
                content="".join(content),
                reasoning="".join(reasoning),
            )

    def _end_stream(
        self,
        message: AssistantMessage,
        *,
        status: str,
        error: ProviderError | None,
        usage: Usage | None,
        finish_reason: str | None,
        content: str,
        reasoning: str,
    ) -> None:
        if self._tick_timer is not None:
            self._tick_timer.stop()
            self._tick_timer = None
        note = error.message if error else None
        if isinstance(error, AuthError):
            note = f"{error.message} Or here: {self._key('command_palette')} → Set API key."
        if finish_reason == "length" and not error:
            note = "The answer stopped at the max_tokens limit."
        message.finish(
            status=status, error=note, reasoning_tokens=usage.reasoning_tokens if usage else None
        )
        usage_dict = usage.as_dict() if usage else None
        timings: dict[str, Any] = {"thinking_seconds": message.thinking_seconds}
        if self._recorder is not None:
            timings = self._recorder.timings()
            self._save(
                self._recorder.finish,
                status=status,
                usage=usage_dict,
                error=error.message if error else None,
                finish_reason=finish_reason,
            )
        self._recorder = None
        self.turns.append(
            Turn(
                role="assistant",
                content=content,
                reasoning=reasoning,
                message_id=message.message_id,
                status=status,
                error=error.message if error else None,
                usage=usage_dict,
                timings=timings,
            )
        )
        self.totals = usage_totals(self.turns)
        self.streaming = None
        self._update_status(rate=None, state="")
        self.post_message(self.Activity(self, "failed" if error is not None else "done"))
        if error is not None and not content and self._pending_prompt and not self.prompt.text:
            # Nothing came back: give the prompt back so the user can edit and resend.
            self._give_back(self._pending_prompt)
        self._pending_prompt = None
        if isinstance(error, AuthError) and self.is_active():
            # The key was refused: ask for another right away; the prompt waits in the box.
            self.offer_key_dialog(reason=error.message)

    def is_active(self) -> bool:
        """Shown, with no dialog over it: the user is looking at this pane."""
        return self.app.screen is self.screen and self.glm.active_pane is self

    def offer_key_dialog(self, reason: str | None = None) -> None:
        """Ask for this pane's provider's API key; the next send uses the new one."""
        provider = self.glm.settings.providers.get(self.provider_name)
        if provider is not None:
            self.glm.ask_for_key(provider, lambda saved: None, reason=reason)

    def _give_back(self, text: str) -> None:
        """Put text in the prompt box with the cursor at its end, ready to edit or send."""
        prompt = self.prompt
        prompt.text = text
        prompt.move_cursor(prompt.document.end)
        prompt.focus()

    def _key(self, binding_id: str) -> str:
        """The key the user has for a binding (the first, when several are configured)."""
        return self.glm.settings.key_for(binding_id).split(",")[0].strip()

    # --- actions -----------------------------------------------------------------------

    def stop(self) -> bool:
        if self.streaming is None:
            return False
        self.workers.cancel_group(self, "stream")
        return True

    def last_turn(self, role: str) -> Turn | None:
        for turn in reversed(self.turns):
            if turn.role == role:
                return turn
        return None

    async def _drop_last(self, role: str, widget_type: type[Widget]) -> Turn | None:
        """Remove the last turn if it has `role`: from the list, the screen and the store."""
        if not self.turns or self.turns[-1].role != role:
            return None
        turn = self.turns.pop()
        self.totals = usage_totals(self.turns)
        self._update_status()
        widgets = list(self.log_view.query(widget_type))
        if widgets:
            await widgets[-1].remove()
        if turn.message_id is not None and self.glm.store is not None:
            self._save(self.glm.store.delete_message, turn.message_id)
        return turn

    def _busy(self) -> bool:
        if self.streaming is not None:
            self.app.notify(
                f"Still answering: press {self._key('stop')} first.", severity="warning"
            )
            return True
        return False

    async def retry(self) -> None:
        if self._busy():
            return
        await self._drop_last("assistant", AssistantMessage)
        if not self.turns or self.turns[-1].role != "user":
            self.app.notify("Nothing to retry.")
            return
        self._begin_answer()

    async def edit_last(self) -> None:
        if self._busy():
            return
        await self._drop_last("assistant", AssistantMessage)
        turn = await self._drop_last("user", UserMessage)
        if turn is None:
            self.app.notify("No prompt to edit.")
            return
        self._give_back(turn.content)

    def fold_all(self) -> None:
        from glmchat.tui.widgets.messages import ThinkingPanel

        panels = list(self.query(ThinkingPanel))
        if not panels:
            return
        fold = any(not p.collapsed for p in panels)
        anchored = self.log_view.is_vertical_scroll_end
        for panel in panels:
            panel.collapsed = fold
        if anchored:
            # Toggling a Collapsible scrolls it into view and releases the anchor.
            self.call_after_refresh(self.log_view.follow)

    def rename(self, title: str) -> None:
        title = title.strip()
        if not title:
            return
        self._set_title(title)
        if self.conversation_id and self.glm.store is not None:
            self._save(self.glm.store.rename, self.conversation_id, title)
