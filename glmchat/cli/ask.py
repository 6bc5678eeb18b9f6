"""`glmchat ask`: one exchange streamed to stdout, the same backend and store as the TUI."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Any

from glmchat.backend.events import ContentDelta, ReasoningDelta, RetryScheduled
from glmchat.cli.ask_input import flag_values, read_prompt
from glmchat.cli.errors import EXIT_STATUS_BY_KIND, OK, CliError, exit_status
from glmchat.engine.events import ExchangeResult, SaveFailed, retry_announcement
from glmchat.terminal_text import dumps_json

if TYPE_CHECKING:
    from glmchat.engine import Exchange


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        raise CliError(f"--base-url {url!r} is not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise CliError(f"--base-url {url!r} must be an http:// or https:// URL with a host")


def run(args: argparse.Namespace) -> int:
    from glmchat.config import load_settings
    from glmchat.credentials import CredentialStore, MissingKeyError, require_key
    from glmchat.engine import ConversationEngine, RequestOptions

    if args.base_url is not None:
        check_base_url(args.base_url)
    temperature, max_tokens = flag_values(args)
    prompt = read_prompt(args.prompt, sys.stdin)
    if not prompt.strip():
        raise CliError("the prompt is empty")
    # A config, credentials or store problem goes up to the edge as it is (one line, exit 2).
    settings = load_settings()
    for warning in settings.warnings:
        print(f"glmchat: warning: {warning}", file=sys.stderr)
    store = None if args.no_save else _open_store(required=bool(args.cont or args.session))
    conversation = _find_conversation(store, args)
    # A read-only database gives the history (for -c and --session); nothing is written.
    writable = store if store is not None and not store.read_only else None
    options = RequestOptions(
        temperature if temperature is not None else settings.temperature,
        settings.top_p,
        max_tokens if max_tokens is not None else settings.max_tokens,
    )
    clients: dict[str, Any] = {}
    if conversation is not None:
        engine = ConversationEngine.resume(
            settings, writable, clients.__getitem__, conversation, options=options
        )
        if args.model:
            provider, model = settings.resolve_model(args.model)
            engine.set_model(provider.name, model)
    else:
        provider, model = settings.resolve_model(args.model)
        engine = ConversationEngine(
            settings,
            writable,
            clients.__getitem__,
            provider=provider.name,
            model=model,
            system_prompt=args.system,
            options=options,
        )
    credentials = CredentialStore()
    try:
        secret = require_key(engine.provider, credentials)
    except MissingKeyError:
        if not args.base_url:
            raise
        # A server at a given URL may need no key; it will say so if it does.
        secret = None
        if not args.json:
            print(
                f"glmchat: note: no API key for {engine.provider_name}; sending without one",
                file=sys.stderr,
            )
    if args.think is not None and args.think != engine.thinking:
        engine.set_thinking(args.think)
    if args.system is not None:
        engine.system_prompt = args.system  # this exchange's; a new conversation keeps it
    from glmchat.backend.openai_compat import OpenAICompatClient

    client = OpenAICompatClient(
        engine.provider, secret.reveal() if secret else None, base_url=args.base_url
    )
    clients[engine.provider_name] = client
    show = _Printer(json_mode=args.json, show_thinking=args.show_thinking)
    exchange = engine.send(prompt)
    try:
        result = asyncio.run(_stream(exchange, client, show))
    except KeyboardInterrupt:
        result = exchange.cancel()
    show.end()
    if store is not None:
        store.close()
    if args.json:
        session_id = engine.conversation_id if writable is not None else None
        print(dumps_json(_result(session_id, engine.full_model, result)))
    return _exit_status(result)


async def _stream(exchange: Exchange, client: Any, show: _Printer) -> ExchangeResult:
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
        async for event in exchange:
            kind = type(event)
            if kind is ContentDelta:
                show.content(event.text)  # type: ignore[union-attr]
            elif kind is ReasoningDelta:
                show.reasoning(event.text)  # type: ignore[union-attr]
            elif kind is SaveFailed:
                print(f"glmchat: could not save the conversation: {event}", file=sys.stderr)
            elif kind is RetryScheduled and not show.json_mode:
                # Progress for a person; with --json, stderr carries only the final outcome.
                print(f"glmchat: {retry_announcement(event)}", file=sys.stderr)  # type: ignore[arg-type]
    except asyncio.CancelledError:
        exchange.cancel()
    finally:
        await client.aclose()
    return exchange.cancel() if exchange.result is None else exchange.result


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
            raise
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
            raise CliError("--continue and --session need the session store; drop --no-save")
        return None
    if args.session:
        return store.get_conversation(args.session)
    if args.cont:
        conversation = store.most_recent()
        if conversation is None:
            raise CliError("no saved conversation to continue; start one without -c")
        return conversation
    return None


def _result(session_id: str | None, model: str, outcome: ExchangeResult) -> dict[str, Any]:
    error = outcome.error.as_dict() if outcome.error else None
    if outcome.cancelled and error is None:
        error = {
            "kind": "interrupted",
            "message": "Stopped by the user; the partial answer is kept.",
            "http_status": None,
            "code": None,
            "retryable": True,
        }
    result: dict[str, Any] = {
        "session_id": session_id,
        "model": model,
        "content": outcome.content,
        "reasoning": outcome.reasoning,
        "finish_reason": outcome.finish_reason,
        "usage": outcome.usage.as_dict() if outcome.usage else None,
        "error": error,
    }
    if outcome.tool_calls:
        result["tool_calls"] = [
            {
                "id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
                "status": JSON_STATUS.get(call.state, call.state),
                "result": call.result,
                "seconds": call.seconds,
            }
            for call in outcome.tool_calls
        ]
    return result


# DESIGN.md's statuses: a call that never ran (no tools on, rounds used up) was refused.
JSON_STATUS = {"not_run": "denied", "waiting": "cancelled", "running": "cancelled"}


def _exit_status(outcome: ExchangeResult) -> int:
    if outcome.error is not None:
        print(f"glmchat: {outcome.error.message}", file=sys.stderr)
        return exit_status(outcome.error)
    if outcome.cancelled:
        print(
            "glmchat: stopped before the answer ended; the partial answer is kept.", file=sys.stderr
        )
        return EXIT_STATUS_BY_KIND["interrupted"]  # as the JSON says
    if outcome.note:
        print(f"glmchat: note: {outcome.note}", file=sys.stderr)
    return OK
