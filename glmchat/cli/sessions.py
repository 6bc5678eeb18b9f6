"""`glmchat sessions`: list, search, show, fork, export, import, rename and delete
conversations."""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime
from pathlib import Path

from rich.cells import cell_len

from glmchat.cli.cells import aligned, clip, clip_around
from glmchat.cli.errors import CliError
from glmchat.store import (
    SNIPPET_END,
    SNIPPET_START,
    Conversation,
    SessionStore,
    import_file,
    to_json,
    to_markdown,
    tree,
)
from glmchat.terminal_text import dumps_json, neutralize_controls

_IMPORT_HELP = (
    "import a JSON export (one conversation, or a JSON array of them) in one transaction: a "
    "malformed file imports nothing. An id that already exists is never overwritten: that "
    "conversation is imported under a new id, and the new id is printed."
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "sessions",
        description="Manage saved conversations. An ID may be any unique prefix of one.",
    )
    commands = parser.add_subparsers(dest="sessions_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="saved conversations, most recent first")
    listing.add_argument(
        "--search", metavar="TEXT", help="full-text search: the best matches, most recent first"
    )
    listing.add_argument(
        "--reasoning", action="store_true", help="with --search, also search the thinking"
    )
    listing.add_argument(
        "--limit", type=_positive_int, default=50, metavar="N", help="at most N (default 50)"
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=run_list)

    show = commands.add_parser(
        "show", help="print a conversation (its current branch; JSON: every branch)"
    )
    show.add_argument("id", metavar="ID")
    show.add_argument("--format", choices=("markdown", "json"), default="markdown")
    show.set_defaults(func=run_show)

    fork = commands.add_parser(
        "fork",
        help="copy a conversation's current branch into a new conversation",
        description="Make a new conversation from the current branch of ID, up to message N "
        "(1-based, as `sessions show` numbers them; default: the whole branch). Prints the "
        "new id.",
    )
    fork.add_argument("id", metavar="ID")
    fork.add_argument("--at", type=_positive_int, metavar="N", help="up to message N")
    fork.set_defaults(func=run_fork)

    export = commands.add_parser("export", help="write a conversation as Markdown or JSON")
    export.add_argument("id", metavar="ID")
    export.add_argument("--format", choices=("markdown", "json"), default="markdown")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default stdout)")
    export.set_defaults(func=run_export)

    imp = commands.add_parser("import", help="import a JSON export", description=_IMPORT_HELP)
    imp.add_argument("file", metavar="FILE")
    imp.set_defaults(func=run_import)

    rename = commands.add_parser("rename", help="set a conversation's title")
    rename.add_argument("id", metavar="ID")
    rename.add_argument("title", metavar="TITLE")
    rename.set_defaults(func=run_rename)

    remove = commands.add_parser("rm", help="delete a conversation")
    remove.add_argument("id", metavar="ID")
    remove.set_defaults(func=run_rm)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def open_store(*, writing: bool = False) -> SessionStore:
    """The user's store; a StoreError (exit 2 at the edge) says what is wrong with it.

    A database this process may not write is opened read-only, so it can still be listed,
    shown and exported; a reading command says so once. A writing command needs no note: its
    write fails with a line that says the file is read-only."""
    from glmchat import paths

    store = SessionStore(paths.database_path())
    if store.read_only and not writing:
        print(
            f"glmchat: note: {store.path} is read-only; reading works, saving is off",
            file=sys.stderr,
        )
    return store


_TITLE_MIN = 20  # cells a list's title keeps however long the model names are
_TITLE_NARROWEST = 8  # on a narrow terminal the title gives way too, down to this


def _one_line(text: str) -> str:
    """`text` as one line of a table: controls spelled out (`\\x1b`), whitespace runs (a line
    break, a tab) one space."""
    return " ".join(neutralize_controls(text).split())


