"""Text from prompts, models, files and the store is shown as written in every kind of widget:
never read as markup (`[/]` crashed the app, `[a-z]+` vanished), never as escape sequences."""

from __future__ import annotations

import ast
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.content import Content
from textual.pilot import Pilot

import glmchat.tui
from glmchat.tui.commands import ChatCommands
from glmchat.tui.screens.text_prompt import TextPrompt
from glmchat.tui.widgets.messages import ThinkingPanel
from tests.tui_helpers import (
    active,
    glm,
    message,
    running,
    saved,
    screen_lines,
    screen_text,
    seed,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer

# Each one broke something: a MarkupError crash, text silently eaten, a style or link or
# action applied. All must come out exactly as typed.
HOSTILE = [
    "What does [/] mean in Rich?",
    "Explain the regex [a-z]+ please",
    "say [bold]x[/bold] twice",
    "a [link=https://evil.example]link[/link] here",
    "do [@click=app.quit]this[/] now",
    "[red on blue]colour[/]",
    "\\[escaped] and [/bold]",
]
SHORT = ["[/]", "[a-z]+", "[bold]x[/bold]", "[@click=app.quit]q[/]", "[link=x]y[/link]"]
ESCAPES = "title \x1b]0;PWNED\x07 and \x1b[2J end"


def _shown(app: Any, text: str) -> bool:
    return text in screen_text(app)


async def _settle(pilot: Pilot[Any]) -> None:
    for _ in range(3):
        await pilot.pause()


# --- tab label and pane title (from the first prompt) -------------------------------------------


@pytest.mark.parametrize("prompt", HOSTILE)
async def test_a_first_prompt_with_markup_titles_the_tab_and_pane_literally(
    zai: WireServer, prompt: str
) -> None:
    """The report: `What does [/] mean in Rich?` crashed the app in Tab.label, the answer was
    saved as cancelled with nothing in it, and the conversation could never be opened again."""
    zai.reply(Reply(chunks=stream(["It closes ", "the last style."])))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await send(pilot, prompt)
        await wait_for_stream(pilot)
        await _settle(pilot)
        label = app.tabs.bar.label(app.tabs.active or "")
        assert label.plain == prompt[:24] + ("…" if len(prompt) > 25 else prompt[24:])
        lines = screen_lines(app)
        assert lines[0].strip() == label.plain  # the tab bar
        assert lines[2].strip() == prompt  # the pane's title line
        assert app.is_running
    [_, answer] = saved(pane.conversation_id)
    assert answer.status == "complete" and answer.content == "It closes the last style."


async def test_escape_sequences_in_a_title_are_shown_not_sent(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["ok"])))
    async with running() as pilot:
        app = glm(pilot)
        await send(pilot, ESCAPES)
        await wait_for_stream(pilot)
        await _settle(pilot)
        screen = screen_text(app)
        assert "\x1b" not in screen and "\x07" not in screen
        assert "title \\x1b]0;PWNED\\x07 and \\x1b[2J end" in screen_lines(app)[2]
        assert app.tabs.bar.label(app.tabs.active or "").plain.startswith("title \\x1b]0;PWNED")
        assert screen_lines(app)[0].startswith(" title \\x1b]0;PWNED")  # the tab bar


# --- a bad title in the store -------------------------------------------------------------------


def _seed_bad_titles() -> None:
    seed("badd00000001", "notes [/] x", [message("user", "[a-z]+ and [/]")])
    seed("badd00000002", ESCAPES, [message("user", "hello")], updated="2026-01-16T09:30:00.000Z")


@pytest.mark.parametrize("conversation_id", ["badd00000001", "badd00000002"])
async def test_resume_opens_a_conversation_with_a_bad_title(conversation_id: str) -> None:
    _seed_bad_titles()
    async with running(resume=conversation_id) as pilot:
        app = glm(pilot)
        await _settle(pilot)
        pane = active(pilot)
        assert pane.conversation_id == conversation_id
        if conversation_id == "badd00000001":
            assert screen_lines(app)[0].strip() == "notes [/] x"
            assert "[a-z]+ and [/]" in screen_text(app)
        assert "\x1b" not in screen_text(app)


