"""Typed access to the running GlmChatApp from the widgets, screens and commands it holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from textual.app import App

if TYPE_CHECKING:
    from glmchat.tui.app import GlmChatApp


class _InApp(Protocol):
    """A widget, a screen, a command palette provider: anything that knows its app."""

    @property
    def app(self) -> App[object]: ...


def glm_app(node: _InApp) -> GlmChatApp:
    """The app `node` runs in. glmchat's widgets only ever run in a GlmChatApp; the cast says so
    without importing the app module at run time (it imports them)."""
    return cast("GlmChatApp", node.app)
