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
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        app.notify(f"Could not write {path}: {exc.strerror}", severity="error")
        return
    if pane.engine.is_whole:
        app.notify(f"Exported to {path}")
    else:  # the store could read only the end of its branch (and said so)
        app.notify(
            f"Exported to {path}: only the end of the conversation, the rest could not be read.",
            severity="warning",
        )
