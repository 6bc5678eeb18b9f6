"""What the app gives its panes: a client per provider, the key dialog, store calls that never
stop the chat, the clipboard, and toasts that are always literal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import App
from textual.filter import LineFilter
from textual.notifications import Notification, Notify, SeverityLevel

from glmchat.backend.providers import ProviderConfig
from glmchat.config import Settings
from glmchat.credentials import CredentialStore
from glmchat.terminal_text import neutralize_controls
from glmchat.tui.compat.textual_private import withdraw_notification
from glmchat.tui.literal import NoControlCharacters

if TYPE_CHECKING:  # imported when the first answer needs it: httpx takes 20 ms to import
    from glmchat.backend.openai_compat import OpenAICompatClient
    from glmchat.engine.spending import Spending

T = TypeVar("T")

_NO_CONTROLS = NoControlCharacters()  # one instance: filtered lines are cached by filter


class AppServices(App[int]):
    """The services half of GlmChatApp (tui/app.py holds the panes, bindings and actions)."""

    def __init__(self, settings: Settings, *, store: Any, credentials: CredentialStore) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        self.credentials = credentials
        self._clients: dict[str, OpenAICompatClient] = {}  # one per provider, by name
        self._store_warned = False
        # The budget's state as the last answer left it (tui/budget_mark.py): every pane's.
        self.budget: Spending | None = None

    def get_line_filters(self) -> list[LineFilter]:
        """Textual's filters, then the last fence: no control character reaches the terminal
        from any widget's text (see `NoControlCharacters`)."""
        return [*super().get_line_filters(), _NO_CONTROLS]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast, always literal: what glmchat reports holds titles, model names, paths and
        provider errors, never markup (`markup` is kept for Textual's signature and ignored;
        Widget.notify passes True)."""
        self.notice(message, title=title, severity=severity, timeout=timeout)

    def notice(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
    ) -> Notification:
        """`notify`, giving back the toast, for a notice that stops being true before its time
        is up (`withdraw` it then)."""
        notification = Notification(
            neutralize_controls(message),
            neutralize_controls(title),
            severity,
            self.NOTIFICATION_TIMEOUT if timeout is None else timeout,
            markup=False,
        )
        self.post_message(Notify(notification))
        return notification

    def withdraw(self, notification: Notification | None) -> None:
        """Take a toast from `notice` off the screen now (nothing if it is gone already)."""
        if notification is not None:
            withdraw_notification(self, notification)

    def client_for(self, provider_name: str) -> OpenAICompatClient:
        provider = self.settings.providers[provider_name]
        client = self._clients.get(provider_name)
        if client is None:
            from glmchat.backend.openai_compat import OpenAICompatClient

            secret = self.credentials.get(provider)
            client = OpenAICompatClient(provider, secret.reveal() if secret else None)
            self._clients[provider_name] = client
        return client

    async def close_clients(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    def has_key(self, provider: ProviderConfig) -> bool:
        if not provider.requires_key:
            return True
        try:
            return self.credentials.get(provider) is not None
        except Exception as exc:  # a broken credentials file: say so, ask for a key
            self.notify(str(exc), severity="error", timeout=10)
            return False

    def ask_for_key(
        self, provider: ProviderConfig, then: Callable[[bool], Any], *, reason: str | None = None
    ) -> None:
        """The key dialog; `reason` says why it is asked again (the provider refused a key)."""
        from glmchat.tui.screens.key_prompt import KeyPrompt

        if isinstance(self.screen, KeyPrompt):
            return  # already asking

        def done(saved: bool | None) -> None:
            if saved:
                self._clients.pop(provider.name, None)  # rebuild with the new key
                self.notify(f"Saved the API key for {provider.display_name}.")
            then(bool(saved))

        self.push_screen(KeyPrompt(provider, reason=reason), done)

    def guard_store(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Run a store call; a failing disk is reported once and never stops the chat."""
        from glmchat.store import StoreError

        try:
            return fn(*args, **kwargs)
        except StoreError as exc:
            if not self._store_warned:
                self._store_warned = True
                self.notify(f"Could not save: {exc}", severity="error", timeout=10)
            return None

    def copy_text(self, text: str, what: str = "text") -> None:
        self.copy_to_clipboard(text)
        self.notify(f"Copied {what} ({len(text)} characters).")
