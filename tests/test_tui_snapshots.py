"""Snapshots of the main screens. Every state is built without the network or the clock.

Regenerate after a deliberate change (or a Textual upgrade) with
`pytest tests/test_tui_snapshots.py --snapshot-update`, look at the report, and copy
`__snapshots__/test_tui_snapshots/test_chat_with_folded_thinking.svg` to docs/screenshot.svg.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from glmchat.config import save_value
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage, thinking_title
from tests.tui_helpers import API_KEY, active, build_app, message, seed

SIZE = (100, 34)

Snap = Callable[..., bool]

ANSWER = """\
Use `functools.cache` when the arguments are hashable and the results are small:

```python
from functools import cache

@cache
def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)
```

- **`cache`** never evicts: memory grows with every new argument.
- **`lru_cache(maxsize=128)`** keeps the most recent calls only.
"""


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAI_API_KEY", API_KEY)


@pytest.fixture
def app_for() -> Iterator[Callable[..., Any]]:
    """Build apps whose stores are closed when the test ends."""
    apps: list[Any] = []

    def build(**kw: Any) -> Any:
        apps.append(build_app(**kw))
        return apps[-1]

    yield build
    for app in apps:
        app.store.close()


def steady(then: Callable[[Pilot[Any]], Awaitable[None]] | None = None) -> Callable[..., Any]:
    """A run_before that does `then`, and stops cursors blinking so frames are identical."""

    async def run_before(pilot: Pilot[Any]) -> None:
        pilot.app.animation_level = "none"
        if then is not None:
            await then(pilot)
        await pilot.pause()
        for widget in pilot.app.screen.query("TextArea, Input"):
            assert isinstance(widget, TextArea | Input)
            widget.cursor_blink = False
        await pilot.pause()

    return run_before


def _seed_chat() -> None:
    seed(
        "5ca1ab1e0001",
        "Memoize a Python function",
        [
            message("user", "How do I memoize a function in Python?", position=0),
            message(
                "assistant",
                ANSWER,
                position=1,
                reasoning="They want caching. functools.cache vs lru_cache; mention hashability.",
                timings={"thinking_seconds": 3.4},
                usage={
                    "prompt_tokens": 412,
                    "completion_tokens": 286,
                    "total_tokens": 698,
                    "reasoning_tokens": 57,
                },
            ),
        ],
    )


def test_chat_with_folded_thinking(snap_compare: Snap, keyed: None, app_for: Any) -> None:
    """A resumed chat: the prompt, a folded "Thought for 3.4 s · 57 tokens" panel, then the
    answer with a highlighted Python block and a list; the status bar shows in 412 · out 286
    and "$? · conv $?" (answers saved with usage but no cost: unknown, never a made-up 0)."""
    _seed_chat()
    app = app_for(resume="5ca1ab1e0001")
    assert snap_compare(app, terminal_size=SIZE, run_before=steady())


def test_thinking_while_it_streams(snap_compare: Snap, keyed: None, app_for: Any) -> None:
    """An answer still thinking: the panel is open under a live "Thinking… 1.5 s · ~24 tokens"
    title (an estimate) with the reasoning in it, no answer yet, and the status bar starts with
    streaming and ends with ~38 tok/s."""

    async def thinking(pilot: Pilot[Any]) -> None:
        pane = active(pilot)
        await pane.log_view.mount(UserMessage("Why is the sky blue?"))
        answer = AssistantMessage(streaming=True)
        await pane.log_view.mount(answer)
        answer.add_reasoning("The user asks about the sky's colour. Sunlight scatters off ")
        answer.add_reasoning("air molecules; shorter wavelengths scatter more (Rayleigh, ~1/λ⁴).")
        assert answer.thinking is not None
        answer.thinking.title = thinking_title(1.5, 24, exact=False, live=True)
        pane.status.set(rate=38.0, state="streaming")
        await pilot.pause(0.2)  # the Markdown view renders on its own timer

    app = app_for()
    assert snap_compare(app, terminal_size=SIZE, run_before=steady(thinking))


def test_error_on_an_answer(snap_compare: Snap, keyed: None, app_for: Any) -> None:
    """A failed answer: under the prompt, the provider's error in the error colour with the
    hint "retry: ctrl+p → Retry last answer"; the prompt is back in the box (it is not sent
    again: tests/test_fork_at_prompt.py)."""
    seed(
        "e440e4400001",
        "Summarise this",
        [
            message("user", "Summarise the attached report.", position=0),
            message(
                "assistant",
                "",
                position=1,
                status="error",
                error="Z.ai is rate limiting this key (429, code 1302): too many requests. "
                "Wait a moment and retry.",
            ),
        ],
    )
    app = app_for(resume="e440e4400001")
    assert snap_compare(app, terminal_size=SIZE, run_before=steady())


def test_session_picker(snap_compare: Snap, keyed: None, app_for: Any) -> None:
    """Ctrl+R over a new chat: the "Resume a conversation" dialog with a search box and three
    conversations, newest first, each with its date, title, model and message count."""
    _seed_chat()
    for index, title in enumerate(["Sourdough starter", "Trip planning"], 2):
        seed(
            f"5ca1ab1e000{index}",
            title,
            [message("user", f"About {title.lower()}?"), message("assistant", "Sure.")],
            updated=f"2026-01-1{index}T08:00:00.000Z",
        )

    async def open_picker(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+r")

    app = app_for()
    assert snap_compare(app, terminal_size=SIZE, run_before=steady(open_picker))


def test_key_modal(snap_compare: Snap, app_for: Any) -> None:
    """First run with no key: sending a prompt opens "API key for Z.ai" with a masked key
    (seven dots), the Save / Check and save / Cancel buttons, and the prompt kept behind."""
    save_value("providers.zai.base_url", "https://api.z.ai/api/paas/v4")

    async def ask(pilot: Pilot[Any]) -> None:
        pane = active(pilot)
        pane.prompt.insert("hello there")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*"sk-1234")

    app = app_for()
    assert snap_compare(app, terminal_size=SIZE, run_before=steady(ask))


def test_answer_with_a_folded_tool_call(snap_compare: Snap, keyed: None, app_for: Any) -> None:
    """A resumed tool loop as one answer: a folded "Thought for 1.2 s" panel, "Let me read
    it.", a folded "read_file · done in 0.1 s" panel, then the answer quoting the file."""
    call = {"id": "call_1", "name": "read_file", "arguments": '{"path": "TODO.md"}'}
    record = {**call, "title": "read_file", "status": "ok", "seconds": 0.08}
    seed(
        "70010000c411",
        "What is left to do?",
        [
            message("user", "What is left to do in TODO.md?", position=0),
            message(
                "assistant",
                "Let me read it.",
                position=1,
                reasoning="The user wants the TODO list; read the file first.",
                timings={"thinking_seconds": 1.2},
                tool_calls=[call],
            ),
            message(
                "tool",
                "- [ ] ship tools\n- [x] write tests",
                position=2,
                tool_call_id="call_1",
                tool_calls=[record],
            ),
            message("assistant", "One thing is left: **ship tools**.", position=3),
        ],
    )
    app = app_for(resume="70010000c411")
    assert snap_compare(app, terminal_size=SIZE, run_before=steady())


def test_an_answer_with_other_versions(snap_compare: Snap, keyed: None, app_for: Any) -> None:
    """A regenerated answer: "‹ 2/2 ›" above it (the first version is kept as a branch), and a
    prompt edited once: "‹ 2/2 ›" on its first line; the last answer is selected (tinted)."""
    from glmchat import paths
    from glmchat.store import SessionStore

    with SessionStore(paths.database_path()) as store:
        conv = store.create_conversation(
            model="glm-4.5", provider="zai", thinking=False, title="Versions"
        )
        first = store.add_message(conv, "user", "Name a prime number.")
        store.add_message(conv, "assistant", "7", parent_id=first)
        answer = store.add_message(conv, "assistant", "11, divisible by 1 and 11.", parent_id=first)
        store.add_message(conv, "user", "Name an odd one.", parent_id=answer)
        edited = store.add_message(conv, "user", "Name an even prime.", parent_id=answer)
        store.add_message(conv, "assistant", "2, the only even prime.", parent_id=edited)

    async def select_answer(pilot: Pilot[Any]) -> None:
        await pilot.press("alt+up")

    app = app_for(resume=conv)
    assert snap_compare(app, terminal_size=SIZE, run_before=steady(select_answer))
