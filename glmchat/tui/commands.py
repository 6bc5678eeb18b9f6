"""Command palette entries: model switch, retry, edit, rename, export, panes, folds, copies."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import on
from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.widgets import Button, Input, OptionList

from glmchat.catalogue import known_models
from glmchat.tui.compat.textual_private import EnterWaitsForResults
from glmchat.tui.glm_app import glm_app
from glmchat.tui.literal import literal

if TYPE_CHECKING:
    from glmchat.tui.app import GlmChatApp
    from glmchat.tui.widgets.chat_pane import ChatPane

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_blocks(markdown: str) -> list[str]:
    return [m.group(1).rstrip("\n") for m in _FENCE.finditer(markdown)]


class Palette(EnterWaitsForResults, CommandPalette):
    """Textual's command palette, with its own keys at the bottom: the chat's key bar showed
    under it (`⏎ Send  esc Stop`, found by QA), as under every dialog before (Dialog). An
    Enter typed before the results show picks the first of them (EnterWaitsForResults)."""

    def on_mount(self) -> None:
        from glmchat.tui.widgets.key_footer import KeyFooter

        self.mount(KeyFooter())

    @on(Input.Submitted)
    @on(Button.Pressed)
    @on(OptionList.OptionSelected)
    def _not_once_closed(
        self, event: Input.Submitted | Button.Pressed | OptionList.OptionSelected
    ) -> None:
        # Runs before CommandPalette's own handler. An enter read together with the one that
        # picked a command reached the box after the palette had closed, and closing it again
        # took the app down (found by QA: `rename` and two enters in one read).
        if self.app.screen is not self:
            event.stop()
            event.prevent_default()


class ChatCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = glm_app(self)
        pane = app.active_pane
        out: list[tuple[str, Callable[[], object], str]] = []
        if pane is not None and pane.turns:  # an empty pane has nothing to retry or edit
            out += [
                ("Retry last answer", app.action_retry, "ask the model again"),
                ("Edit last prompt", app.action_edit_last, "put the last prompt back in the box"),
            ]
        out += [
            ("Rename conversation", app.action_rename, "give this conversation a title"),
            ("Export conversation as Markdown", partial(app.action_export, "markdown"), ""),
            ("Export conversation as JSON", partial(app.action_export, "json"), ""),
            ("New pane", app.action_new_pane, "start a new conversation"),
            ("Resume conversation", app.action_resume, "pick a saved conversation"),
            ("Fold or unfold all thinking panels", app.action_fold_thinking, ""),
            ("Copy last answer", app.action_copy_answer, "to the clipboard"),
            ("Toggle thinking mode", app.action_toggle_thinking, "for this pane"),
            ("Set API key", app.action_set_key, "for this pane's provider"),
            ("Tools…", app.action_tools, "list the tools and MCP servers, switch them on or off"),
        ]
        if pane is not None and pane.turns:  # nor to regenerate, fork or undo
            out.extend(_branch_commands(app, pane))
        if pane is not None and pane.web_search_available:
            on = pane.engine.toolbox is not None and pane.engine.toolbox.web_search
            out.append(
                (
                    f"Web search {'off' if on else 'on'}",
                    app.action_toggle_web_search,
                    "Z.ai's search for this pane",
                )
            )
        for name, provider in app.settings.providers.items():
            for model in known_models(app.settings, provider):
                out.append(
                    (
                        f"Switch model: {name}/{model}",
                        partial(app.action_switch_model, name, model),
                        provider.display_name,
                    )
                )
        answer = pane.last_turn("assistant") if pane else None
        if answer is not None:
            for i, block in enumerate(code_blocks(answer.content), 1):
                first = block.strip().splitlines()[0][:40] if block.strip() else ""
                out.append(
                    (
                        f"Copy code block {i}",
                        partial(app.copy_text, block, f"code block {i}"),
                        first,
                    )
                )
        return out

    # Names and help hold model names from config.toml and a line of the model's code: the
    # palette reads a str as markup (help always), so both go in as literal Content.

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(literal(name), callback, text=name, help=_help(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score, offsets = matcher.fuzzy_search.match(matcher.query, name)
            if score > 0:
                display = literal(name)
                for offset in offsets:  # Matcher.highlight would parse `name` as markup
                    if not name[offset].isspace():
                        display = display.stylize(matcher.match_style, offset, offset + 1)
                yield Hit(score, display, callback, text=name, help=_help(help_text))


def _branch_commands(
    app: GlmChatApp, pane: ChatPane
) -> list[tuple[str, Callable[[], object], str]]:
    """The conversation tree's entries: regenerate the selected (or last) answer with another
    model or thinking mode, fork from the selected message, undo the last exchange."""
    branches = pane.branches
    thinking = not pane.engine.thinking
    info = pane.engine.model_info
    if info.always_thinks:
        # It never stops thinking: "off" is its lowest effort (as `ask --no-think` says).
        switch = f"the lowest effort ({info.efforts[0] if info.efforts else 'low'})"
    else:
        switch = f"thinking {'on' if thinking else 'off'}"
    out: list[tuple[str, Callable[[], object], str]] = [
        ("Fork from here", branches.fork, "a new conversation up to the selected message"),
        ("Undo last exchange", branches.undo, "it stays as a branch; the prompt goes back"),
    ]
    if pane.last_turn("assistant") is None:
        return out  # no answer to regenerate yet
    out.insert(
        0,
        (
            f"Regenerate with {switch}",
            partial(branches.regenerate, thinking=thinking),
            "a new answer beside the selected (or last) one",
        ),
    )
    for name, provider in app.settings.providers.items():
        for model in known_models(app.settings, provider):
            out.append(
                (
                    f"Regenerate with model: {name}/{model}",
                    partial(branches.regenerate, model=f"{name}/{model}"),
                    "a new answer beside the selected (or last) one",
                )
            )
    return out


def _help(text: str) -> Any:
    # Content where Textual's type says str: the palette hands it to Content.from_markup,
    # which returns a Content unchanged.
    help_text: Content | None = literal(text) if text else None
    return help_text
