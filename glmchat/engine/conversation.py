"""ConversationEngine: one conversation's settings and turns, and the exchanges that extend it.

Both front-ends run every exchange through here: the TUI pane draws the events, `glmchat ask`
prints them. The engine builds the request (settings, per-conversation model, thinking and
system prompt, the history policy in `turns.history`), saves what arrives (rows, checkpoints
about once a second, the final status) and says how the exchange ended."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from glmchat.backend.events import ChatRequest, Message, StreamEvent
from glmchat.catalogue import ModelInfo
from glmchat.engine import thinking_levels
from glmchat.engine.branches import Branches, TurnTree
from glmchat.engine.events import SaveFailed
from glmchat.engine.exchange import CHECKPOINT_SECONDS, Exchange
from glmchat.engine.model_controls import ModelControls
from glmchat.engine.settled_totals import SettledTotals
from glmchat.engine.turns import Turn, UsageTotals, history
from glmchat.errors import GlmchatError
from glmchat.tools.base import Toolbox, ToolSettings

# Z.ai's server-side search (wire/TOOLS.md section 3.1): results come back on the final chunk.
WEB_SEARCH_TOOL: dict[str, Any] = {
    "type": "web_search",
    "web_search": {"enable": True, "search_result": True},
}

if TYPE_CHECKING:
    from glmchat.backend.providers import ProviderConfig
    from glmchat.config import Settings
    from glmchat.engine.structured import StructuredOutput
    from glmchat.store import Conversation, SessionStore, StreamRecorder
    from glmchat.store.models import Role, Status


NEW_TITLE = "New conversation"


class StreamClient(Protocol):
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...


ClientFactory = Callable[[str], StreamClient]  # provider name -> a client for it


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Sampling settings for the requests of one front-end run (ask's flags override them)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


class HistoryUnavailable(GlmchatError):
    """The rest of a conversation opened from the end of its branch could not be read: a
    request or a move in the tree would work on a cut history, so none is made."""


class ConversationEngine(Branches, ModelControls):
    """One conversation: its settings, its turns, and at most one running exchange.

    What depends on the model (the thinking switch, effort, max_tokens, the context budget)
    comes from ModelControls (engine/model_controls.py); the tree of turns and the moves
    between its branches from Branches (engine/branches.py)."""

    def __init__(
        self,
        settings: Settings,
        store: SessionStore | None,
        clients: ClientFactory,
        *,
        provider: str,
        model: str,
        thinking: bool | None = None,
        system_prompt: str | None = None,
        options: RequestOptions | None = None,
        toolbox: Toolbox | None = None,
    ) -> None:
        self.settings = settings
        self.toolbox = toolbox
        self.store = store
        self.clients = clients
        self.provider_name = provider
        self.model = model
        self.thinking = settings.thinking if thinking is None else thinking
        # The reasoning effort on models that take one (None: the model's default); kept
        # for this engine (the pane), not saved with the conversation.
        self.effort: str | None = None
        # Turns before this index are left out of what is sent (never deleted), so that a long
        # conversation fits the model's window; kept for this engine, not saved.
        self.omit_before = 0
        self.estimate: int | None = None  # the last request's size, estimated before sending
        self._info: ModelInfo | None = None
        self._notices: list[str] = []
        self._told: set[str] = set()
        self.system_prompt = system_prompt
        self.options = options or RequestOptions(
            settings.temperature, settings.top_p, settings.max_tokens
        )
        self.conversation_id: str | None = None
        # When the conversation was created and last written (the store's form), for an
        # export of what the engine holds: a saved one's, or the first prompt's.
        self.created: str | None = None
        self.updated: str | None = None
        self.title = NEW_TITLE
        self.turns: list[Turn] = []  # the current branch: the path from the root to the leaf
        # The last request or move read what another process added (`take_in_others`): a
        # message drawn already may have gained a version.
        self.took_in = False
        self.tree = TurnTree()
        self._settled_totals = SettledTotals()  # usage_totals without a walk of every turn
        self._rest: Callable[[], Conversation | None] | None = None  # see read_whole
        self.save_error: str | None = None  # lasting: this conversation is not fully saved
        self._export_id: str | None = None  # an unsaved conversation's id in its exports
        self._pending_save_events: list[SaveFailed] = []
        self.running: Exchange | None = None
        # Set by a front-end that wants one JSON document per answer (`ask --schema`): every
        # request asks for it the provider's way, and a forced answer tool's call is the text.
        self.structured: StructuredOutput | None = None

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def resume(
        cls,
        settings: Settings,
        store: SessionStore | None,
        clients: ClientFactory,
        conversation: Conversation,
        *,
        model: str | None = None,
        options: RequestOptions | None = None,
        toolbox: Toolbox | None = None,
        rest: Callable[[], Conversation | None] | None = None,
    ) -> ConversationEngine:
        """A saved conversation; its own model unless `model` is given. A conversation with no
        usable model (an import without one) takes the default model, as a new one would.
        `rest`: `conversation` holds only the end of its branch (store.get_branch_end), and
        this reads the whole of it (see Branches.read_whole)."""
        if model is None and conversation.provider and conversation.model:
            model = f"{conversation.provider}/{conversation.model}"
            if conversation.provider not in settings.providers:
                model = None
        provider, model_id = settings.resolve_model(model)
        engine = cls(
            settings,
            store,
            clients,
            provider=provider.name,
            model=model_id,
            thinking=conversation.thinking,
            system_prompt=conversation.system_prompt,
            options=options,
            toolbox=toolbox,
        )
        engine.conversation_id = conversation.id
        engine.created, engine.updated = conversation.created, conversation.updated
        engine.title = conversation.title or "Untitled"
        engine.tree, engine.turns = TurnTree.from_stored(
            conversation.messages, conversation.current_leaf
        )
        engine._rest = rest
        return engine

    # --- state ---------------------------------------------------------------------------

    @property
    def provider(self) -> ProviderConfig:
        return self.settings.providers[self.provider_name]

    @property
    def full_model(self) -> str:
        return f"{self.provider_name}/{self.model}"

    @property
    def busy(self) -> bool:
        return self.running is not None and self.running.result is None

    def usage_totals(self) -> UsageTotals:
        return self._settled_totals.of(self.turns)

    def set_model(self, provider: str, model: str) -> None:
        self.provider_name, self.model = provider, model
        if self.effort not in self.model_info.efforts:
            self.effort = None
        if self.conversation_id:
            self.save(
                "update_conversation",
                self.conversation_id,
                provider=provider,
                model=model,
            )

    def rename(self, title: str) -> bool:
        title = title.strip()
        if not title:
            return False
        self.title = title
        if self.conversation_id:
            self.save("rename", self.conversation_id, title)
        return True

    def snapshot(self) -> Conversation:
        """The conversation as the engine holds it: for exporting what the store may lack
        (saving failed or is off)."""
        from glmchat.store import Conversation, StoredMessage
        from glmchat.store.models import new_id, now_iso

        self.read_whole()

        # The times the store has or would have: the conversation's creation, and its last
        # write (its newest message's start or end, or a later one the store told).
        stamps = [s for t in self.tree.turns() for s in (t.started, t.finished) if s]
        created = self.created or min(stamps, default=None) or now_iso()
        updated = max([created, *stamps, *([self.updated] if self.updated else [])])
        # Unsaved: one id for every export of it (a markdown and a JSON export agree).
        if self.conversation_id is None and self._export_id is None:
            self._export_id = new_id()
        conversation_id = self.conversation_id or self._export_id or new_id()
        # Every branch the engine holds (found by QA: only the one shown was exported),
        # numbered by place, parents first (`TurnTree.turns`): an unsaved turn has no id.
        every = self.tree.turns()
        number = {id(turn): position + 1 for position, turn in enumerate(every)}

        def parent_number(turn: Turn) -> int | None:
            parent = self.tree.parent(turn)
            return None if parent is None else number[id(parent)]

        messages = tuple(
            StoredMessage(
                id=position + 1,
                parent_id=parent_number(turn),
                conversation_id=conversation_id,
                position=position,
                role=turn.role,
                content=turn.content,
                reasoning=turn.reasoning,
                model=turn.model,
                provider=turn.provider,
                thinking=turn.thinking,
                usage=turn.usage,
                started=turn.started,
                finished=turn.finished,
                status=turn.status,
                error=turn.error,
                finish_reason=turn.finish_reason,
                timings=turn.timings,
                cost=turn.cost,
                cost_source=turn.cost_source,  # type: ignore[arg-type]
                web_search=turn.web_search,
                tool_calls=turn.tool_calls,
                tool_call_id=turn.tool_call_id,
            )
            for position, turn in enumerate(every)
        )
        return Conversation(
            id=conversation_id,
            title=self.title,
            created=created,
            updated=updated,
            model=self.model,
            provider=self.provider_name,
            thinking=self.thinking,
            system_prompt=self.system_prompt,
            current_leaf=number[id(self.turns[-1])] if self.turns else None,
            messages=messages,
        )

    # --- exchanges -----------------------------------------------------------------------

    def send(self, prompt: str) -> Exchange:
        """Add the prompt and start its answer (the model is called when events are read).

        Raises DoesNotFit, with nothing saved, when the request would not fit the model's
        context window (the provider would refuse it)."""
        self._check_idle()
        self.estimate = self.check_fit(prompt).tokens
        self._ensure_conversation(prompt)
        turn = self._new_turn("user", prompt)
        if self._saves_below():
            turn.message_id = self.save(
                "add_message",
                self.conversation_id,
                "user",
                prompt,
                model=self.model,
                provider=self.provider_name,
                thinking=self.thinking,
                **self._parent_arg(),
            )
        self._extend(turn)
        return self._answer()

    def request(self) -> ChatRequest:
        """The request for an answer to the last turn, a user prompt."""
        *earlier, prompt = self.turns
        return self.request_for(earlier, prompt.content)

    def request_for(self, earlier: Sequence[Turn], prompt: str) -> ChatRequest:
        """The request for `prompt` after the turns `earlier` (those left out are skipped)."""
        tools = self.wire_tools()
        info = self.model_info
        thinking, effort = thinking_levels.fitted(info, self.thinking, self.effort)
        max_tokens, _ = thinking_levels.capped_max_tokens(info, self.options.max_tokens)
        request = ChatRequest(
            model=self.model,
            messages=(*history(earlier[self.omit_before :]), Message("user", prompt)),
            thinking=thinking,
            reasoning_effort=effort,
            system=self.system_prompt or self.settings.system_prompt,
            temperature=self.options.temperature,
            top_p=self.options.top_p,
            max_tokens=max_tokens,
            tools=tools,
            tool_choice="auto" if tools else None,
            tool_stream=bool(tools),  # the dialect sends it only where the model streams them
        )
        return request if self.structured is None else self.structured.shape(request)

    # --- tools ---------------------------------------------------------------------------

    @property
    def tool_settings(self) -> ToolSettings:
        return self.toolbox.settings if self.toolbox is not None else ToolSettings()

    def wire_tools(self) -> tuple[dict[str, Any], ...]:
        """The `tools` of the next request: the offered function tools, and Z.ai's web search
        on the Z.ai family of providers when it is on."""
        toolbox = self.toolbox
        if toolbox is None:
            return ()
        specs = [tool.spec.wire() for tool in toolbox.offered()]
        if toolbox.web_search and self.provider.thinking_param == "zai":
            specs.append(WEB_SEARCH_TOOL)
        return tuple(specs)

    def tools_offered(self, request: ChatRequest) -> bool:
        return self.toolbox is not None and any(
            spec.get("type") == "function" for spec in request.tools
        )

    def tool_title(self, wire_name: str) -> str:
        tool = self.toolbox.find(wire_name) if self.toolbox is not None else None
        return tool.spec.title if tool is not None else wire_name

    def begin_round(self) -> tuple[Turn, StreamRecorder]:
        """The assistant row and turn of the next model call in a tool loop."""
        turn = self._new_turn("assistant", "", "partial")
        recorder = self._recorder_for(turn)
        self._extend(turn)
        return turn, recorder

    def _answer(self) -> Exchange:
        request = self.request()
        _, note = thinking_levels.capped_max_tokens(self.model_info, self.options.max_tokens)
        if note is not None and note not in self._told:
            self._told.add(note)  # once per engine: the same cap is not news twice
            self._notices.append(note)
        turn = self._new_turn("assistant", "", "partial")
        recorder = self._recorder_for(turn)
        self._extend(turn)
        exchange = Exchange(self, request, turn, recorder)
        self.running = exchange
        return exchange

    def _new_turn(self, role: Role, content: str, status: Status = "complete") -> Turn:
        """A prompt's or an answer's turn as the store writes its row: the model asked, and
        the time it began (a prompt ends then too; an answer when its model call does)."""
        from glmchat.store.models import now_iso

        stamp = now_iso()
        return Turn(
            role=role,
            content=content,
            status=status,
            provider=self.provider_name,
            model=self.model,
            thinking=self.thinking,
            started=stamp,
            finished=stamp if role == "user" else None,
        )

    def _recorder_for(self, turn: Turn) -> StreamRecorder:
        from glmchat.store import StreamRecorder

        message_id = None
        if self._saves_below():
            message_id = self.save(
                "begin_assistant",
                self.conversation_id,
                model=self.model,
                provider=self.provider_name,
                thinking=self.thinking,
                **self._parent_arg(),
            )
        turn.message_id = message_id
        store = self.store if message_id is not None else None
        return StreamRecorder(store, message_id, interval=CHECKPOINT_SECONDS)

    def _ensure_conversation(self, first_prompt: str) -> None:
        from glmchat.store import title_from_prompt
        from glmchat.store.models import now_iso

        if self.title == NEW_TITLE:
            self.title = title_from_prompt(first_prompt) or "Untitled"
        if self.created is None:
            self.created = now_iso()
        if self.conversation_id is not None or self.store is None:
            return
        self.conversation_id = self.save(
            "create_conversation",
            model=self.model,
            provider=self.provider_name,
            thinking=self.thinking,
            system_prompt=self.system_prompt,
            title=self.title,
        )

    def _check_idle(self) -> None:
        """Before a request or a move in the tree: none running, and the whole conversation
        read (one opened from the end of its branch is read whole first), with what another
        process added since."""
        if self.busy:
            raise RuntimeError("an exchange is still running")
        self.read_whole()
        self.took_in = self.take_in_others()
        if self._rest is not None:
            # Sending or moving on the end alone would cut the model's history silently.
            raise HistoryUnavailable(
                "Only the end of this conversation could be read from the store, so nothing "
                "was sent or changed (the model would see a cut history). Try again; if it "
                "keeps failing, check the database with `glmchat sessions list`."
            )

    # --- saving --------------------------------------------------------------------------

    def save(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run a store write by name; a failure is remembered and told once, never fatal.
        Without a store (saving off, a read-only database) it does nothing."""
        if self.store is None:
            return None
        from glmchat.store import StoreError

        try:
            return getattr(self.store, method)(*args, **kwargs)
        except StoreError as exc:
            self.saving_failed(str(exc))
            return None

    def saving_failed(self, message: str) -> None:
        if self.save_error is None:
            self._pending_save_events.append(SaveFailed(message))
        self.save_error = message

    def take_save_events(self) -> list[SaveFailed]:
        events, self._pending_save_events = self._pending_save_events, []
        return events
