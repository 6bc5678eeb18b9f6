"""What every modal dialog of the app shares: its style sheet (modals.tcss), and classes for a
terminal under 30 rows or 80 columns, where a dialog drops its blank lines and its buttons their
borders, and its text scrolls between its title and its buttons, which stay on screen (found by
QA: at 60x14 the unsent-prompt and the context dialogs showed no buttons)."""

from __future__ import annotations

from textual.screen import ModalScreen, ScreenResultType


class Dialog(ModalScreen[ScreenResultType]):
    CSS_PATH = "modals.tcss"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]
