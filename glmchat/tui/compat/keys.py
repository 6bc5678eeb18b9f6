"""What glmchat relies on in how Textual 8.2.8 routes keys and draws the key bar (checked by
tests/test_selection_burst.py and tests/test_footer_keys.py):

- the app hands a key (or a paste) to the focused widget with `Widget._forward_event(key)`,
  which marks it as routed (`is_forwarded`): bubbling back up to the app, a key is looked up
  in the bindings and not routed again, and a paste is not handed to the focused widget again;
- the app reads a key (`App.on_event`, a key not `is_forwarded`), checks its priority bindings
  with `App._check_bindings(key, priority=True)` and only then routes the key to the focused
  widget (the keys of one read are routed in turn, each once the one before it has been
  checked); a routed key that no widget stops comes back to `App._on_key`, which looks it up in
  the other bindings; a node's bindings are `node._bindings`, remapped by `App._keymap` with
  `BindingsMap.apply_keymap`, and a dialog's chain ends at the first node that `is_modal`;
- `Footer.compose` draws the palette's key as a `FooterKey` (from `textual.widgets._footer`)
  with the class `-command-palette`, found under `App.COMMAND_PALETTE_BINDING`;
- a `FooterKey` drawn for a disabled binding has the class `-disabled` and its `_disabled`
  attribute set (which its click reads), nothing else.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from textual import events
from textual.widget import Widget
from textual.widgets._footer import FooterKey

__all__ = [
    "PALETTE_KEY_CLASS",
    "FooterKey",
    "KeysAsRead",
    "route_key",
    "routed_to",
    "set_key_enabled",
]

PALETTE_KEY_CLASS = "-command-palette"


def route_key(widget: Widget, key: events.Key | events.Paste) -> None:
    """Give `widget` a key (or a paste) as the app does with the key it reads: the app's
    priority bindings have had it already, and a paste that bubbles back up to the app is not
    handed to the focused widget a second time (as one merely posted was)."""
    _routed[key] = widget
    widget._forward_event(key)


def routed_to(event: events.Key | events.Paste) -> Widget | None:
    """The widget the app (or `route_key`) gave `event` to; None if not known. A widget that
    is not it got the key by bubbling up from a part of it."""
    return _routed.get(event)


def set_key_enabled(key: FooterKey, enabled: bool) -> None:
    """Show `key` enabled or not, as Footer would draw it for a binding in that state."""
    key._disabled = not enabled
    key.set_class(not enabled, "-disabled")


class KeysAsRead:
    """App mixin: `as_read(key, character)` is asked about every key as the app reads it, after its
    priority bindings and before the key is routed to the focused widget; True when it acted
    on the key (which then goes nowhere else).

    And a key that bubbles back up to the app unhandled is looked up in the bindings of the
    widget it was routed to (and that widget's ancestors), as Textual does, even when the
    focus has moved since: Textual looks it up where the focus is when the key arrives, and a
    key read after it may have moved the focus first (found by QA: `alt+up enter x` in one
    read; the enter, routed to the selected message, bubbled up after the x had taken the
    focus back to the box, and sent the box)."""

    _reading: events.Key | None = None  # the key the app is reading now, from the terminal

    async def on_event(self, event: events.Event) -> None:
        fresh = isinstance(event, events.Key) and not event.is_forwarded
        if fresh:
            self._reading = event  # type: ignore[assignment]
        elif isinstance(event, events.Paste) and not event.is_forwarded:
            app: Any = self
            _routed[event] = app.focused or app.screen  # where App.on_event routes it
        try:
            await super().on_event(event)  # type: ignore[misc]
        finally:
            if fresh:
                self._reading = None

    async def _check_bindings(self, key: str, priority: bool = False) -> bool:
        if await super()._check_bindings(key, priority):  # type: ignore[misc]
            return True
        if not priority:
            return False
        reading = self._reading
        character = reading.character if reading is not None and reading.key == key else None
        if await self.as_read(key, character):
            return True
        if reading is not None and reading.key == key:
            # Where the app routes it next (App.on_event).
            app: Any = self
            _routed[reading] = app.focused or app.screen
        return False

    async def as_read(self, key: str, character: str | None) -> bool:
        return False

    async def _on_key(self, event: events.Key) -> None:
        # Textual calls each class's handler in turn: App's own (the lookup where the focus
        # is) runs after this one unless this one prevents it.
        app: Any = self
        target = _routed.pop(event, None)
        if target is None or target is app.focused or target is app.screen:
            return
        if not target.is_attached:
            return
        event.prevent_default()
        keymap = app._keymap
        for node in target.ancestors_with_self:
            bindings = node._bindings.copy()
            if keymap:
                bindings.apply_keymap(keymap)
            for binding in bindings.key_to_bindings.get(event.key, ()):
                if not binding.priority and await app.run_action(binding.action, node):
                    return
            if node.is_modal:
                return  # nothing beyond a dialog (as Textual's modal binding chain)


# Each key (and paste) routed, read from the terminal or handed on, with the widget it was
# routed to (weak: one consumed on the way never comes back).
_routed: WeakKeyDictionary[events.Key | events.Paste, Widget] = WeakKeyDictionary()
