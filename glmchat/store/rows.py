"""The row shape, declared once: table columns are the models' field names, converted here."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from glmchat.store.models import Conversation, ConversationSummary, StoredMessage

# A column is named like its field. SQLite has no bool or JSON type, so a field's annotation
# picks how its value is stored (annotations are strings under `from __future__ import
# annotations`); a new field of either kind needs no change here.


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _loads(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # a damaged cell costs its figures, not the conversation
    return value if isinstance(value, dict) else None


def _dumps_list(value: list[Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _loads_list(text: str | None) -> list[Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def _dumps_sources(value: list[dict[str, str]] | None) -> str | None:
    # Only what glmchat keeps of a result, whatever the caller holds (an import, say). Loaded
    # here, not with the store: only a row with sources needs it.
    if value is None:
        return None
    from glmchat.web_sources import kept_results

    return _dumps_list(kept_results(value))


def _loads_sources(text: str | None) -> list[dict[str, str]] | None:
    from glmchat.web_sources import kept_results

    return kept_results(_loads_list(text))  # a hand-edited cell: odd items are left out


def _bool_to_int(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _int_to_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]  # (to the column, from the column)
_CODECS: dict[str, Codec] = {
    "bool | None": (_bool_to_int, _int_to_bool),
    "dict[str, Any] | None": (_dumps, _loads),
    "list[dict[str, Any]] | None": (_dumps_list, _loads_list),
    "list[dict[str, str]] | None": (_dumps_sources, _loads_sources),
}


def _codecs(cls: type) -> dict[str, Codec]:
    return {f.name: _CODECS[str(f.type)] for f in fields(cls) if str(f.type) in _CODECS}


MESSAGE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(StoredMessage))
MESSAGE_COLUMNS = ", ".join(MESSAGE_FIELDS)
CONVERSATION_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Conversation) if f.name != "messages"
)
CONVERSATION_COLUMNS = ", ".join(CONVERSATION_FIELDS)
# A summary is a conversation's own columns plus its message count (and, for a search, a
# snippet that is no column at all).
_SUMMARY_STORED = tuple(
    f.name for f in fields(ConversationSummary) if f.name in CONVERSATION_FIELDS
)
# Its cost: the answers' costs summed, NULL when any answer that reported usage has no cost
# (a sum that leaves some out is not the conversation's cost) or none has one.
SUMMARY_COLUMNS = (
    ", ".join(f"c.{name}" for name in _SUMMARY_STORED)
    + ", (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
    + ", (SELECT CASE WHEN count(m.cost) > 0 AND count(m.cost) = count(*) THEN total(m.cost) END"
    " FROM messages m WHERE m.conversation_id = c.id AND m.role = 'assistant'"
    # The answers the usage ledger counts (store/migrations.py `_ANSWER_ROW`): one that ended
    # with text but no usage (stopped, cut off) has a cost, unknown.
    " AND (m.usage IS NOT NULL OR m.cost IS NOT NULL"
    " OR (m.finished IS NOT NULL AND (m.content != '' OR m.reasoning != ''))))"
)

_MESSAGE_CODECS = _codecs(StoredMessage)
_CONVERSATION_CODECS = _codecs(Conversation)


def _decoders(columns: Sequence[str], codecs: Mapping[str, Codec]) -> tuple[_Decoder, ...]:
    # (position, decode) for the few columns that need it: rows are read on every resume and
    # search, so the others are passed through untouched, and values go in by position (the
    # column lists above are in field order).
    return tuple((i, codecs[name][1]) for i, name in enumerate(columns) if name in codecs)


_Decoder = tuple[int, Callable[[Any], Any]]
_MESSAGE_DECODERS = _decoders(MESSAGE_FIELDS, _MESSAGE_CODECS)
_CONVERSATION_DECODERS = _decoders(CONVERSATION_FIELDS, _CONVERSATION_CODECS)
_SUMMARY_DECODERS = _decoders(_SUMMARY_STORED, _CONVERSATION_CODECS)
# `id` is SQLite's rowid: given by the database, never inserted.
_INSERTED_MESSAGE_FIELDS = MESSAGE_FIELDS[1:]
INSERT_MESSAGE = (
    f"INSERT INTO messages ({', '.join(_INSERTED_MESSAGE_FIELDS)}) "
    f"VALUES ({', '.join('?' for _ in _INSERTED_MESSAGE_FIELDS)})"
)
INSERT_CONVERSATION = (
    f"INSERT INTO conversations ({CONVERSATION_COLUMNS}) "
    f"VALUES ({', '.join('?' for _ in CONVERSATION_FIELDS)})"
)


def _encode(codecs: Mapping[str, Codec], name: str, value: Any) -> Any:
    codec = codecs.get(name)
    return value if codec is None else codec[0](value)


def message_params(message: StoredMessage) -> tuple[Any, ...]:
    """The values for INSERT_MESSAGE."""
    return tuple(
        _encode(_MESSAGE_CODECS, name, getattr(message, name)) for name in _INSERTED_MESSAGE_FIELDS
    )


def conversation_params(conversation: Conversation) -> tuple[Any, ...]:
    """The values for INSERT_CONVERSATION."""
    return tuple(
        _encode(_CONVERSATION_CODECS, name, getattr(conversation, name))
        for name in CONVERSATION_FIELDS
    )


def message_from_row(row: Sequence[Any]) -> StoredMessage:
    """A StoredMessage from a row selected as MESSAGE_COLUMNS."""
    values = list(row)
    for at, decode in _MESSAGE_DECODERS:
        if values[at] is not None:
            values[at] = decode(values[at])
    # Filled in directly rather than through the frozen dataclass's __init__ (one
    # object.__setattr__ per field): a resumed conversation is read whole, and this is more
    # than half of the time of reading 10,000 messages. The row has every field, in order.
    message = object.__new__(StoredMessage)
    message.__dict__.update(zip(MESSAGE_FIELDS, values, strict=True))
    return message


def conversation_from_row(
    row: Sequence[Any], messages: tuple[StoredMessage, ...] = ()
) -> Conversation:
    """A Conversation from a row selected as CONVERSATION_COLUMNS."""
    values = list(row)
    for at, decode in _CONVERSATION_DECODERS:
        values[at] = decode(values[at])
    values.append(messages)
    return Conversation(*values)


def summary_from_row(row: Sequence[Any], snippet: str | None = None) -> ConversationSummary:
    """A ConversationSummary from a row selected as SUMMARY_COLUMNS (the conversation's own
    columns, then the message count and the cost)."""
    values = list(row)
    for at, decode in _SUMMARY_DECODERS:
        values[at] = decode(values[at])
    values.append(snippet)
    return ConversationSummary(*values)


def message_changes(changes: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """`SET` assignments and their values for an UPDATE of a message's columns."""
    return _assignments(_MESSAGE_CODECS, MESSAGE_FIELDS, changes)


def conversation_changes(changes: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """`SET` assignments and their values for an UPDATE of a conversation's columns."""
    return _assignments(_CONVERSATION_CODECS, CONVERSATION_FIELDS, changes)


def _assignments(
    codecs: Mapping[str, Codec], known: tuple[str, ...], changes: Mapping[str, Any]
) -> tuple[str, tuple[Any, ...]]:
    unknown = set(changes) - set(known)
    if unknown:
        # Column names go into SQL text: only declared ones may.
        raise ValueError(f"no such column: {', '.join(sorted(unknown))}")
    assignments = ", ".join(f"{name} = ?" for name in changes)
    return assignments, tuple(_encode(codecs, name, value) for name, value in changes.items())
