"""Names `ui.code_theme` accepts: Pygments styles and Rich's ANSI themes, as static data.

Config loading must not import Pygments (the TUI loads it after its first paint, see
tests/test_import_hygiene.py), so the names are copied here and tests/test_code_themes.py
compares them with the installed Pygments and Rich. A name not listed is looked up in Pygments
itself, so a style from a Pygments plugin still works.
"""

from __future__ import annotations

# Rich's own themes first (`rich.syntax.RICH_SYNTAX_THEMES`), then `pygments.styles.STYLE_MAP`.
RICH_THEMES: tuple[str, ...] = ("ansi_dark", "ansi_light")
PYGMENTS_STYLES: tuple[str, ...] = tuple(
    """
    abap algol algol_nu arduino autumn borland bw coffee colorful default dracula emacs friendly
    friendly_grayscale fruity github-dark gruvbox-dark gruvbox-light igor inkpot lightbulb
    lilypond lovelace manni material monokai murphy native night-owl nord nord-darker one-dark
    paraiso-dark paraiso-light pastie perldoc rainbow_dash rrt sas solarized-dark solarized-light
    staroffice stata-dark stata-light tango trac vim vs xcode zenburn
    """.split()
)
CODE_THEMES: tuple[str, ...] = RICH_THEMES + PYGMENTS_STYLES


def is_code_theme(name: str) -> bool:
    """Would Rich's Syntax find this theme (rather than fall back to its default in silence)?"""
    if name in CODE_THEMES:
        return True
    try:  # only for a name not listed: a plugin's style, or a newer Pygments'
        from pygments.styles import get_style_by_name

        get_style_by_name(name)
    except Exception:  # ClassNotFound, or an import error for a name that is no module
        return False
    return True
