"""Ctrl+R: pick a saved conversation, with full-text search over everything said."""

from __future__ import annotations

from typing import Any, NamedTuple

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
from glmchat.terminal_text import neutralize_controls, steady_width
from glmchat.tui.literal import literal
from glmchat.tui.screens.dialog import Dialog
from glmchat.tui.widgets.safe_entry import SafeInput

MODEL_WIDTH = 24  # the model column's widest; longer names end in "…"
DATE_WIDTH, COUNT_WIDTH, GAP = 16, 8, 2
TITLE_MIN = 12  # the title's least width: the model column gives way first, then the count
MODEL_MIN = 8  # a model column narrower than this is dropped: it would tell no model apart
SNIPPET_MIN = 24  # under the title when it has this much room there, else from the row's start


def _cell(text: str, style: str = "") -> Text:
    """Stored text as a table cell: literal (a Text is never parsed as markup), one line."""
    return Text(steady_width(neutralize_controls(" ".join(text.split()))), style=style)


class SessionRow:
    """One conversation as columns (updated, title, model, messages) that line up from row to
    row, and a search hit's snippet on a line of its own under it. The widths are set when it
    is drawn, from the width it is drawn at (known only then): the title keeps TITLE_MIN cells
    and takes the room left, the model column gives way first, then the count. The snippet
    spans the row to its end (found by QA: drawn in the title's column, it was cut to a few
    cells at 60-80 columns, the rest of its line blank) and is cut around its hit."""

    def __init__(self, row: Any, model_width: int) -> None:
        self.updated = Text(row.updated[:16].replace("T", " "), style="dim")
        self.title = _cell(row.title or "Untitled", "bold")
        self.model = _cell(f"{row.provider}/{row.model}", "dim")
        self.model_width = model_width
        count = row.message_count
        self.count = Text(f"{count} msg{'' if count == 1 else 's'}", style="dim")
        snippet = getattr(row, "snippet", None) or ""
        self.snippet = steady_width(neutralize_controls(" ".join(snippet.split())))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        yield self._columns(width)
        if self.snippet:
            indent = DATE_WIDTH + GAP if width - DATE_WIDTH - GAP >= SNIPPET_MIN else 0
            shown = clip_around(self.snippet, width - indent, SNIPPET_START, SNIPPET_END)
            yield Text(" " * indent + shown, style="italic", no_wrap=True, overflow="crop")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(options.max_width, options.max_width)  # the list's width, as a row

    def _columns(self, width: int) -> Table:
        date = self.updated
        if width < DATE_WIDTH + GAP + TITLE_MIN:  # the year ("2026-") gives way to the title
            date = date[5:]
        room = width - DATE_WIDTH - GAP - TITLE_MIN  # left once the date and the title are in
        count = room >= GAP + COUNT_WIDTH
        if count:
            room -= GAP + COUNT_WIDTH
        model = min(self.model_width, room - GAP) if room - GAP >= MODEL_MIN else 0
        table = Table.grid(padding=(0, GAP), expand=True)
        table.add_column(width=date.cell_len, no_wrap=True)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        cells = [date, self.title]
        if model:
            table.add_column(width=model, no_wrap=True, overflow="ellipsis")
            cells.append(self.model)
        if count:
            table.add_column(width=COUNT_WIDTH, no_wrap=True, justify="right")
            cells.append(self.count)
        table.add_row(*cells)
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
            # Text typed or pasted with the focus on the list goes here (Dialog).
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
        options.add_options(Option(SessionRow(row, model_width), id=row.id) for row in rows)
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
