"""What glmchat relies on in how Textual 8.2.8 routes keys and draws the key bar (checked by
tests/test_selection_burst.py and tests/test_footer_keys.py):

- the app hands a key (or a paste) to the focused widget with `Widget._forward_event(key)`,
  which marks it as routed (`is_forwarded`): bubbling back up to the app, a key is looked up
  in the bindings and not routed again, and a paste is not handed to the focused widget again;
- the app reads a key, checks its priority bindings with `App._check_bindings(key,
  priority=True)` and only then routes the key to the focused widget (the keys of one read
  are routed in turn, each once the one before it has been checked);
- `Footer.compose` draws the palette's key as a `FooterKey` (from `textual.widgets._footer`)
  with the class `-command-palette`, found under `App.COMMAND_PALETTE_BINDING`;
- a `FooterKey` drawn for a disabled binding has the class `-disabled` and its `_disabled`
  attribute set (which its click reads), nothing else.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets._footer import FooterKey

__all__ = ["PALETTE_KEY_CLASS", "FooterKey", "KeysAsRead", "route_key", "set_key_enabled"]

PALETTE_KEY_CLASS = "-command-palette"


def route_key(widget: Widget, key: events.Key | events.Paste) -> None:
    """Give `widget` a key (or a paste) as the app does with the key it reads: the app's
    priority bindings have had it already, and a paste that bubbles back up to the app is not
    handed to the focused widget a second time (as one merely posted was)."""
    widget._forward_event(key)


def set_key_enabled(key: FooterKey, enabled: bool) -> None:
    """Show `key` enabled or not, as Footer would draw it for a binding in that state."""
    key._disabled = not enabled
    key.set_class(not enabled, "-disabled")


class KeysAsRead:
    """App mixin: `as_read(key)` is asked about every key as the app reads it, after its
    priority bindings and before the key is routed to the focused widget; True when it acted
    on the key (which then goes nowhere else)."""

    async def _check_bindings(self, key: str, priority: bool = False) -> bool:
        if await super()._check_bindings(key, priority):  # type: ignore[misc]
            return True
        return priority and await self.as_read(key)

    async def as_read(self, key: str) -> bool:
        return False
