"""`glmchat ask`: one exchange streamed to stdout, the same backend and store as the TUI."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from glmchat.backend.errors import ProviderError
from glmchat.backend.events import (
    ChatRequest,
    ContentDelta,
    Finish,
    Message,
    ReasoningDelta,
    RetryScheduled,
    ToolCall,
    Usage,
)
from glmchat.backend.finish import finish_note
from glmchat.cli.ask_input import flag_values, read_prompt
from glmchat.cli.errors import CliError
from glmchat.sentences import join_sentences
from glmchat.terminal_text import dumps_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ask",
        help="one exchange, streamed to stdout",
        description="Send one prompt and stream the answer to stdout. PROMPT '-' reads the "
        "prompt from stdin; with PROMPT and piped stdin, both are sent: the instruction, then "
        "the piped text as a fenced block.",
    )
    p.add_argument("prompt", nargs="?", metavar="PROMPT")
    p.add_argument("-m", "--model", help="PROVIDER/MODEL, e.g. openrouter/z-ai/glm-4.5-air:free")
    think = p.add_mutually_exclusive_group()
    think.add_argument("--think", dest="think", action="store_true", default=None)
    think.add_argument("--no-think", dest="think", action="store_false")
    p.add_argument("--show-thinking", action="store_true", help="stream reasoning to stderr")
    p.add_argument("--system", metavar="TEXT", help="system prompt")
    p.add_argument("--base-url", metavar="URL", help="override the provider's base URL")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    # Checked in `run` by the config's own rules (one line, exit 2), not by argparse types.
    p.add_argument("--temperature", metavar="T", help="sampling temperature, 0 to 2")
    p.add_argument("--max-tokens", metavar="N", help="the longest answer, in tokens")
    saved = p.add_mutually_exclusive_group()
    saved.add_argument(
        "-c",
        "--continue",
        dest="cont",
        action="store_true",
        help="continue the most recent conversation",
    )
    saved.add_argument("--session", metavar="ID", help="continue the conversation ID")
    p.add_argument("--no-save", action="store_true", help="save nothing")
    p.set_defaults(func=run)


def check_base_url(url: str) -> None:
    """--base-url must be an http(s) URL with a host: anything else is a usage error."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise CliError(f"--base-url {url!r} is not a valid URL ({exc})", 2) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise CliError(f"--base-url {url!r} must be an http:// or https:// URL with a host", 2)


@dataclass
class Outcome:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    error: ProviderError | None = None
    cancelled: bool = False
    tool_calls: tuple[ToolCall, ...] = ()


def run(args: argparse.Namespace) -> int:
    from glmchat.config import ConfigError, load_settings
    from glmchat.credentials import CredentialStore, MissingKeyError, require_key

    if args.base_url is not None:
        check_base_url(args.base_url)
    temperature, max_tokens = flag_values(args)
    prompt = read_prompt(args.prompt, sys.stdin)
    if not prompt.strip():
        raise CliError("the prompt is empty", 2)
    try:
        settings = load_settings()
        for warning in settings.warnings:
            print(f"glmchat: warning: {warning}", file=sys.stderr)
        store = None if args.no_save else _open_store(required=bool(args.cont or args.session))
        conversation = _find_conversation(store, args)
        model_name = args.model or (
            f"{conversation.provider}/{conversation.model}" if conversation else None
        )
        provider, model = settings.resolve_model(model_name)
        credentials = CredentialStore()
        try:
            secret = require_key(provider, credentials)
        except MissingKeyError:
            if not args.base_url:
                raise
            # A server at a given URL may need no key; it will say so if it does.
            secret = None
            if not args.json:
                print(
                    f"glmchat: note: no API key for {provider.name}; sending without one",
                    file=sys.stderr,
                )
    except (ConfigError, MissingKeyError) as exc:
        raise CliError(str(exc), 2) from None
    thinking = (
        args.think
        if args.think is not None
        else (conversation.thinking if conversation else settings.thinking)
    )
    system = (
        args.system
        if args.system is not None
        else (
            conversation.system_prompt
            if conversation and conversation.system_prompt
            else settings.system_prompt
        )
    )
    history: list[Message] = []
    if store is not None and conversation is not None:
        history = list(store.history(conversation.id))
    if store is not None and store.read_only:
        # History could be read (for -c and --session); nothing can be written.
        store.close()
        store = conversation = None
    request = ChatRequest(
        model=model,
        messages=(*history, Message("user", prompt)),
        thinking=thinking,
        system=system,
        temperature=temperature if temperature is not None else settings.temperature,
        top_p=settings.top_p,
        max_tokens=max_tokens if max_tokens is not None else settings.max_tokens,
    )
    saver = _Saver(store, conversation, provider.name, model, thinking, system, prompt)
    full_model = f"{provider.name}/{model}"
    outcome = Outcome()
    from glmchat.backend.openai_compat import OpenAICompatClient

    client = OpenAICompatClient(
        provider, secret.reveal() if secret else None, base_url=args.base_url
    )
    show = _Printer(json_mode=args.json, show_thinking=args.show_thinking)
    try:
        asyncio.run(_stream(client, request, outcome, saver, show))
    except KeyboardInterrupt:
        outcome.cancelled = True
    show.end()
    saver.finish(outcome)
    if args.json:
        print(dumps_json(_result(saver.session_id, full_model, outcome)))
    return _exit_status(outcome)


