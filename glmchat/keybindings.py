"""Key bindings: ids, default keys, and checking a `[keys]` remapping before Textual sees it.

Textual accepts any string as a key and any number of bindings on one key, so a typo, a key it
never sends, or a key already taken would only show as a binding that silently does nothing (or
as `ctrl+q` quitting with the prompt lost). Everything here is plain data and string work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from glmchat.textual_names import (
    KEY_ALIASES,
    MODIFIERS,
    NAMED_KEYS,
    RAW_CHARACTER_KEYS,
    character_key,
    character_names,
)

# Binding id -> default keys (Textual key names, comma-separated). The TUI declares its
# bindings with these ids so `[keys]` can remap them through `App.set_keymap`.
BINDING_IDS: dict[str, str] = {
    "toggle_thinking": "ctrl+t",
    "send": "enter",
    "newline": "ctrl+j,shift+enter",
    "stop": "escape",
    "new_pane": "ctrl+n",
    "close_pane": "ctrl+w",
    "prev_pane": "ctrl+pageup",
    "next_pane": "ctrl+pagedown",
    # Scroll the conversation a page while typing (the prompt box would move its cursor).
    "scroll_up": "pageup",
    "scroll_down": "pagedown",
    "resume": "ctrl+r",
    "fold_thinking": "ctrl+o",
    "copy_answer": "ctrl+y",
    "command_palette": "ctrl+p",
    "quit": "ctrl+q",
    # The message selection (tui/widgets/message_select.py): the first two move it from the
    # prompt too; the last four act on the selected message only.
    "select_prev": "alt+up",
    "select_next": "alt+down",
    "edit_message": "e",
    "regenerate": "r",
    "prev_sibling": "left_square_bracket",
    "next_sibling": "right_square_bracket",
}

# Keys Textual keeps for itself whatever `[keys]` says, and what they do there.
RESERVED_KEYS: dict[str, str] = {
    "ctrl+c": "copying selected text (and Textual's quit hint)",
    "tab": "moving focus",
    "shift+tab": "moving focus",
}

# Different spellings of one key, for finding clashes: Textual's aliases, and ctrl+@ (what
# legacy terminals send for ctrl+space) for ctrl+at (what Textual aliases ctrl+space to).
_SAME_KEY: dict[str, str] = {**KEY_ALIASES, "ctrl+@": "ctrl+at"}

# Binding ids that are active only while a message (not a text box) has the focus, and so may
# take a key that types text. Every other binding also works while the prompt has focus, where
# such a key would either type (the binding never fires) or fire (the typed character is lost).
TYPED_KEYS_ALLOWED: frozenset[str] = frozenset(
    {"edit_message", "regenerate", "prev_sibling", "next_sibling"}
)

_FORMAT_HINT = (
    'write KEY or MODIFIER+KEY, like "ctrl+q" or "f5", several separated by commas; '
    "modifiers: " + ", ".join(MODIFIERS)
)


class KeyProblem(ValueError):
    """A `[keys]` value Textual would not match as intended; the message says why."""


def _one_key(text: str) -> str:
    """One key as Textual matches it: modifiers in Textual's order, characters by name."""
    if len(text) == 1:  # "+" alone is the plus key, not a separator
        modifiers, base = [], text
    else:
        *modifiers, base = text.split("+")
    if not base or any(not m for m in modifiers) or any(ch.isspace() for ch in text):
        raise KeyProblem(f'"{text}" is not a key; {_FORMAT_HINT}')
    for modifier in modifiers:
        if modifier not in MODIFIERS:
            raise KeyProblem(
                f'"{text}": "{modifier}" is not a modifier; modifiers: {", ".join(MODIFIERS)}'
            )
    if len(set(modifiers)) != len(modifiers):
        raise KeyProblem(f'"{text}" names a modifier twice')
    if len(base) == 1:
        if not base.isprintable():
            raise KeyProblem(f'"{text}" is not a key; {_FORMAT_HINT}')
        # Terminals report "?" as "question_mark", with or without modifiers (Textual renames
        # only a bare character when binding, so "ctrl+?" as written would never match).
        if text not in RAW_CHARACTER_KEYS:
            base = character_key(base)
    elif base not in NAMED_KEYS and base not in character_names():
        import difflib  # only for a key that is wrong: a good config never loads it

        known = sorted(NAMED_KEYS | character_names())
        close = difflib.get_close_matches(base, known, n=1, cutoff=0.7)
        hint = f' (did you mean "{close[0]}"?)' if close else f"; {_FORMAT_HINT}"
        raise KeyProblem(f'"{text}": Textual knows no key "{base}"{hint}')
    # Textual sorts the modifiers of a key event; "shift+ctrl+x" as written would never match.
    return "+".join([*sorted(modifiers), base])


def parse_keys(value: object) -> str:
    """A `[keys]` value checked and written as Textual matches it ("ctrl+j,shift+enter")."""
    if not isinstance(value, str) or not value.strip():
        raise KeyProblem('expected key names separated by commas, like "ctrl+j,shift+enter"')
    keys = [_one_key(part.strip()) for part in value.split(",")]
    return ",".join(dict.fromkeys(keys))


def types_text(key: str) -> bool:
    """Would this (parsed) key type a character into the prompt rather than reach a binding?"""
    *modifiers, base = key.split("+")
    return set(modifiers) <= {"shift"} and (len(base) == 1 or base in character_names())


def key_problems(remapped: Mapping[str, str], order: Iterable[str]) -> list[tuple[str, str]]:
    """(binding id, message) for each remapped binding whose key cannot work.

    `remapped` holds parsed values; bindings not in it keep their defaults. The defaults claim
    their keys first, then the remapped bindings in `order`, so a clash is always reported on a
    binding the user wrote (on the later one when both were written)."""
    owner: dict[str, str] = {}
    for binding_id, keys in BINDING_IDS.items():
        if binding_id not in remapped:
            for key in keys.split(","):
                owner.setdefault(_SAME_KEY.get(key, key), binding_id)
    problems: list[tuple[str, str]] = []
    for binding_id in order:
        for key in remapped[binding_id].split(","):
            same = _SAME_KEY.get(key, key)
            if same in RESERVED_KEYS:
                why = RESERVED_KEYS[same]
                problems.append((binding_id, f'"{key}" is kept for {why}; pick another key'))
            elif (other := owner.get(same, binding_id)) != binding_id:
                if other in remapped:
                    message = f'"{key}" is also given to keys.{other}; pick another key'
                else:
                    message = (
                        f'"{key}" is already the key of {other} (its default); pick another '
                        f"key, or give keys.{other} another key too"
                    )
                problems.append((binding_id, message))
            elif types_text(key) and binding_id not in TYPED_KEYS_ALLOWED:
                problems.append(
                    (
                        binding_id,
                        f'"{key}" types text into the prompt; add a modifier, like "ctrl+{key}"',
                    )
                )
            else:
                owner[same] = binding_id
    return problems
