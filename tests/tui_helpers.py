"""Driving GlmChatApp in tests: build it against the wire server, wait for streams, read the screen.

Reading the screen (the one reader for tests and benchmarks): `screen_lines(app)` is the text of
the rows the active screen would send to the terminal (the pipeline of `App.export_screenshot`,
minus the SVG; reached through glmchat/tui/compat/textual_private.py). It is what a user sees:
scrolled-off history, folded thinking panels and hidden widgets are absent, modals show over
their background. It renders from the widgets' current state, so call `await pilot.pause()`
first when a layout change (a mount, a fold) has to happen before the check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

from textual.pilot import Pilot
from textual.widget import Widget
from textual.worker import WorkerCancelled

from glmchat import paths
from glmchat.config import load_settings
from glmchat.credentials import CredentialStore
from glmchat.store import Conversation, SessionStore, StoredMessage
from glmchat.tui.app import GlmChatApp
from glmchat.tui.compat.textual_private import screen_rows
from glmchat.tui.widgets.chat_pane import ChatPane
from tests.wire_server import SSE_DONE, sse_data

API_KEY = "sk-test-0123456789abcd"
SIZE = (120, 40)

# --- the app ---------------------------------------------------------------------------------


def build_app(*, resume: str | None = None, model: str | None = None) -> GlmChatApp:
    """The app as `glmchat` builds it, from config.toml and credentials in the test's dirs."""
    return GlmChatApp(
        load_settings(),
        store=SessionStore(paths.database_path()),
        credentials=CredentialStore(),
        resume=resume,
        model=model,
    )


@asynccontextmanager
async def running(
    app: GlmChatApp | None = None, *, size: tuple[int, int] = SIZE, **kw: Any
) -> AsyncIterator[Pilot[int]]:
    """Run the app headless; its store is closed afterwards."""
    app = app or build_app(**kw)
    app.animation_level = "none"  # tab underlines would make every key press wait for them
    try:
        async with app.run_test(size=size, notifications=True) as pilot:
            await pilot.pause()
            yield pilot
    finally:
        app.store.close()


def glm(pilot: Pilot[Any]) -> GlmChatApp:
    app = pilot.app
    assert isinstance(app, GlmChatApp)
    return app


def active(pilot: Pilot[Any]) -> ChatPane:
    pane = glm(pilot).active_pane
    assert pane is not None
    return pane


def record_notices(app: GlmChatApp) -> list[str]:
    """The app's notifications from now on (each still shown); before it runs, too."""
    notices: list[str] = []
    notice = app.notice  # what every toast goes through (notify too)

    def recording(message: str, **kw: Any) -> Any:
        notices.append(message)
        return notice(message, **kw)

    app.notice = recording  # type: ignore[method-assign]
    return notices


def record_drawn_rows(widget: Widget) -> list[int]:
    """The rows `widget` is asked to draw from now on (its `render_line`, the Line API)."""
    rows: list[int] = []
    render_line = widget.render_line

    def recording(y: int) -> Any:
        rows.append(y)
        return render_line(y)

    widget.render_line = recording  # type: ignore[method-assign]
    return rows


async def pick_search_hit(pilot: Pilot[Any], text: str) -> None:
    """Ctrl+R, search `text`, take the first hit."""
    await pilot.press("ctrl+r")
    await pilot.pause()
    await pilot.press(*text)
    await pilot.pause()
    await pilot.press("enter")


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 10.0
) -> None:
    """Poll `predicate` between short pauses; fail with `what` after `timeout` seconds."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}\n--- screen ---\n{screen_text(pilot.app)}")


async def wait_for_stream(pilot: Pilot[Any], pane: ChatPane | None = None) -> None:
    """Wait until the pane's stream (the active pane's by default) has ended and settled."""
    pane = pane or active(pilot)
    await wait_until(pilot, lambda: pane.streaming is None, "the stream to end")
    with suppress(WorkerCancelled):
        await pane.app.workers.wait_for_complete()
    await pilot.pause()


async def send(pilot: Pilot[Any], text: str) -> None:
    """Put a prompt in the active pane's box and press enter.

    The text is inserted rather than typed: each simulated key press waits for the app to go
    idle (~60 ms), and typing is covered by its own tests."""
    pane = active(pilot)
    pane.prompt.focus()
    pane.prompt.insert(text)
    await pilot.press("enter")


# --- the screen --------------------------------------------------------------------------


def screen_lines(app: Any) -> list[str]:
    """The text of every terminal row, as the user sees it now."""
    return screen_rows(app)


def screen_text(app: Any) -> str:
    return "\n".join(line.rstrip() for line in screen_lines(app))


def region_text(widget: Widget) -> str:
    """The visible text inside one widget's region of the screen."""
    region = widget.region
    lines = screen_lines(widget.app)[region.y : region.bottom]
    return "\n".join(line[region.x : region.right].rstrip() for line in lines)