async def _stream(
    client: Any, request: ChatRequest, outcome: Outcome, saver: Any, show: Any
) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    # SIGTERM (a closed terminal, a kill) cancels like Ctrl-C, so the partial answer is saved.
    if task is not None:
        try:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
            loop.add_signal_handler(signal.SIGHUP, task.cancel)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        async for event in client.stream(request):
            if isinstance(event, ContentDelta):
                outcome.content.append(event.text)
                saver.content(event.text)
                show.content(event.text)
            elif isinstance(event, ReasoningDelta):
                outcome.reasoning.append(event.text)
                saver.reasoning(event.text)
                show.reasoning(event.text)
            elif isinstance(event, Usage):
                outcome.usage = event
            elif isinstance(event, Finish):
                outcome.finish_reason = event.reason
                outcome.tool_calls = event.tool_calls
            elif isinstance(event, RetryScheduled) and not show.json_mode:
                # Progress for a person; with --json, stderr carries only the final outcome.
                retrying = (
                    f"Retrying in {event.delay:.1f} s "
                    f"(attempt {event.attempt + 1} of {event.max_attempts})"
                )
                print(f"glmchat: {join_sentences(event.error, retrying)}", file=sys.stderr)
    except ProviderError as exc:
        outcome.error = exc
        outcome.finish_reason = exc.finish_reason
        outcome.tool_calls = exc.tool_calls
    except asyncio.CancelledError:
        outcome.cancelled = True
    finally:
        await client.aclose()


class _Printer:
    """Streams the answer to stdout (and reasoning to stderr) unless --json collects it."""

    def __init__(self, *, json_mode: bool, show_thinking: bool) -> None:
        self.json_mode = json_mode
        self.show_thinking = show_thinking and not json_mode
        self.wrote_reasoning = False
        self.last = ""

    def content(self, text: str) -> None:
        if self.json_mode:
            return
        if self.wrote_reasoning:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.wrote_reasoning = False
        # On a terminal, sys.stdout neutralises escape sequences (see terminal_safe_stdio).
        sys.stdout.write(text)
        sys.stdout.flush()
        self.last = text

    def reasoning(self, text: str) -> None:
        if not self.show_thinking:
            return
        sys.stderr.write(text)
        sys.stderr.flush()
        self.wrote_reasoning = True

    def end(self) -> None:
        if self.wrote_reasoning:
            sys.stderr.write("\n")
        if not self.json_mode and self.last and not self.last.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()


def _open_store(*, required: bool) -> Any:
    """The session store; if it cannot be opened the answer is still given, unsaved."""
    from glmchat import paths
    from glmchat.store import SessionStore, StoreError

    try:
        store = SessionStore(paths.database_path())
    except StoreError as exc:
        if required:
            raise CliError(str(exc), 2) from None
        print(f"glmchat: warning: this exchange will not be saved: {exc}", file=sys.stderr)
        return None
    if store.read_only:
        print(
            f"glmchat: warning: {store.path} is read-only; this exchange will not be saved",
            file=sys.stderr,
        )
    return store


