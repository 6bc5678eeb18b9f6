"""The SQLite session store: conversations, streaming checkpoints, search, export/import."""

from glmchat.store.database import (
    SCHEMA_VERSION,
    AmbiguousIdError,
    ImportFormatError,
    NotFoundError,
    StoreError,
)
from glmchat.store.export import import_file, parse_documents, to_document, to_json, to_markdown
from glmchat.store.recorder import StreamRecorder
from glmchat.store.sessions import (
    SNIPPET_END,
    SNIPPET_START,
    Conversation,
    ConversationSummary,
    SessionStore,
    StoredMessage,
    qualified_model,
    title_from_prompt,
)

__all__ = [
    "SCHEMA_VERSION",
    "SNIPPET_END",
    "SNIPPET_START",
    "AmbiguousIdError",
    "Conversation",
    "ConversationSummary",
    "ImportFormatError",
    "NotFoundError",
    "SessionStore",
    "StoreError",
    "StoredMessage",
    "StreamRecorder",
    "import_file",
    "parse_documents",
    "qualified_model",
    "title_from_prompt",
    "to_document",
    "to_json",
    "to_markdown",
]
