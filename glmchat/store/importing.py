"""Importing exported conversations: every document checked before anything is written, then
stored in one transaction (the format itself: export.py)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import MISSING, Field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glmchat.store.database import ImportFormatError, StoreError
from glmchat.store.export import EXPORTED_FIELDS, FORMAT, FORMAT_VERSION
from glmchat.store.models import (
    COST_SOURCES,
    ROLES,
    STATUSES,
    Conversation,
    StoredMessage,
    now_iso,
)
from glmchat.store.sessions import SessionStore


def parse_documents(text: str, source: str = "input") -> list[Conversation]:
    """Validate an export (one document or a JSON array of them); raises ImportFormatError.

    Everything is checked before anything is written, so a bad file imports nothing."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"nothing imported"
        ) from exc
    documents = data if isinstance(data, list) else [data]
    if not documents:
        raise ImportFormatError(f"{source} holds no conversations; nothing imported")
    return [
        _conversation(doc, f"{source}[{index}]" if isinstance(data, list) else source)
        for index, doc in enumerate(documents)
    ]


def import_file(store: SessionStore, path: Path) -> list[tuple[str, str]]:
    """Import an export file in one transaction; returns (id in file, id stored) pairs.

    An id that already exists is never overwritten: that conversation is stored under a
    new id (the pair shows it)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or a NUL in the name
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StoreError(f"cannot read {path}: {reason}") from exc
    return store.insert_conversations(parse_documents(text, str(path)))


class _Invalid(Exception):
    pass


def _conversation(doc: Any, where: str) -> Conversation:
    try:
        if not isinstance(doc, dict):
            raise _Invalid("not a JSON object")
        if doc.get("format") != FORMAT:
            raise _Invalid(f'not a glmchat export (no "format": "{FORMAT}")')
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise _Invalid('no valid "version"')
        if version > FORMAT_VERSION:
            raise _Invalid(
                f"format version {version} is newer than this glmchat reads "
                f"({FORMAT_VERSION}); upgrade glmchat"
            )
        conv_id = _field(doc, "id", str, required=True)
        if not _ID.fullmatch(conv_id):
            # An id is typed on command lines and shown on terminals: no controls, no path
            # separators, nothing that reads as an option.
            raise _Invalid(
                '"id" must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter '
                f"or digit; got {_quote(conv_id)}"
            )
        raw_messages = doc.get("messages")
        if not isinstance(raw_messages, list):
            raise _Invalid('"messages" must be a list')
        created = _timestamp(doc, "created") or now_iso()
        messages = tuple(
            _message(m, f'"messages"[{i}]', conv_id, i) for i, m in enumerate(raw_messages)
        )
        messages, leaf = _tree(messages, doc)
        return Conversation(
            id=conv_id,
            title=_field(doc, "title", str),
            created=created,
            updated=_timestamp(doc, "updated") or created,
            model=_field(doc, "model", str),
            provider=_field(doc, "provider", str),
            thinking=_field(doc, "thinking", bool),
            system_prompt=_field(doc, "system_prompt", str),
            current_leaf=leaf,
            messages=messages,
        )
    except _Invalid as exc:
        raise ImportFormatError(f"{where}: {exc}; nothing imported") from None


def _tree(
    messages: tuple[StoredMessage, ...], doc: dict[str, Any]
) -> tuple[tuple[StoredMessage, ...], int | None]:
    """The messages with parents before children, and the current leaf, checked: every id
    unique, every parent one of the messages, no cycle. A document without ids (version 1)
    is one branch in its order, ending at its last message."""
    if all(m.id < 0 for m in messages):
        linear = tuple(
            replace(m, id=i, parent_id=i - 1 if i else None) for i, m in enumerate(messages)
        )
        if "current_leaf" in doc:
            raise _Invalid('"current_leaf" needs messages with an "id"')
        return linear, len(linear) - 1 if linear else None
    by_id: dict[int, StoredMessage] = {}
    for i, m in enumerate(messages):
        if m.id < 0:
            raise _Invalid(f'"messages"[{i}]: "id" is missing (the other messages have one)')
        if m.id in by_id:
            raise _Invalid(f'"messages"[{i}]: "id" {m.id} is used twice')
        by_id[m.id] = m
    for i, m in enumerate(messages):
        if m.parent_id is not None and m.parent_id not in by_id:
            raise _Invalid(f'"messages"[{i}]: "parent" {m.parent_id} is no message\'s "id"')
    # Parents first: each message after its ancestors (a cycle never reaches a root).
    ordered: list[StoredMessage] = []
    placed: set[int] = set()
    for m in messages:
        chain: list[StoredMessage] = []
        at: StoredMessage | None = m
        while at is not None and at.id not in placed:
            if any(c.id == at.id for c in chain):
                raise _Invalid(f'"messages": the parents of message {m.id} form a cycle')
            chain.append(at)
            at = by_id[at.parent_id] if at.parent_id is not None else None
        for c in reversed(chain):
            placed.add(c.id)
            ordered.append(c)
    if "current_leaf" in doc:
        leaf = _field(doc, "current_leaf", int)
        if leaf is not None and leaf not in by_id:
            raise _Invalid(f'"current_leaf" {leaf} is no message\'s "id"')
    else:
        leaf = messages[-1].id if messages else None
    return tuple(ordered), leaf


def _message(raw: Any, where: str, conv_id: str, position: int) -> StoredMessage:
    if not isinstance(raw, dict):
        raise _Invalid(f"{where}: not a JSON object")
    try:
        values = {f.name: _read_field(raw, f) for f in EXPORTED_FIELDS}
        # Ids in a document are its own (renumbered on import); -1: none given.
        message_id = _field(raw, "id", int)
        parent = _field(raw, "parent", int)
        if message_id is not None and message_id < 0:
            raise _Invalid('"id" must be 0 or more')
        return StoredMessage(
            id=-1 if message_id is None else message_id,
            conversation_id=conv_id,
            position=position,
            parent_id=parent,
            **values,
        )
    except _Invalid as exc:
        message = str(exc)
        raise _Invalid(message if message.startswith(where) else f"{where}: {message}") from None


def _field(doc: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    value = doc.get(name)
    if value is None:
        if required:
            raise _Invalid(f'"{name}" is missing')
        return None
    # bool is an int subclass; neither should pass for the other.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _Invalid(f'"{name}" must be {_KIND_NAMES.get(kind, kind.__name__)}')
    return value


def _read_field(raw: dict[str, Any], f: Field[Any]) -> Any:
    """One message field from a document, checked against its declaration in StoredMessage:
    a field without a default is required; a missing or null one takes its default."""
    if f.name in _TIMESTAMPS:
        return _timestamp(raw, f.name)
    annotation = str(f.type)
    if annotation == "float | None":
        return _amount(raw, f.name)
    required = f.default is MISSING
    choices = _CHOICES.get(annotation)
    value = _field(raw, f.name, str if choices else _JSON_TYPES[annotation], required=required)
    if value is None or (choices and value == ""):
        value = f.default
    if choices and value not in choices and not (value is None and annotation.endswith("None")):
        raise _Invalid(f'"{f.name}" must be one of {", ".join(choices)}')
    return value


def _amount(raw: dict[str, Any], name: str) -> float | None:
    """A sum of money: a finite number, 0 or more (a NaN or a negative cost would poison every
    total it is added to)."""
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise _Invalid(f'"{name}" must be a number of US dollars, 0 or more')
    return float(value)


_TIMESTAMPS = frozenset({"started", "finished"})
_CHOICES: dict[str, tuple[str, ...]] = {
    "Role": ROLES,
    "Status": STATUSES,
    "CostSource | None": COST_SOURCES,
}
# Every other annotation a message field has (tests/test_store.py checks that none is missing).
_JSON_TYPES: dict[str, type] = {
    "str": str,
    "str | None": str,
    "bool | None": bool,
    "dict[str, Any] | None": dict,
    "list[dict[str, Any]] | None": list,
    "list[dict[str, str]] | None": list,  # web search results, trimmed as they are stored
    "float | None": float,  # read by _amount: a cost
}
_KIND_NAMES = {
    int: "a whole number",
    str: "a string",
    bool: "true or false",
    dict: "an object",
    list: "a list",
}
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _timestamp(doc: dict[str, Any], name: str) -> str | None:
    """An ISO 8601 time in the store's form (UTC, milliseconds, `Z`); a time without a zone is
    taken as UTC. Anything else is refused: a stamp like "zzz" would sort after every real
    one and stay "most recent" for ever."""
    text = _field(doc, name, str)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # Year 1 with a positive offset overflows on the way to UTC.
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _Invalid(
            f'"{name}" must be an ISO 8601 time like "2026-11-22T19:30:00Z", got {_quote(text)}'
        ) from None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _quote(value: str) -> str:
    shown = value if len(value) <= 40 else value[:39] + "…"
    return json.dumps(shown)  # escapes control characters: the error line stays one line