def _find_conversation(store: Any, args: argparse.Namespace) -> Any:
    if store is None:
        if args.cont or args.session:
            raise CliError("--continue and --session need the session store; drop --no-save", 2)
        return None
    from glmchat.store import StoreError

    try:
        if args.session:
            return store.get_conversation(args.session)
        if args.cont:
            conversation = store.most_recent()
            if conversation is None:
                raise CliError("no saved conversation to continue; start one without -c", 2)
            return conversation
    except StoreError as exc:
        raise CliError(str(exc), 2) from None
    return None


class _Saver:
    """Saves the exchange while it streams; a failing disk is reported once, never fatal."""

    def __init__(
        self,
        store: Any,
        conversation: Any,
        provider: str,
        model: str,
        thinking: bool,
        system: str | None,
        prompt: str,
    ) -> None:
        self.store = store
        self.session_id: str | None = conversation.id if conversation else None
        self.recorder: Any = None
        if store is None:
            return
        from glmchat.store import StoreError, StreamRecorder

        try:
            if self.session_id is None:
                self.session_id = store.create_conversation(
                    model=model, provider=provider, thinking=thinking, system_prompt=system
                )
            else:
                store.update_conversation(
                    self.session_id, model=model, provider=provider, thinking=thinking
                )
            store.add_message(
                self.session_id, "user", prompt, model=model, provider=provider, thinking=thinking
            )
            message_id = store.begin_assistant(
                self.session_id, model=model, provider=provider, thinking=thinking
            )
            self.recorder = StreamRecorder(store, message_id)
        except StoreError as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        print(f"glmchat: could not save the conversation: {exc}", file=sys.stderr)
        self.recorder = None

    def content(self, text: str) -> None:
        if self.recorder is not None:
            self._guard(self.recorder.add_content, text)

    def reasoning(self, text: str) -> None:
        if self.recorder is not None:
            self._guard(self.recorder.add_reasoning, text)

    def _guard(self, fn: Any, *a: Any, **kw: Any) -> None:
        from glmchat.store import StoreError

        try:
            fn(*a, **kw)
        except StoreError as exc:
            self._warn(exc)

    def finish(self, outcome: Outcome) -> None:
        if self.recorder is None:
            return
        if outcome.cancelled:
            status = "cancelled"
        elif outcome.error is not None:
            status = "partial" if outcome.content else "error"
        else:
            status = "complete"
        self._guard(
            self.recorder.finish,
            status=status,
            usage=outcome.usage.as_dict() if outcome.usage else None,
            error=outcome.error.message if outcome.error else None,
            finish_reason=outcome.finish_reason,
        )
        if self.store is not None:
            self.store.close()


def _result(session_id: str | None, model: str, outcome: Outcome) -> dict[str, Any]:
    error = outcome.error.as_dict() if outcome.error else None
    if outcome.cancelled and error is None:
        error = {
            "kind": "interrupted",
            "message": "Stopped by the user; the partial answer is kept.",
            "http_status": None,
            "code": None,
            "retryable": True,
        }
    result = {
        "session_id": session_id,
        "model": model,
        "content": "".join(outcome.content),
        "reasoning": "".join(outcome.reasoning),
        "finish_reason": outcome.finish_reason,
        "usage": outcome.usage.as_dict() if outcome.usage else None,
        "error": error,
    }
    if outcome.tool_calls:
        # glmchat runs no tools yet: each call is reported, never dropped, as "denied" (the
        # contract's word for a call that was not run), with no result and no time.
        result["tool_calls"] = [
            {
                "id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "status": "denied",
                "result": None,
                "seconds": None,
            }
            for call in outcome.tool_calls
        ]
    return result


def _exit_status(outcome: Outcome) -> int:
    if outcome.error is not None:
        print(f"glmchat: {outcome.error.message}", file=sys.stderr)
        return outcome.error.exit_code
    if outcome.cancelled:
        print(
            "glmchat: stopped before the answer ended; the partial answer is kept.", file=sys.stderr
        )
        return 6  # `interrupted`, as the JSON says
    note = finish_note(outcome.finish_reason, tool_calls=bool(outcome.tool_calls))
    if note:
        print(f"glmchat: note: {note}", file=sys.stderr)
    return 0
