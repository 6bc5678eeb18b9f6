"""The Export command: the shown conversation as a Markdown or JSON file in the current folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glmchat.tui.app import GlmChatApp
    from glmchat.tui.widgets.chat_pane import ChatPane


def export_to_file(app: GlmChatApp, pane: ChatPane, fmt: str) -> None:
    """Write the conversation as saved, else as the pane holds it; a toast says where."""
    from glmchat.store import export

    conversation = None
    if pane.save_error is None and pane.conversation_id and app.store is not None:
        conversation = app.guard_store(app.store.get_conversation, pane.conversation_id)
    if conversation is None:
        # Not (fully) saved: export what the pane holds, so nothing on the screen is lost.
        conversation = pane.snapshot()
    suffix = "md" if fmt == "markdown" else "json"
    path = Path.cwd() / f"glmchat-{conversation.id}.{suffix}"
    text = export.to_markdown(conversation) if fmt == "markdown" else export.to_json(conversation)
    from glmchat.paths import write_atomic

    try:
        # Private (0600), like `sessions export -o` and the database: it is the whole
        # conversation. Atomic, so an export over an older one is never half written.
        write_atomic(path, text.encode("utf-8"))
    except OSError as exc:  # a FileWriteError: names the file and what to do
        app.notify(f"Export failed: {exc}", severity="error", markup=False)
        return
    if pane.engine.is_whole:
        app.notify(f"Exported to {path}", markup=False)
    else:  # the store could read only the end of its branch (and said so)
        app.notify(
            f"Exported to {path}: only the end of the conversation, the rest could not be read.",
            severity="warning",
            markup=False,
        )
