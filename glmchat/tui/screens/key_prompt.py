"""First-run modal: ask for a provider's API key (masked), optionally check it, save it."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from glmchat.backend.errors import ProviderError
from glmchat.backend.provider_errors import set_key_hint
from glmchat.backend.providers import ProviderConfig
from glmchat.credentials import key_problem
from glmchat.secret_values import shown_url
from glmchat.terminal_text import neutralize_controls
from glmchat.tui.glm_app import glm_app
from glmchat.tui.screens.dialog import Dialog
from glmchat.tui.widgets.safe_entry import SafeInput


class KeyPrompt(Dialog[bool]):
    """Dismisses with True once a key is saved, False when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, provider: ProviderConfig, *, reason: str | None = None) -> None:
        """`reason`: why the key is asked for again (the provider refused the one in use)."""
        super().__init__()
        self.provider = provider
        self.reason = reason

    def compose(self) -> ComposeResult:
        p = self.provider
        with Vertical(classes="dialog", id="key-dialog"):
            yield Label(Text(f"API key for {p.display_name}"), classes="dialog-title")
            # The text scrolls in what a small terminal leaves once the box and the buttons
            # are shown (found by QA: at 60x20 the buttons were cut off).
            with VerticalScroll(id="key-text"):
                if self.reason:
                    # Without the error's advice to run `glmchat config set-key`: this is
                    # where the key is set (found by QA).
                    reason = self.reason.replace(set_key_hint(p), "").strip()
                    yield Static(
                        Text(neutralize_controls(reason), style="bold red"), classes="reason"
                    )
                shadow = self._environment_key()
                # The rule once: in general, or (below) as it applies now.
                rule = "" if shadow else f"; {p.api_key_env} in the environment wins over it"
                yield Static(
                    Text(
                        f"glmchat needs a key to talk to {p.display_name} "
                        f"({shown_url(p.base_url)}). It is "
                        f"saved in credentials.toml (mode 0600){rule}."
                    )
                )
                if shadow:
                    # A saved key would change nothing while this variable is set.
                    yield Static(
                        Text(
                            f"The key in use comes from {shadow} in the environment, which wins "
                            "over a saved key: change or unset it there for the key saved here "
                            "to be used.",
                            style="bold yellow",
                        ),
                        classes="shadow",
                    )
            yield SafeInput(placeholder="paste the key", password=True, id="key")
            yield Static("", id="key-status")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Check and save", id="check")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#key", Input).focus()

    def _environment_key(self) -> str | None:
        """The environment variable the provider's key comes from now, if any."""
        try:
            found = glm_app(self).credentials.find(self.provider)
        except Exception:  # a broken credentials file: the dialog is how to replace it
            return None
        return found.variable if found is not None and found.origin == "environment" else None

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#key-status", Static).update(Text(text, style=style))

    def _key(self) -> str | None:
        key = self.query_one("#key", Input).value.strip()
        if not key:
            self._status("Paste a key first.", "bold red")
            return None
        if any(c.isspace() for c in key):
            self._status("A key has no spaces in it; check what was pasted.", "bold red")
            return None
        if key_problem(key) is not None:
            self._status(
                "A key is letters, digits and a few marks only; this holds other characters "
                "(terminal codes in the paste?). Paste the key alone.",
                "bold red",
            )
            return None
        return key

    @on(Input.Submitted, "#key")
    @on(Button.Pressed, "#save")
    def save(self) -> None:
        key = self._key()
        if key is not None:
            self._store(key)

    def _store(self, key: str) -> None:
        from glmchat.config import ConfigError
        from glmchat.errors import GlmchatError

        try:
            glm_app(self).credentials.set(self.provider.name, key)
        except (ConfigError, OSError) as exc:
            # glmchat's own errors (an unwritable file's included) are a sentence naming the
            # file and what to do; a bare OSError reads "[Errno N] ..." with a temporary name.
            why = str(exc) if isinstance(exc, GlmchatError) else exc.strerror or str(exc)
            self._status(f"Could not save the key: {why}", "bold red")
            return
        self.dismiss(True)

    @on(Button.Pressed, "#check")
    def check(self) -> None:
        key = self._key()
        if key is not None:
            self._status("Checking…")
            self._check(key)

    @work(exclusive=True, exit_on_error=False)
    async def _check(self, key: str) -> None:
        from glmchat.backend.openai_compat import list_models

        try:
            await list_models(self.provider, key)
        except ProviderError as exc:
            self._status(exc.message, "bold red")
            return
        self._store(key)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