async def test_ctrl_r_opens_a_bad_title_while_another_pane_streams(zai: WireServer) -> None:
    """The report: opening the conversation crashed the app, taking every pane's stream down."""
    _seed_bad_titles()
    gate = threading.Event()
    words = [f"word{i} " for i in range(20)]
    zai.reply(Reply(chunks=stream(words, holds={2: gate}), delay=0.005))
    async with running() as pilot:
        app = glm(pilot)
        streaming = active(pilot)
        await send(pilot, "count for me")
        await wait_until(pilot, lambda: streaming.streaming and streaming.streaming.text, "text")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: _shown(app, "Resume a conversation"), "the picker")
        assert _shown(app, "notes [/] x")  # the picker's option list
        assert _shown(app, "title \\x1b]0;PWNED\\x07")
        await pilot.press(*"notes")
        await wait_until(pilot, lambda: not _shown(app, "PWNED"), "the search")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.panes) == 2, "the conversation to open")
        await _settle(pilot)
        assert active(pilot).conversation_id == "badd00000001"
        assert "notes [/] x" in screen_lines(app)[0]
        gate.set()
        await wait_for_stream(pilot, streaming)
        assert streaming.turns[-1].content == "".join(words)  # the other stream went on
        assert app.is_running


# --- modal: the rename prompt ------------------------------------------------------------------


@pytest.mark.parametrize("text", SHORT)
async def test_the_rename_prompt_shows_its_title_and_value_literally(text: str) -> None:
    async with running() as pilot:
        app = glm(pilot)
        app.push_screen(TextPrompt(f"Rename {text}", f"value {text}"))
        await _settle(pilot)
        assert _shown(app, f"Rename {text}")
        assert app.screen.query_one("Input").value == f"value {text}"
        assert _shown(app, f"value {text}")


async def test_renaming_to_markup_titles_tab_pane_and_store(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["ok"])))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await send(pilot, "first")
        await wait_for_stream(pilot)
        app.action_rename()
        await _settle(pilot)
        field = app.screen.query_one("Input")
        field.value = "notes [/] x"
        await pilot.press("enter")
        await _settle(pilot)
        lines = screen_lines(app)
        assert lines[0].strip() == "notes [/] x" and lines[2].strip() == "notes [/] x"
    assert saved(pane.conversation_id) and pane.title == "notes [/] x"


# --- notifications -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", SHORT)
async def test_notifications_are_literal_from_the_app_and_from_widgets(text: str) -> None:
    async with running() as pilot:
        app = glm(pilot)
        app.notify(f"app says {text}", title=f"about {text}")
        active(pilot).notify(f"pane says {text}")  # Widget.notify passes markup=True
        await _settle(pilot)
        assert _shown(app, f"app says {text}") and _shown(app, f"about {text}")
        assert _shown(app, f"pane says {text}")


async def test_a_notification_holding_escapes_shows_them(zai: WireServer) -> None:
    async with running() as pilot:
        app = glm(pilot)
        app.notify("Model: zai/glm\x1b[2J[/]")
        await _settle(pilot)
        [toast] = [line for line in screen_lines(app) if "Model:" in line]
        assert "Model: zai/glm\\x1b[2J[/]" in toast and "\x1b" not in toast


# --- the session picker's option list ----------------------------------------------------------


async def test_the_picker_lists_titles_and_snippets_literally() -> None:
    for i, text in enumerate(SHORT):
        seed(f"feed0000000{i}", f"title {text}", [message("user", f"needle {text}")])
    async with running() as pilot:
        app = glm(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: _shown(app, "Resume a conversation"), "the picker")
        for text in SHORT:
            assert _shown(app, f"title {text}")
        await pilot.press(*"needle")
        await wait_until(pilot, lambda: _shown(app, "«needle»"), "the snippets")
        for text in SHORT:
            assert _shown(app, f"«needle» {text}")
        assert app.is_running


# --- the command palette -----------------------------------------------------------------------


