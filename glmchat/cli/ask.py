"""`glmchat ask`: one exchange streamed to stdout, the same backend and store as the TUI."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from glmchat.cli.errors import EXIT_STATUS_BY_KIND, OK, CliError, exit_status
from glmchat.terminal_text import dumps_json

if TYPE_CHECKING:
    # Loaded by `run`, not when the parser is built: every glmchat command builds it, and these
    # (asyncio, the engine, the tools) would cost every other command ~40 ms of start-up.
    from glmchat.cli.ask_run import AskRun
    from glmchat.engine.events import ExchangeResult


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ask",
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
    saved.add_argument(
        "--session", metavar="ID", type=_session_id, help="continue the conversation ID"
    )
    p.add_argument("--no-save", action="store_true", help="save nothing")
    tools = p.add_mutually_exclusive_group()
    tools.add_argument(
        "--tools",
        dest="tools",
        action="store_true",
        default=None,
        help="offer the configured tools (the default when any are configured)",
    )
    tools.add_argument("--no-tools", dest="tools", action="store_false", help="offer no tools")
    p.add_argument("--yes", action="store_true", help="approve every tool call of this run")
    p.add_argument(
        "--schema",
        metavar="SCHEMA",
        help="answer with one JSON document valid against SCHEMA (a file or inline JSON Schema)",
    )
    p.set_defaults(func=run)


def check_base_url(url: str) -> None:
    """--base-url must be an http(s) URL with a host: anything else is a usage error."""
    import httpx

    from glmchat.secret_values import mask_text, shown_url

    shown = shown_url(url)  # a password or token in it is not echoed
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise CliError(f"--base-url {shown!r} is not a valid URL ({mask_text(str(exc))})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise CliError(f"--base-url {shown!r} must be an http:// or https:// URL with a host")


def run(args: argparse.Namespace) -> int:
    from glmchat.config import load_settings
    from glmchat.credentials import CredentialStore, MissingKeyError, require_key
    from glmchat.engine import ConversationEngine, RequestOptions

    if args.base_url is not None:
        check_base_url(args.base_url)
    schema = None
    if args.schema is not None:
        from glmchat.engine.structured import load_schema

        schema = load_schema(args.schema)  # a bad one is a usage error (exit 2), said first
    import asyncio

    from glmchat.cli.ask_input import flag_values, read_prompt
    from glmchat.cli.ask_run import AskRun, Printer
    from glmchat.cli.ask_tools import AskTools, TerminalApprovals

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
    if args.think is not None:
        # On a model that always thinks: its highest or lowest effort, and a note saying so.
        note = engine.set_thinking(args.think)
        if note and not args.json:
            print(f"glmchat: note: {note}", file=sys.stderr)
    if args.system is not None:
        engine.system_prompt = args.system  # this exchange's; a new conversation keeps it
    tools = AskTools(settings, engine.provider, args.tools)
    tools.check()  # --tools with none configured: said before anything is sent
    from glmchat.coding_plan import first_use_notice

    notice = first_use_notice(engine.provider_name)
    if notice:
        print(f"glmchat: note: {notice}", file=sys.stderr)
    from glmchat.backend.openai_compat import OpenAICompatClient

    client = OpenAICompatClient(
        engine.provider, secret.reveal() if secret else None, base_url=args.base_url
    )
    clients[engine.provider_name] = client
    if (refused := _does_not_fit(engine, prompt, args)) is not None:
        if store is not None:
            store.close()
        return refused
    if conversation is not None and not args.json:
        from glmchat.cli.branch_end import say_branch_end

        say_branch_end(engine.turns)  # a prompt with no answer at the end of the branch
    printer = Printer(
        json_mode=args.json, show_thinking=args.show_thinking, hold_answer=schema is not None
    )
    approvals = TerminalApprovals(sys.stdin, quiet=args.json)
    ask_run = AskRun(engine, client, printer, tools, approvals, schema=schema, approve_all=args.yes)
    try:
        result = asyncio.run(ask_run.main(prompt))
    except (KeyboardInterrupt, asyncio.CancelledError):
        cancelled = ask_run.cancel()
        if cancelled is None:  # stopped before anything was sent
            raise KeyboardInterrupt from None
        result = cancelled
    printer.end()
    for note in engine.take_notices():  # a max_tokens above the model's output, capped
        if not args.json:
            print(f"glmchat: note: {note}", file=sys.stderr)
    for line in result.spending.over:  # every time: each ask is on its own
        print(f"glmchat: budget: {line}", file=sys.stderr)
    if store is not None:
        store.close()
    problem = _schema_problem(ask_run)
    if args.json:
        session_id = engine.conversation_id if writable is not None else None
        doc = _result(session_id, engine.full_model, result)
        if printer.sources.sources:
            doc["sources"] = printer.sources.as_json()
        if schema is not None:
            _with_schema(doc, ask_run, problem)
        print(dumps_json(doc))
    elif ask_run.checked and problem is None:
        print(dumps_json(ask_run.document, indent=2))
    if problem is not None:
        print(f"glmchat: {problem}", file=sys.stderr)
        return EXIT_STATUS_BY_KIND["schema"]
    return _exit_status(result)


def _does_not_fit(engine: Any, prompt: str, args: argparse.Namespace) -> int | None:
    """Exit 1 before sending a request that would not fit the model's context window (the
    provider would refuse it); None when it fits. Nothing is saved."""
    from glmchat.engine.budget import DoesNotFit

    try:
        engine.check_fit(prompt)
    except DoesNotFit as exc:
        hint = (
            "Start a new conversation (leave out -c/--session), or pick a model with a larger "
            "window (`glmchat models`); in the chat, the oldest turns can be left out."
        )
        if exc.omit_before is None:  # no history makes room: the prompt alone is over
            hint = "Shorten it, or pick a model with a larger window (`glmchat models`)."
        if args.json:
            error = {
                "kind": "context_length",
                "message": f"{exc} {hint}",
                "http_status": None,
                "code": None,
                "retryable": False,
            }
            doc = {
                "session_id": engine.conversation_id,
                "model": engine.full_model,
                "content": "",
                "reasoning": "",
                "finish_reason": None,
                "usage": None,
                "error": error,
            }
            print(dumps_json(doc))
        print(f"glmchat: {exc} {hint}", file=sys.stderr)
        return EXIT_STATUS_BY_KIND["context_length"]
    return None


def _schema_problem(ask_run: AskRun) -> str | None:
    """The one line for an answer that still does not validate after the repair round."""
    if not ask_run.checked or not ask_run.schema_errors:
        return None
    if ask_run.not_applicable is not None:  # the schema failed, not the answer
        return ask_run.not_applicable
    errors = ask_run.schema_errors
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"the answer does not match the schema, also after a repair round: {errors[0]}{more}"


def _with_schema(doc: dict[str, Any], ask_run: AskRun, problem: str | None) -> None:
    """--json with --schema: `content` is the document (as JSON text) when it validates;
    otherwise the error is kind `schema` with every validation error."""
    if problem is not None:
        doc["error"] = {
            "kind": "schema",
            "message": problem,
            "http_status": None,
            "code": None,
            "retryable": False,
            "errors": list(ask_run.schema_errors),
        }
    elif ask_run.checked:
        doc["content"] = json.dumps(ask_run.document, ensure_ascii=False)


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


def _session_id(text: str) -> str:
    # An empty ID (`--session "$ID"` with ID unset) would quietly start a new conversation.
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "an ID is needed (`glmchat sessions list` shows them; -c continues the latest)"
        )
    return text.strip()


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
            "message": "Stopped by the user; "
            + ("the partial answer is kept." if outcome.content else "no answer had arrived."),
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
        "usage": _usage(outcome),
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


def _usage(outcome: ExchangeResult) -> dict[str, Any] | None:
    """The usage object, with what the exchange cost (null when unknown) and whence."""
    if outcome.usage is None:
        return None
    return {
        **outcome.usage.as_dict(),
        "cost": outcome.cost,
        "cost_source": outcome.cost_source,
    }


# DESIGN.md's statuses: a call that never ran (no tools on, rounds used up) was refused.
JSON_STATUS = {"not_run": "denied", "waiting": "cancelled", "running": "cancelled"}


def _exit_status(outcome: ExchangeResult) -> int:
    if outcome.error is not None:
        print(f"glmchat: {outcome.error.message}", file=sys.stderr)
        return exit_status(outcome.error)
    if outcome.cancelled:
        kept = "the partial answer is kept" if outcome.content else "no answer had arrived"
        print(f"glmchat: stopped before the answer ended; {kept}.", file=sys.stderr)
        return EXIT_STATUS_BY_KIND["interrupted"]  # as the JSON says
    if outcome.note:
        print(f"glmchat: note: {outcome.note}", file=sys.stderr)
    return OK
