"""The SQLite session store: conversations, streaming checkpoints, search, export/import."""

from glmchat.store.database import AmbiguousIdError, ImportFormatError, NotFoundError, StoreError
from glmchat.store.export import to_document, to_json, to_markdown
from glmchat.store.importing import import_file, parse_documents
from glmchat.store.migrations import SCHEMA_VERSION
from glmchat.store.models import (
    ROLES,
    STATUSES,
    TITLE_MAX,
    Conversation,
    ConversationSummary,
    Role,
    Status,
    StoredMessage,
    new_id,
    now_iso,
    qualified_model,
    title_from_prompt,
)
from glmchat.store.recorder import StreamRecorder
from glmchat.store.search import SNIPPET_END, SNIPPET_START
from glmchat.store.sessions import SessionStore

__all__ = [
    "ROLES",
    "SCHEMA_VERSION",
    "SNIPPET_END",
    "SNIPPET_START",
    "STATUSES",
    "TITLE_MAX",
    "AmbiguousIdError",
    "Conversation",
    "ConversationSummary",
    "ImportFormatError",
    "NotFoundError",
    "Role",
    "SessionStore",
    "Status",
    "StoreError",
    "StoredMessage",
    "StreamRecorder",
    "import_file",
    "new_id",
    "now_iso",
    "parse_documents",
    "qualified_model",
    "title_from_prompt",
    "to_document",
    "to_json",
    "to_markdown",
]
