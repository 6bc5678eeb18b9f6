"""Conversations as Markdown (for people) and JSON (round-trips through importing.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import Field, fields
from typing import Any

from glmchat.store import tree
from glmchat.store.models import Conversation, StoredMessage, qualified_model
from glmchat.store.rows import CONVERSATION_FIELDS
from glmchat.terminal_text import dumps_json, neutralize_controls

FORMAT = "glmchat-conversation"
# 2: the conversation tree (each message's `id` and `parent`, the conversation's
# `current_leaf`); a version-1 document is one linear branch.
FORMAT_VERSION = 2
# A message in a document holds its `id` and `parent` (the tree), then every other stored
# field but where it sits (which the document's nesting and order say), in the order
# StoredMessage declares them.
EXPORTED_FIELDS: tuple[Field[Any], ...] = tuple(
    f
    for f in fields(StoredMessage)
    if f.name not in ("id", "conversation_id", "position", "parent_id")
)
_EXPORTED_NAMES = tuple(f.name for f in EXPORTED_FIELDS)

_STATUS_NOTES = {
    "partial": "partial: the answer stopped before its end",
    # Stopped by glmchat: escape, Ctrl-C in `ask`, a pane closed, the app quit or its terminal
    # closed (the answer does not say which: "by the user" was wrong for a closed terminal).
    "cancelled": "cancelled: stopped before its end (escape, Ctrl-C, or glmchat closed)",
    "error": "error",
}


def to_document(conv: Conversation) -> dict[str, Any]:
    """The JSON export of one conversation, as a dict.

    Messages are numbered 1, 2, … in the order they were added (`id`), each naming the
    message it follows (`parent`, null for a root): numbers of the document's own, so an
    export reads the same from any database and after a round trip."""
    number = {m.id: n for n, m in enumerate(conv.messages, 1)}
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        **{name: getattr(conv, name) for name in CONVERSATION_FIELDS},
        "messages": [
            {
                "id": number[m.id],
                "parent": number.get(m.parent_id) if m.parent_id is not None else None,
                **{name: getattr(m, name) for name in _EXPORTED_NAMES},
            }
            for m in conv.messages
        ],
    }
    leaf = conv.current_leaf
    document["current_leaf"] = number.get(leaf) if leaf is not None else None
    return document


def to_json(conv: Conversation) -> str:
    # dumps_json: exact, and no raw control character even for C1 or bidi text, so a shown
    # or exported document is safe on a terminal and still parses to the same conversation.
    return dumps_json(to_document(conv), indent=2) + "\n"


def _when(stamp: str | None) -> str:
    # 2026-11-22T19:30:00.123Z -> 2026-11-22 19:30:00 UTC
    if not stamp:
        return "unknown"
    return stamp.replace("T", " ")[:19] + (" UTC" if stamp.endswith("Z") else "")


def _model_name(provider: str | None, model: str | None) -> str:
    return qualified_model(provider, model) or "unknown model"


def to_markdown(conv: Conversation) -> str:
    """A readable transcript; each answer's reasoning sits in a folded <details> block."""
    thinking = {True: " (thinking on)", False: " (thinking off)", None: ""}[conv.thinking]
    lines = [
        f"# {conv.title or 'Untitled conversation'}",
        "",
        f"- Model: {_model_name(conv.provider, conv.model)}{thinking}",
        f"- Created: {_when(conv.created)}",
        f"- Updated: {_when(conv.updated)}",
        f"- ID: {conv.id}",
    ]
    total = _total_cost(conv.messages)
    if total is not None:
        lines.append(f"- Cost: {total}")
    lines.append("")
    if conv.system_prompt:
        lines += ["## System prompt", "", conv.system_prompt, ""]
    branch = tree.path(conv)
    first_source = 1  # an answer's sources are numbered on across its tool rounds, as shown
    for m in branch:
        if m.role == "user":
            first_source = 1
        lines += _message_markdown(m, first_source)
        first_source += len(m.web_search or ())
    lines += _other_branches(conv, branch)
    return "\n".join(lines).rstrip() + "\n"


