"""The key bar at the bottom: Textual's Footer, rebuilt only when what it shows has changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.widgets import Footer

from glmchat.tui.compat.keys import PALETTE_KEY_CLASS, FooterKey, set_key_enabled

if TYPE_CHECKING:
    from textual.screen import Screen

_PALETTE_ACTIONS = ("command_palette", "app.command_palette")


class KeyFooter(Footer):
    """Textual's Footer rebuilds its keys (a dozen widgets, 15-40 ms) each time the screen's
    bindings change, and start-up changes them three times before the first frame (the app's
    keymap, the pane's mount, the prompt's focus) with the same keys shown each time: two
    rebuilds for nothing on the way to the first paint. This one compares what it would show
    with what it shows and rebuilds only for a difference."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[object, ...] | None = None
        self._ready = False  # Footer shows no keys until the screen first reports its bindings

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._ready = True
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        # Footer finds the palette's key under App.COMMAND_PALETTE_BINDING ("ctrl+p"), the
        # default key, not the key `[keys]` gives it: remapped, the hint was gone (found by
        # QA), and another action given ctrl+p would have been shown there instead. Here it
        # is found by its action, under whichever key it has now.
        if not self._ready:
            return
        for widget in super().compose():
            if not widget.has_class(PALETTE_KEY_CLASS):
                yield widget
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE):
            return
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.action in _PALETTE_ACTIONS:
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes=PALETTE_KEY_CLASS,
                    disabled=not active.enabled,
                    tooltip=binding.tooltip or binding.description,
                )
                return  # its first key (ChatScreen orders them as configured)

    def _what_it_would_show(self) -> tuple[object, ...]:
        # Everything Footer.compose reads: each active binding (its keys, action, description,
        # group, whether shown), whether it is enabled, its tooltip and its key as displayed.
        bindings = tuple(
            (key, active.binding, active.enabled, active.tooltip)
            for key, active in self.screen.active_bindings.items()
        )
        keys = tuple(self.app.get_key_display(binding) for _, binding, _, _ in bindings)
        return (self._ready, self.compact, self.show_command_palette, bindings, keys)

    async def recompose(self) -> None:
        if not self.is_attached:
            await super().recompose()
            return
        shown = self._what_it_would_show()
        if shown == self._shown:
            return
        if self._shown is not None and _keys_of(shown) == _keys_of(self._shown):
            # Only whether keys are enabled changed (Stop, as each answer starts and ends): a
            # restyle of those keys, not a rebuild of them all.
            enabled: dict[str, bool] = {}
            for active in self.screen.active_bindings.values():
                enabled.setdefault(active.binding.action, active.enabled)  # Footer's first
            for key in self.query(FooterKey):
                if key.action in enabled:
                    set_key_enabled(key, enabled[key.action])
        else:
            await super().recompose()
        self._shown = shown


def _keys_of(shown: tuple[object, ...]) -> tuple[object, ...]:
    """What KeyFooter shows (`_what_it_would_show`) less whether each key is enabled."""
    ready, compact, palette, bindings, keys = shown
    assert isinstance(bindings, tuple)
    without = tuple((key, binding, tooltip) for key, binding, _, tooltip in bindings)
    return (ready, compact, palette, without, keys)
