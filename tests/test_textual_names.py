"""Tripwires: glmchat/textual_names.py still matches what the installed Textual understands.

Config loading checks `[keys]` and `theme` against static copies (so `glmchat ask` never imports
Textual); these tests fail when a Textual upgrade adds, renames or drops a key or a theme.
"""

from __future__ import annotations

import pytest
from textual import keys as textual_keys
from textual._keyboard_protocol import FUNCTIONAL_KEYS
from textual.app import App

from glmchat import textual_names
from glmchat.keybindings import BINDING_IDS, parse_keys


def test_named_keys_are_textuals() -> None:
    names: set[str] = set()
    for key in textual_keys.Keys:
        if not key.value.startswith("<"):
            names.add(key.value.rpartition("+")[2])
    names |= set(FUNCTIONAL_KEYS.values())
    for key, aliases in textual_keys.KEY_ALIASES.items():
        names |= {alias.rpartition("+")[2] for alias in [key, *aliases]}
    # Single characters are derived by character_key; "ctrl-at" is a legacy value never sent.
    assert textual_names.NAMED_KEYS == {n for n in names if len(n) > 1 and "-" not in n}


def test_key_aliases_are_textuals() -> None:
    turned = {alias: key for key, aliases in textual_keys.KEY_ALIASES.items() for alias in aliases}
    assert textual_names.KEY_ALIASES == turned


def test_modifiers_are_the_ones_textual_reports_in_its_order() -> None:
    from textual import _xterm_parser

    source = open(_xterm_parser.__file__, encoding="utf-8").read()  # noqa: SIM115
    assert 'MODIFIERS = ("alt", "ctrl", "super", "hyper", "meta")' in source
    assert "key_tokens.sort()" in source  # events list modifiers sorted by name
    assert list(textual_names.MODIFIERS) == sorted(
        ["alt", "ctrl", "super", "hyper", "meta", "shift"]
    )


def test_character_key_is_textuals() -> None:
    characters = [chr(c) for c in range(32, 0x2500) if chr(c).isprintable()]
    assert [textual_names.character_key(c) for c in characters] == [
        textual_keys._character_to_key(c) for c in characters
    ]


def test_themes_are_textuals() -> None:
    assert sorted(textual_names.THEMES) == sorted(App().available_themes)


@pytest.mark.parametrize("binding_id", list(BINDING_IDS))
def test_default_keys_parse_to_themselves(binding_id: str) -> None:
    assert parse_keys(BINDING_IDS[binding_id]) == BINDING_IDS[binding_id]


def test_raw_character_keys_are_textuals() -> None:
    raw = {
        key.value
        for key in textual_keys.Keys
        if "+" in key.value
        and len(base := key.value.rpartition("+")[2]) == 1
        and not base.isalnum()
    }
    assert raw == textual_names.RAW_CHARACTER_KEYS


@pytest.mark.parametrize(
    ("written", "sequence"),
    [
        ("shift+ctrl+up", "\x1b[1;6A"),
        ("ctrl+alt+up", "\x1b[1;7A"),
        ("shift+alt+ctrl+up", "\x1b[1;8A"),
        ("ctrl+shift+pagedown", "\x1b[6;6~"),
        ("ctrl+?", "\x1b[63;5u"),  # kitty keyboard protocol
        ("ctrl+/", "\x1b[47;5u"),
        ("ctrl+alt+a", "\x1b[97;7u"),
        ("shift+enter", "\x1b[13;2u"),
        ("ctrl+space", "\x1b[32;5u"),
        ("ctrl+@", "\x00"),
        ("?", "?"),
        ("ctrl+backslash", "\x1c"),
    ],
)
def test_a_parsed_key_is_what_the_terminal_parser_reports(written: str, sequence: str) -> None:
    """A binding matches when its key equals the key event's (or an alias): the parsed form of
    what a user writes must be what Textual's parser makes of the keys pressed."""
    from textual._xterm_parser import XTermParser

    events = list(XTermParser().feed(sequence))
    assert [getattr(event, "key", None) for event in events] == [parse_keys(written)]
