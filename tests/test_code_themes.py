"""Tripwire: glmchat/code_themes.py still names what the installed Rich and Pygments offer."""

from __future__ import annotations

from pygments.styles import STYLE_MAP
from rich.syntax import RICH_SYNTAX_THEMES

from glmchat.code_themes import PYGMENTS_STYLES, RICH_THEMES, is_code_theme


def test_the_lists_are_rich_and_pygments_own() -> None:
    assert sorted(RICH_THEMES) == sorted(RICH_SYNTAX_THEMES)
    assert sorted(PYGMENTS_STYLES) == sorted(STYLE_MAP)


def test_an_unlisted_name_is_looked_up_in_pygments() -> None:
    assert is_code_theme("monokai") and is_code_theme("ansi_dark")
    assert not is_code_theme("nonexistent-style")
    assert not is_code_theme("../../etc")
    assert not is_code_theme("")
