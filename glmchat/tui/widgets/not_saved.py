"""The banner a conversation shows once it could not be saved: what happened, what to do."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from glmchat.tui.literal import literal


class NotSavedBanner(Static):
    """Stays above the prompt (a toast goes away while the user keeps chatting)."""

    def __init__(self, reason: str, copy_key: str, palette_key: str, **kwargs: Any) -> None:
        text = literal("⚠ Not saved: ", "bold") + literal(
            f"{reason.rstrip('.')}. This conversation now lives only on the screen: copy the "
            f"last answer with {copy_key}, or export it all with "
            f"{palette_key} → Export (written from the screen)."
        )
        super().__init__(text, **kwargs)