# --- the wire ----------------------------------------------------------------------------


def sse(delta: dict[str, Any] | None = None, **top: Any) -> bytes:
    """One OpenAI-style stream chunk (framed by wire_server's one SSE builder)."""
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}}
    if "finish_reason" in top:
        choice["finish_reason"] = top.pop("finish_reason")
    return sse_data({"choices": [choice], **top})


USAGE = {
    "prompt_tokens": 1234,
    "completion_tokens": 567,
    "total_tokens": 1801,
    "prompt_tokens_details": {"cached_tokens": 200},
    "completion_tokens_details": {"reasoning_tokens": 42},
}


def stream(
    content: Iterable[str] = (),
    reasoning: Iterable[str] = (),
    *,
    holds: Mapping[int, threading.Event] | None = None,
    usage: dict[str, Any] | None = None,
    finish: str | None = "stop",
) -> Callable[[], Iterator[bytes]]:
    """A `Reply(chunks=...)` body: reasoning deltas, then content deltas, then the finish.

    `holds` maps a count of deltas sent to an event: the stream holds there until the test
    sets it, so a test can look at the screen mid-stream. While held it sends an SSE comment
    (which clients ignore) every 50 ms; the short blocking waits keep the process idle, which
    Pilot's key presses wait for. The server's one event loop also serves other panes' streams:
    give a held Reply a small `delay` so the loop gets a turn between pieces."""
    holds = dict(holds or {})

    def hold(index: int) -> Iterator[bytes]:
        gate = holds.get(index)
        deadline = time.monotonic() + 10
        while gate is not None and not gate.wait(0.05) and time.monotonic() < deadline:
            yield b": waiting\n\n"

    def chunks() -> Iterator[bytes]:
        deltas = [("reasoning_content", t) for t in reasoning] + [("content", t) for t in content]
        for index, (kind, text) in enumerate(deltas):
            yield from hold(index)
            yield sse({kind: text})
        yield from hold(len(deltas))
        if finish is not None:
            yield sse(finish_reason=finish, **({"usage": usage} if usage else {}))
            yield SSE_DONE

    return chunks


# --- the store ---------------------------------------------------------------------------


def saved(conversation_id: str | None) -> list[StoredMessage]:
    """The rows on disk for a conversation, read through a fresh store (works after the app)."""
    assert conversation_id, "the pane has no saved conversation"
    with SessionStore(paths.database_path()) as store:
        return list(store.get_conversation(conversation_id).messages)


def saved_conversation(conversation_id: str) -> Conversation:
    with SessionStore(paths.database_path()) as store:
        return store.get_conversation(conversation_id)


STAMP = "2026-01-15T09:30:00.000Z"


def message(role: str, content: str, *, position: int = 0, **kw: Any) -> StoredMessage:
    """A stored message with fixed timestamps (snapshots must not depend on the clock)."""
    return StoredMessage(
        id=0,
        conversation_id="",
        position=position,
        role=role,
        content=content,
        started=STAMP,
        finished=STAMP,
        **kw,
    )


def seed(
    conversation_id: str,
    title: str,
    messages: Iterable[StoredMessage],
    *,
    updated: str = STAMP,
    thinking: bool = True,
    model: str = "glm-4.5",
) -> str:
    """Insert a whole conversation with fixed ids and timestamps; returns its id."""
    conversation = Conversation(
        id=conversation_id,
        title=title,
        created=updated,
        updated=updated,
        model=model,
        provider="zai",
        thinking=thinking,
        system_prompt=None,
        messages=tuple(messages),
    )
    with SessionStore(paths.database_path()) as store:
        [(_, stored_id)] = store.insert_conversations([conversation])
    assert stored_id == conversation_id
    return stored_id