def _other_branches(conv: Conversation, branch: tuple[StoredMessage, ...]) -> list[str]:
    """The branches the transcript leaves out, one line each: where each leaves the current
    branch, how it starts, and how many messages (and branches, when more than one) it holds."""
    others = tree.other_branches(conv)
    if not others:
        return []
    where = {m.id: number for number, m in enumerate(branch, 1)}
    lines = ["## Other branches", ""]
    for start, size, leaves in others:
        after = where.get(start.parent_id) if start.parent_id is not None else None
        place = f"after message {after}" if after else "at the start"
        text = " ".join(start.content.split())
        who = {"user": "prompt", "assistant": "answer"}.get(start.role, start.role)
        calls = [str(c.get("name", "?")) for c in start.tool_calls or () if isinstance(c, dict)]
        if not text and calls:  # a round that only called tools: say which
            who, text = "tool calls", ", ".join(calls)
        shown = text if len(text) <= 40 else text[:39] + "…"
        noun = "message" if size == 1 else "messages"
        count = f"{size} {noun}" + (f", {leaves} branches" if leaves > 1 else "")
        lines.append(f"- {place}: {who} {json.dumps(shown, ensure_ascii=False)} ({count})")
    return [*lines, ""]


def _total_cost(messages: tuple[StoredMessage, ...]) -> str | None:
    """The conversation's cost, or None when no answer has a figure."""
    from glmchat.costs import counts_as_answer, format_usd

    answers = [m for m in messages if counts_as_answer(m)]
    known = [m.cost for m in answers if m.cost is not None]
    if not known:
        return None
    text = format_usd(sum(known))
    unknown = len(answers) - len(known)
    if unknown:
        return f"at least {text} ({unknown} of {len(answers)} answers at no known price)"
    return text


def _cost_line(m: StoredMessage) -> list[str]:
    from glmchat.costs import format_usd

    if m.cost is None:
        return []
    how = "as the provider reported" if m.cost_source == "provider" else "from the model's prices"
    return [f"*Cost: {format_usd(m.cost)} ({how})*", ""]


def _message_markdown(m: StoredMessage, first_source: int = 1) -> list[str]:
    if m.role == "tool":
        return _tool_markdown(m)
    if m.role == "user":
        heading = f"## You · {_when(m.started)}"
    elif m.role == "assistant":
        heading = f"## {_model_name(m.provider, m.model)} · {_when(m.started)}"
    else:
        heading = "## System"
    lines = [heading, ""]
    if m.reasoning:
        # Blank lines around the body let Markdown renderers format the reasoning inside.
        lines += ["<details><summary>Thinking</summary>", "", m.reasoning.strip(), "", "</details>"]
        lines.append("")
    if m.content:
        lines += [_cited(m, first_source).rstrip(), ""]
    lines += _sources_markdown(m.web_search or (), first_source)
    for call in m.tool_calls or ():
        lines += [f"*Calls tool* `{call.get('name', '?')}` with:", ""]
        lines += _fenced(str(call.get("arguments", "")), "json")
    note = _STATUS_NOTES.get(m.status)
    if m.status == "cancelled" and not (m.content or m.reasoning or m.tool_calls):
        note = "cancelled: stopped before any answer"  # as the chat says it
    if note:
        detail = f": {m.error}" if m.error else ""
        lines += [f"> *{note}{detail}*", ""]
    return lines + _cost_line(m)


def _cited(m: StoredMessage, first: int) -> str:
    """The answer's text with its `[ref_N]` citations numbered as its sources are."""
    if not m.web_search:
        return m.content
    from glmchat.web_sources import cite  # only for an answer that searched

    return cite(m.content, m.web_search, first)


def _sources_markdown(results: Sequence[Mapping[str, Any]], first: int) -> list[str]:
    """The web search results an answer's `[N]` citations name: `[N] title — <link>`."""
    if not results:
        return []
    from glmchat.web_sources import source_link, source_title

    lines = ["**Sources**", ""]
    for number, item in enumerate(results, first):
        # Each line a list item of plain text: a title cannot start a heading, a link or a
        # tag, and a link only becomes one when it is a web address.
        title = _MARKDOWN_SPECIAL.sub(r"\\\g<0>", neutralize_controls(source_title(item)))
        link = neutralize_controls(source_link(item))
        if _WEB_ADDRESS.fullmatch(link):
            title += f" — <{link}>"
        elif link:
            title += " — " + _MARKDOWN_SPECIAL.sub(r"\\\g<0>", link)
        lines.append(f"- [{number}] {title}")
    return [*lines, ""]


_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]<>#|!~&]")
_WEB_ADDRESS = re.compile(r"https?://[^\s<>]+")


def _tool_markdown(m: StoredMessage) -> list[str]:
    record = (m.tool_calls or [{}])[0]
    name = record.get("title") or record.get("name") or "tool"
    state = record.get("status") or "ok"
    seconds = record.get("seconds")
    took = f", {seconds:.1f} s" if isinstance(seconds, int | float) else ""
    lines = [f"<details><summary>Tool {name}: {state}{took}</summary>", ""]
    lines += _fenced(m.content.rstrip(), "")
    return [*lines, "</details>", ""]


def _fenced(text: str, info: str) -> list[str]:
    """`text` in a code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", text, fence, ""]
