"""Keys that arrive together keep their order across a focus move.

Textual's app routes each key to the widget that has the focus when the app reads it, and the
keys of one terminal read are all routed before the first is handled. A key that moves the
focus (alt+up from the prompt, alt+down between messages) therefore leaves the keys after it
in the queue of the widget it left: there they were typed into the prompt or taken by the
wrong message (found by QA: `alt+up ]` in one read typed `]`). The widgets the focus moves
between run such a key at once, in their own queue, and hand each key still queued behind it
to the widget that has the focus now, in order. A message replaced by a key (a new version
shown) keeps the focus until its replacement is painted: the keys behind that one are parked
and go to whichever widget takes the focus next.
"""

from __future__ import annotations

import asyncio
from typing import Any
from weakref import WeakKeyDictionary

from textual import events
from textual.app import App
from textual.binding import ActiveBinding, Binding
from textual.screen import Screen
from textual.widget import Widget

from glmchat.tui.compat.keys import route_key

# The bindings that move the focus between the prompt and the messages (their ids), and
# Textual's tab and shift+tab and the stop key's way back to the prompt (their actions).
MOVES_FOCUS: frozenset[str] = frozenset({"select_prev", "select_next"})
MOVES_FOCUS_ACTIONS: frozenset[str] = frozenset(
    {"app.focus_next", "app.focus_previous", "focus_next", "focus_previous", "to_prompt"}
)


def moves_focus(binding: Binding) -> bool:
    """Whether a binding moves the focus (so the keys queued behind it must follow it)."""
    return binding.id in MOVES_FOCUS or binding.action in MOVES_FOCUS_ACTIONS


async def move_focus_as_read(app: App[Any], key: str, character: str | None = None) -> bool:
    """Run `key` as the app reads it, if what it does where the focus is (the binding the
    focused widget's chain gives it) is to move the focus; whether it did. The keys read with
    it are then routed to where the focus has gone, as if typed one at a time. Routed like any
    key and run once it had bubbled up to the bindings, a focus move left the keys behind it
    with the widget it left (found by QA: shift+tab twice and a letter in one read left the
    focus on the answer, and the next backspace went nowhere).

    The keys routed before this one are handled first, where they went (one of them may move
    the focus itself, or hand keys on: then where the focus went too)."""
    if _focus_move(app, key, character) is None:
        return False
    for _ in range(4):
        focused = app.screen.focused
        if focused is None or not await _handled_so_far(focused):
            break
        if app.screen.focused is focused:
            break
    active = _focus_move(app, key, character)  # where the focus is now
    if active is None:
        return False  # routed as any key
    return await app.run_action(active.binding.action, active.node)


def box_key_in_order(app: App[Any], key: str, character: str | None) -> bool:
    """Run `key` in its place among the keys read with it, if it is an editing or cursor key
    of a Textual Input that has the focus and does not keep the order itself (the command
    palette's box: a SafeInput does it in its own queue); whether it did.

    An Input's own keys (backspace, ctrl+u, home, the arrows) are bindings, run once the key
    has bubbled up to the app, after the letters read behind it were typed (found by QA: in
    the palette, `x`, backspace and `y` in one read left `x`; ctrl+u and a word, an empty
    box). The binding is run by the box itself, from its queue, between the letters before
    it and those after it."""
    from textual.widgets import Input

    from glmchat.tui.widgets.safe_entry import SafeInput

    focused = app.screen.focused
    if not isinstance(focused, Input) or isinstance(focused, SafeInput):
        return False
    if focused.check_consume_key(key, character):
        return False  # a letter: typed in turn anyway
    active = app.screen.active_bindings.get(key)
    if active is None or active.node is not focused or not active.enabled:
        return False
    focused.call_later(app.run_action, active.binding.action, active.node)
    return True


def _focus_move(app: App[Any], key: str, character: str | None) -> ActiveBinding | None:
    screen = app.screen
    focused = screen.focused
    # The widget takes this key as its own: a letter typed in the prompt. Asked first: it is
    # most keys, and the screen's bindings are a walk of the focus chain and a sort.
    if focused is not None and focused.check_consume_key(key, character):
        return None
    active = screen.active_bindings.get(key)
    if active is None or not active.enabled or not moves_focus(active.binding):
        return None
    return active


async def _handled_so_far(widget: Widget) -> bool:
    """Wait until `widget` has handled what it was sent so far; False if it never does (it
    went away meanwhile)."""
    handled = asyncio.Event()
    widget.call_later(handled.set)
    try:
        await asyncio.wait_for(handled.wait(), 1.0)
    except TimeoutError:
        return False
    return True


# Keys waiting for the focus to land, by screen (weak: a closed screen drops its own).
_parked: WeakKeyDictionary[Screen[object], list[events.Key]] = WeakKeyDictionary()


def focus_left(widget: Widget) -> bool:
    """Whether the focus is outside `widget` (neither it nor a part of it has it)."""
    focused = widget.screen.focused
    return focused is None or (focused is not widget and widget not in focused.ancestors)


def hand_on(widget: Widget, event: events.Key) -> bool:
    """Send `event`, routed to `widget`, to where the focus is now if it left `widget`;
    whether it did. The app has checked its priority bindings for the key already: the copy
    goes on as a key the app has routed."""
    if not focus_left(widget):
        return False
    event.stop()
    event.prevent_default()
    target = widget.screen.focused or widget.screen  # as the app routes a key
    route_key(target, events.Key(event.key, event.character))
    return True


async def run_here(widget: Widget, event: events.Key, active: ActiveBinding) -> bool:
    """Run the binding `active` of `event` now, in `widget`'s own queue, in order with the keys
    around it (a binding otherwise runs once the key has bubbled up to the app, behind the keys
    queued after it); whether it ran. An action that does not apply (skipped: down in a box
    with nothing to scroll) leaves the key to the next binding up the chain."""
    if not await widget.app.run_action(active.binding.action, active.node):
        return False
    event.stop()
    event.prevent_default()
    return True


def hand_on_paste(widget: Widget, event: events.Paste) -> bool:
    """As `hand_on`, for a paste routed to `widget` behind a key that moved the focus."""
    if not focus_left(widget):
        return False
    event.stop()
    event.prevent_default()
    route_key(widget.screen.focused or widget.screen, events.Paste(event.text))
    return True


def park(widget: Widget, event: events.Key) -> None:
    """Keep `event` for the widget that takes the focus next (see `unpark`)."""
    event.stop()
    event.prevent_default()
    _parked.setdefault(widget.screen, []).append(events.Key(event.key, event.character))


def unpark(widget: Widget) -> None:
    """`widget` has just taken the focus: the parked keys are its, in the order they came."""
    for key in _parked.pop(widget.screen, ()):
        route_key(widget, key)
