"""What the store holds, as values: roles, statuses, messages, conversations and summaries."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

Role = Literal["system", "user", "assistant", "tool"]
# complete: the answer ended normally; partial: it stopped before its end (or is still being
# written); cancelled: stopped by glmchat (escape, a pane closed, the app quit or its terminal
# closed); error: failed before any text arrived.
Status = Literal["complete", "partial", "cancelled", "error"]
ROLES: tuple[Role, ...] = get_args(Role)
STATUSES: tuple[Status, ...] = get_args(Status)
CostSource = Literal["provider", "catalogue"]
COST_SOURCES: tuple[CostSource, ...] = get_args(CostSource)
TITLE_MAX = 80  # one limit for the TUI, ask and the store


def now_iso() -> str:
    """The current time as ISO-8601 UTC with milliseconds, e.g. 2026-11-22T19:30:00.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A fresh conversation id: 12 hex digits, short enough to type, a prefix is enough."""
    return os.urandom(6).hex()  # secrets.token_hex(6), without importing hashlib and hmac


def qualified_model(provider: str | None, model: str | None) -> str | None:
    """A model as glmchat names it everywhere: `PROVIDER/MODEL` (`zai/glm-4.5`)."""
    if provider and model:
        return f"{provider}/{model}"
    return model or provider or None


def title_from_prompt(prompt: str) -> str:
    """The first non-blank line of a prompt, trimmed (and shortened if very long)."""
    stripped = prompt.strip()
    line = stripped.splitlines()[0].strip() if stripped else ""
    if len(line) > TITLE_MAX:
        line = line[: TITLE_MAX - 1].rstrip() + "…"
    return line


# The fields below are the one declaration of a row: glmchat/store/rows.py derives the column
# lists and conversions from them, and the JSON export writes them in this order.


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: str
    position: int
    role: Role
    content: str
    reasoning: str = ""
    status: Status = "complete"
    error: str | None = None
    model: str | None = None
    provider: str | None = None
    thinking: bool | None = None
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    timings: dict[str, Any] | None = None
    started: str | None = None
    finished: str | None = None
    # An assistant row: the tool calls it made ({"id", "name", "arguments"}). A tool row (the
    # result of one call, in `content`): one record of that call ({"id", "name", "title",
    # "arguments", "status", "seconds"}), and the call's id in `tool_call_id`.
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    # An answer's cost in USD (None: unknown) and where the figure came from: "provider" (the
    # provider sent it) or "catalogue" (computed from the model's prices); glmchat/costs.py.
    cost: float | None = None
    cost_source: CostSource | None = None
    # The message this one answers or follows (None: a root). A conversation is a tree: a
    # regenerated answer or an edited prompt is a sibling of the one it replaces on screen.
    parent_id: int | None = None
    # An assistant row: the Z.ai web search results its model call received, the few fields
    # glmchat/web_sources.py keeps ({"refer", "title", "link", ...}); its `[ref_N]` citations
    # name them.
    web_search: list[dict[str, str]] | None = None


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str | None
    created: str
    updated: str
    model: str | None
    provider: str | None
    thinking: bool | None
    system_prompt: str | None
    # The last message of the branch shown and sent (None: nothing is shown); `messages`
    # holds every branch, glmchat/store/tree.py walks them.
    current_leaf: int | None = None
    messages: tuple[StoredMessage, ...] = field(default=())


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str | None
    created: str
    updated: str
    model: str | None
    provider: str | None
    thinking: bool | None
    message_count: int
    # The answers' costs summed; None when any answer's cost is unknown (or there is none).
    cost: float | None = None
    snippet: str | None = None
    # A search hit's message (None: the title matched, or no search); it may be on another
    # branch than the current one: opening the hit switches to the branch that holds it.
    hit_message_id: int | None = None

    @property
    def full_model(self) -> str | None:
        return qualified_model(self.provider, self.model)

    def as_dict(self) -> dict[str, Any]:
        """The `sessions list --json` object; `model` is PROVIDER/MODEL, as in `ask --json`."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "created": self.created,
            "updated": self.updated,
            "model": self.full_model,
            "provider": self.provider,
            "thinking": self.thinking,
            "messages": self.message_count,
            "cost": self.cost,
        }
        if self.snippet is not None:
            out["snippet"] = self.snippet
        return out
