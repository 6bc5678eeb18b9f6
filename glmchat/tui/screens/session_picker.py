"""Ctrl+R: pick a saved conversation, with full-text search over everything said."""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from glmchat.cli.cells import clip_around
from glmchat.store.search import SNIPPET_END, SNIPPET_START
from glmchat.terminal_text import neutralize_controls
from glmchat.tui.literal import literal
from glmchat.tui.screens.dialog import Dialog
from glmchat.tui.widgets.safe_entry import SafeInput

MODEL_WIDTH = 24  # the model column's widest; longer names end in "…"


def _cell(text: str, style: str = "") -> Text:
    """Stored text as a table cell: literal (a Text is never parsed as markup), one line."""
    return Text(neutralize_controls(" ".join(text.split())), style=style)


class Snippet:
    """A search hit's snippet as a cell, cut around the hit to the width it is drawn at (known
    only then): cut at its end, a hit near the end of a long message would not show."""

    def __init__(self, text: str) -> None:
        self.text = neutralize_controls(" ".join(text.split()))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        shown = clip_around(self.text, options.max_width, SNIPPET_START, SNIPPET_END)
        yield Text(shown, style="italic", no_wrap=True, end="")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, cell_len(self.text))


def session_row(row: Any, model_width: int) -> Table:
    """One conversation as fixed columns (updated, title, model, messages) that line up from
    row to row; the title takes the room left and ends in "…" when it does not fit. A search
    hit's snippet goes on a second line under the title."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(width=16, no_wrap=True)
    table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column(width=model_width, no_wrap=True, overflow="ellipsis")
    table.add_column(width=8, no_wrap=True, justify="right")
    count = f"{row.message_count} msg{'' if row.message_count == 1 else 's'}"
    table.add_row(
        Text(row.updated[:16].replace("T", " "), style="dim"),
        _cell(row.title or "Untitled", "bold"),
        _cell(f"{row.provider}/{row.model}", "dim"),
        Text(count, style="dim"),
    )
    snippet = getattr(row, "snippet", None)
    if snippet:
        table.add_row("", Snippet(snippet), "", "")
    return table


class Picked(NamedTuple):
    """A conversation chosen in the picker, and the message its search hit is in (if any):
    whoever opens it opens it on the branch that holds that message."""

    conversation_id: str
    hit: int | None = None


class SessionPicker(Dialog[Picked | None]):
    """Dismisses with the chosen conversation (Picked), or None."""

    AUTO_FOCUS = "#search"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "focus_list", "List", show=False),
    ]

    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store
        self._hits: dict[str, int] = {}  # conversation id -> the message the search found

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label("Resume a conversation", classes="dialog-title")
            yield SafeInput(placeholder="search titles, prompts and answers", id="search")
            yield OptionList(id="sessions")

    def on_mount(self) -> None:
        self.refresh_list("")

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        self.refresh_list(event.value)

    def refresh_list(self, query: str) -> None:
        from glmchat.store import StoreError

        options = self.query_one("#sessions", OptionList)
        options.clear_options()
        try:
            rows = self.store.list_conversations(limit=100, search=query.strip() or None)
        except StoreError as exc:
            options.add_option(Option(literal(str(exc), "red"), disabled=True))
            return
        if not rows:
            options.add_option(Option("No conversations found.", disabled=True))
            return
        model_width = min(MODEL_WIDTH, max(len(f"{r.provider}/{r.model}") for r in rows))
        self._hits = {row.id: row.hit_message_id for row in rows if row.hit_message_id}
        options.add_options(Option(session_row(row, model_width), id=row.id) for row in rows)
        options.highlighted = 0

    @on(Input.Submitted, "#search")
    def pick_first(self) -> None:
        options = self.query_one("#sessions", OptionList)
        if options.option_count and options.highlighted is not None:
            option = options.get_option_at_index(options.highlighted)
            if option.id:
                self._choose(option.id)

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self._choose(event.option.id)

    def _choose(self, conversation_id: str) -> None:
        self.dismiss(Picked(conversation_id, self._hits.get(conversation_id)))

    def action_focus_list(self) -> None:
        self.query_one("#sessions", OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