def _local_time(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def run_list(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        if args.search and not store.fts_enabled and not args.json:
            print(
                "glmchat: note: this SQLite has no FTS5; using plain substring search "
                "(matching titles first, then the newest matches; not ranked)",
                file=sys.stderr,
            )
        found = store.list_conversations(
            limit=args.limit, search=args.search, include_reasoning=args.reasoning
        )
    finally:
        store.close()
    # The best matches (a search ranks them), listed as every list is: most recent first
    # (DESIGN.md). The picker in the chat keeps the ranked order.
    found.sort(key=lambda summary: summary.updated, reverse=True)
    if args.json:
        print(dumps_json([s.as_dict() for s in found], indent=2))
        return 0
    if not found:
        print("no matching conversations" if args.search else "no saved conversations")
        return 0
    # Measured in terminal cells as shown (a control character is `\x1b`, four cells; CJK two
    # each), so the columns line up and a line fits the terminal: a long model name is cut to
    # leave the title _TITLE_MIN cells, and the title (or a search's snippet under it) is cut to
    # what is left (on a terminal too narrow for that, 60 columns, the title gives way too).
    total = shutil.get_terminal_size((100, 24)).columns
    header = ("ID", "UPDATED", "MODEL", "MSGS")
    rows = [
        (
            _one_line(s.id),
            _one_line(_local_time(s.updated)),
            _one_line(s.full_model or ""),
            str(s.message_count),
        )
        for s in found
    ]
    others = sum(max(cell_len(row[i]) for row in (header, *rows)) for i in (0, 1, 3))
    model_width = max(len("MODEL"), total - others - _TITLE_MIN - 2 * 4)
    rows = [(id_, at, clip(model, model_width), n) for id_, at, model, n in rows]
    indent = others + max(cell_len(row[2]) for row in (header, *rows)) + 2 * 4
    title_width = max(_TITLE_NARROWEST, total - indent)
    titles = [clip(_one_line(s.title or "") or "(untitled)", title_width) for s in found]
    lines = aligned(
        [(*header, "TITLE"), *((*r, t) for r, t in zip(rows, titles, strict=True))], right=[3]
    )
    print(lines[0])
    for summary, line in zip(found, lines[1:], strict=True):
        print(line)
        if summary.snippet:
            # Cut around the hit, which may sit at the far end of a long snippet.
            snippet = clip_around(
                _one_line(summary.snippet), title_width, SNIPPET_START, SNIPPET_END
            )
            print(" " * indent + snippet)
    return 0


def _load(id_or_prefix: str) -> Conversation:
    store = open_store()
    try:
        return store.get_conversation(id_or_prefix)
    finally:
        store.close()


def _render(conv: Conversation, fmt: str) -> str:
    """One conversation as the JSON export document (every branch) or as Markdown for people
    (the current branch, the others listed at the end)."""
    return to_json(conv) if fmt == "json" else to_markdown(conv)


def run_show(args: argparse.Namespace) -> int:
    conv = _load(args.id)
    sys.stdout.write(_render(conv, args.format))
    # Each leaf off the current branch is a branch (one subtree may hold several).
    others = sum(leaves for _, _, leaves in tree.other_branches(conv))
    if others and args.format == "markdown":
        branches = "other branch" if others == 1 else "other branches"
        print(
            f"glmchat: {others} {branches}: use the TUI's [ and ] or `glmchat sessions fork`",
            file=sys.stderr,
        )
    return 0


def run_fork(args: argparse.Namespace) -> int:
    store = open_store(writing=True)
    try:
        conv = store.get_conversation(args.id)
        branch = tree.path(conv)
        if not branch:
            raise CliError(f"{conv.id} has no messages on its current branch to fork", 2)
        at = len(branch) if args.at is None else args.at
        if at > len(branch):
            raise CliError(
                f"--at {at} is past the end: the current branch of {conv.id} has "
                f"{len(branch)} messages (see `glmchat sessions show {conv.id}`)",
                2,
            )
        new_id = store.fork(conv.id, branch[at - 1].id)
    finally:
        store.close()
    print(new_id)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from glmchat import paths

    conv = _load(args.id)
    conv_id, text = conv.id, _render(conv, args.format)
    if not args.output or args.output == "-":
        sys.stdout.write(text)
        return 0
    target = Path(args.output).expanduser()
    if not target.parent.is_dir():
        # A typo in a path must not become a tree of new directories.
        raise CliError(
            f"cannot write {target}: the directory {target.parent} does not exist; "
            "create it first or pick another path",
            2,
        )
    if target.is_dir():
        raise CliError(f"cannot write {target}: it is a directory; give a file name", 2)
    try:
        # Atomic, and private (0600) like the database: an export holds the whole conversation.
        paths.write_atomic(target, text.encode("utf-8"))
    except paths.FileWriteError as exc:  # one line: the file, what went wrong, what to do
        raise CliError(str(exc), 2) from exc
    print(f"exported {conv_id} to {target}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    store = open_store(writing=True)
    try:
        results = import_file(store, Path(args.file).expanduser())
    finally:
        store.close()
    for original, stored in results:
        if original == stored:
            print(f"imported {stored}")
        else:
            print(f"imported {original} as {stored} (id {original} already exists)")
    return 0


def run_rename(args: argparse.Namespace) -> int:
    title = " ".join(args.title.split())
    if not title:
        raise CliError("the title is empty", 2)
    store = open_store(writing=True)
    try:
        conversation_id = store.resolve_id(args.id)
        store.rename(conversation_id, title)
    finally:
        store.close()
    print(f"renamed {conversation_id}: {title}")
    return 0


def run_rm(args: argparse.Namespace) -> int:
    store = open_store(writing=True)
    try:
        conv = store.get_conversation(args.id)
        store.delete(conv.id)
    finally:
        store.close()
    print(f"deleted {conv.id} ({conv.title or 'untitled'}, {len(conv.messages)} messages)")
    return 0
