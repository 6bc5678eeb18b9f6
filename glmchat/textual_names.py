"""Key and theme names Textual understands, as static data: config loading never imports Textual.

`glmchat ask` reads config.toml too, and must start without Textual (tests/test_import_hygiene.py),
so the names are copied here; tests/test_textual_names.py fails when a Textual upgrade changes
the lists they were copied from (`textual.keys`, `textual._keyboard_protocol` and
`App().available_themes`).
"""

from __future__ import annotations

import unicodedata
from functools import cache

# Modifiers in the order Textual writes them in a key event ("ctrl+shift+up"): sorted by name.
MODIFIERS: tuple[str, ...] = ("alt", "ctrl", "hyper", "meta", "shift", "super")

# The key names of more than one character in `textual.keys.Keys`, the kitty keyboard protocol's
# functional keys and `KEY_ALIASES`; single characters (and their names, like "question_mark")
# are derived by `character_key`, as Textual does.
NAMED_KEYS: frozenset[str] = frozenset(
    """
    add at backslash backspace caps_lock circumflex_accent decimal delete divide down end enter
    equal escape f1 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19 f2 f20 f21 f22 f23 f24 f25 f26 f27
    f28 f29 f3 f30 f31 f32 f33 f34 f35 f4 f5 f6 f7 f8 f9 home insert iso_level3_shift
    iso_level5_shift kp_begin left left_alt left_control left_hyper left_meta left_shift
    left_square_brace left_super lower_volume media_fast_forward media_pause media_play
    media_play_pause media_record media_reverse media_rewind media_stop media_track_next
    media_track_previous menu multiply mute_volume newline num_lock pagedown pageup pause
    print_screen raise_volume return right right_alt right_control right_hyper right_meta
    right_shift right_square_bracket right_super scroll_lock separator space subtract tab
    underscore up
    """.split()
)

# `textual.keys.KEY_ALIASES` turned around: a binding to the alias fires on the key itself.
KEY_ALIASES: dict[str, str] = {
    "ctrl+i": "tab",
    "ctrl+m": "enter",
    "ctrl+left_square_brace": "escape",
    "ctrl+space": "ctrl+at",
    "newline": "ctrl+j",
}

# Keys in `textual.keys.Keys` written with a character rather than its name: what Textual's
# parser reports for them (ctrl+space in most terminals sends the byte ctrl+@ stands for).
RAW_CHARACTER_KEYS: frozenset[str] = frozenset({"ctrl+@"})

# `textual.keys.KEY_NAME_REPLACEMENTS`: Unicode names Textual shortens.
_NAME_REPLACEMENTS: dict[str, str] = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}

# The names of `App().available_themes` in a plain Textual app.
THEMES: tuple[str, ...] = (
    "ansi-dark",
    "ansi-light",
    "atom-one-dark",
    "atom-one-light",
    "catppuccin-frappe",
    "catppuccin-latte",
    "catppuccin-macchiato",
    "catppuccin-mocha",
    "dracula",
    "flexoki",
    "gruvbox",
    "monokai",
    "nord",
    "rose-pine",
    "rose-pine-dawn",
    "rose-pine-moon",
    "solarized-dark",
    "solarized-light",
    "textual-dark",
    "textual-light",
    "tokyo-night",
)


def character_key(character: str) -> str:
    """The key name Textual gives a typed character: "a", "1", "question_mark", "space".

    The same rule as `textual.keys._character_to_key`."""
    if character.isalnum():
        name = character
    else:
        try:
            name = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            name = "tab" if character == "\t" else character
    return _NAME_REPLACEMENTS.get(name, name)


@cache
def character_names() -> frozenset[str]:
    """Names of the printable ASCII characters that are not letters or digits."""
    return frozenset(character_key(chr(c)) for c in range(32, 127) if not chr(c).isalnum())
