"""What a conversation shows once it could not be saved: a banner (what happened, what to do)
that stays, said once per pane."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import Static

from glmchat.tui.literal import literal

if TYPE_CHECKING:
    from glmchat.tui.widgets.chat_pane import ChatPane


class NotSavedBanner(Static):
    """Stays above the prompt (a toast goes away while the user keeps chatting)."""

    def __init__(self, reason: str, copy_key: str, palette_key: str, **kwargs: Any) -> None:
        text = literal("⚠ Not saved: ", "bold") + literal(
            f"{reason.rstrip('.')}. This conversation now lives only on the screen: copy the "
            f"last answer with {copy_key}, or export it all with "
            f"{palette_key} → Export (written from the screen)."
        )
        super().__init__(text, **kwargs)


class NotSaved:
    """A pane's word that saving failed, said once: the banner above the prompt, a toast, and
    the status line (which reads the engine's save error)."""

    def __init__(self, pane: ChatPane) -> None:
        self._pane = pane
        self._said = False

    def say(self, reason: str) -> None:
        if self._said:
            return
        self._said = True
        pane = self._pane
        banner = NotSavedBanner(
            reason, pane._key("copy_answer"), pane._key("command_palette"), id="unsaved"
        )
        pane.mount(banner, before=pane.prompt)
        pane.app.notify(f"Not saved: {reason}", severity="error", timeout=10, markup=False)
        pane.update_status()

    def say_pending(self) -> None:
        """Saving outside an exchange (a rename, a model switch) may fail too."""
        for event in self._pane.engine.take_save_events():
            self.say(event.message)