async def test_palette_entries_show_a_code_line_literally(zai: WireServer) -> None:
    """The palette's help line shows the first line of each code block of the answer."""
    zai.reply(Reply(chunks=stream(["```\n", "print('[/]') # [bold]x[/bold]\n", "```\n"])))
    async with running() as pilot:
        app = glm(pilot)
        await send(pilot, "code please")
        await wait_for_stream(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"copy code")
        await wait_until(pilot, lambda: _shown(app, "Copy code block 1"), "the command")
        assert _shown(app, "print('[/]') # [bold]x[/bold]")
        # The list before anything is typed (discovery) is built the same way; read its
        # entries as the palette does (its prompt and help go through Content.from_markup).
        provider = ChatCommands(app.screen)
        hits = {Content.from_markup(h.prompt).plain: h async for h in provider.discover()}
        help_text = hits["Copy code block 1"].help
        assert help_text is not None
        assert Content.from_markup(help_text).plain == "print('[/]') # [bold]x[/bold]"


# --- the thinking panel's title (a Collapsible) ------------------------------------------------


@pytest.mark.parametrize("text", SHORT)
async def test_a_thinking_panel_title_is_literal(text: str) -> None:
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        panel = ThinkingPanel("why", title=f"first {text}", collapsed=True)
        await pane.log_view.mount(panel)
        await _settle(pilot)
        assert _shown(app, f"first {text}")
        panel.title = f"then {text}"
        await _settle(pilot)
        assert _shown(app, f"then {text}")


# --- no widget is handed an interpolated string --------------------------------------------------

# Textual widgets and calls that read a str argument as markup, and the argument positions or
# keywords that hold the text.
_TEXT_CALLS = {
    "Label": 0,
    "Static": 0,
    "Button": 0,
    "TabPane": 0,
    "Option": 0,
    "Hit": 1,
    "DiscoveryHit": 0,
    "Collapsible": None,
}
_TEXT_KEYWORDS = {"title", "help", "label", "prompt", "tooltip", "display", "match_display"}
_TEXT_ATTRIBUTES = {"label", "border_title", "border_subtitle", "tooltip"}


def _interpolated(node: ast.expr) -> bool:
    """A str built from values: an f-string with fields, `+`/`%` on strings, .format, str()."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return any(
            isinstance(side, ast.JoinedStr)
            or (isinstance(side, ast.Constant) and isinstance(side.value, str))
            or _interpolated(side)
            for side in (node.left, node.right)
        )
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "format":
            return True
        if isinstance(func, ast.Name) and func.id == "str":
            return True
    return False


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def unsafe_widget_text(source: str) -> list[int]:
    """Line numbers where an interpolated str goes straight into widget text."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            args: list[ast.expr] = []
            if name in _TEXT_CALLS:
                position = _TEXT_CALLS[name]
                if position is not None and len(node.args) > position:
                    args.append(node.args[position])
                args += [k.value for k in node.keywords if k.arg in _TEXT_KEYWORDS]
            elif name == "update" and node.args:  # Static.update and the like
                args.append(node.args[0])
            found += [node.lineno for arg in args if _interpolated(arg)]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr in _TEXT_ATTRIBUTES:
                    if _interpolated(node.value):
                        found.append(node.lineno)
    return sorted(found)


def test_the_scan_catches_what_it_is_for() -> None:
    """The scan below is only worth something if it fails on the mistakes it looks for."""
    bad = """
Label(f"API key for {name}")
Static("Hello " + name)
tab.label = f"{title}"
Option("{}".format(title), id=x)
yield Hit(score, str(title), cb)
DiscoveryHit(name, cb, help=f"{line}")
widget.update(f"{count} items")
"""
    assert unsafe_widget_text(bad) == [2, 3, 4, 5, 6, 7, 8]
    good = """
Label(literal(f"API key for {name}"))
Static(Text(f"Hello {name}"))
tab.label = tab_label(title)
Option(session_row(row, 8), id=x)
Label("A constant", classes="x")
widget.update(literal(f"{count} items"))
"""
    assert unsafe_widget_text(good) == []


def test_no_widget_is_handed_an_interpolated_string() -> None:
    """Build widget text with `glmchat.tui.literal.literal` (or a rich Text): a str made from
    values is read as markup."""
    root = Path(glmchat.tui.__file__).parent
    offenders = [
        f"{path.relative_to(root.parent.parent)}:{line}"
        for path in sorted(root.rglob("*.py"))
        for line in unsafe_widget_text(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
