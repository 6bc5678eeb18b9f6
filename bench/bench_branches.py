"""Switching branch at message 500 of a 1,000-message conversation (issue 16): target < 100 ms.

A saved 1,000-message conversation (300-token Markdown answers) gets a second version of its
500th message (an answer); the app resumes it headless (`App.run_test`, 120x40) and `]` / `[`
switch between the two versions with the answer selected: to the short branch (500 messages,
where the answer is the last message) and back to the long one (1,000, where the answer is
shown at the top and the rest of its branch below it). Two figures per switch, medians of
RUNS rounds:

- painted: from the key to the first frame written to the terminal that shows the selected
  version (the log rebuilt, laid out and painted);
- settled: from the key to the screen having nothing left to do (the rest of the history
  window mounted in batches after the paint, the footer's keys for the selected message).

    python -m bench.bench_branches
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

from textual.widget import Widget

from bench.loopback import markdown_reply, seed_conversation

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
MESSAGES = 1000
AT = 500  # the message (1-based) that gets a second version: an answer


def _seed() -> str:
    """The conversation, its 500th message with a second version (the first one shown)."""
    from glmchat import paths
    from glmchat.store import SessionStore
    from glmchat.store.tree import path

    conversation_id = seed_conversation(MESSAGES)
    with SessionStore(paths.database_path()) as store:
        conversation = store.get_conversation(conversation_id)
        messages = path(conversation)
        at = messages[AT - 1]
        assert at.role == "assistant"
        leaf = conversation.current_leaf
        other = store.add_message(
            conversation_id, "assistant", "".join(markdown_reply(300)), parent_id=at.parent_id
        )
        assert other
        store.set_current_leaf(conversation_id, leaf)
    return conversation_id


async def _run(conversation_id: str) -> dict[str, list[float]]:
    from glmchat import paths
    from glmchat.config import load_settings
    from glmchat.credentials import CredentialStore
    from glmchat.store import SessionStore
    from glmchat.tui.app import GlmChatApp

    store = SessionStore(paths.database_path())
    app = GlmChatApp(
        load_settings(), store=store, credentials=CredentialStore(), resume=conversation_id
    )
    times: dict[str, list[float]] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        app.animation_level = "none"
        await pilot.pause(0.5)  # the history window is mounted
        pane = app.active_pane
        assert pane is not None
        shown: list[float] = []
        targets: list[Widget] = []
        display = app._display

        def displaying(screen: Any, update: Any) -> None:
            # The frame that first shows the switched message: laid out, and on the screen.
            display(screen, update)
            region = targets[0].region if targets else None
            if not shown and region and region.overlaps(app.screen.region):
                shown.append(time.perf_counter())

        app._display = displaying  # type: ignore[method-assign]
        for _ in range(RUNS):
            for step, name in ((1, "to_short"), (-1, "to_long")):
                index = AT - 1  # both branches share the first 499 messages
                assert pane.engine.turns[index].role == "assistant"
                settled = asyncio.Event()
                shown.clear()
                t0 = time.perf_counter()
                pane.branches.switch(index, step)
                turn = pane.engine.turns[index]
                log = pane.log_view.children
                targets[:] = [w for w in log if getattr(w, "turn", None) is turn] or [log[-1]]
                # After the screen's next idle moment with nothing left to lay out or paint.
                pane.log_view.call_after_refresh(settled.set)
                await settled.wait()
                times.setdefault(f"{name} settled", []).append(time.perf_counter() - t0)
                times.setdefault(f"{name} painted", []).append(shown[0] - t0)
                times.setdefault("widgets", []).append(len(pane.log_view.children))
                await pilot.pause(0.3)  # the rest of the window, mounted after the paint
        assert len(pane.engine.turns) == MESSAGES
    store.close()
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GLMCHAT_CONFIG_DIR"] = f"{tmp}/config"
        os.environ["GLMCHAT_DATA_DIR"] = f"{tmp}/data"
        os.environ["ZAI_API_KEY"] = "sk-bench-0000"
        conversation_id = _seed()
        times = asyncio.run(_run(conversation_id))
    print(f"switch at message {AT} of {MESSAGES}, {RUNS} rounds, medians:")
    for name, what in (("to_short", "to the 500-message branch"), ("to_long", "back to 1,000")):
        for figure in ("painted", "settled"):
            runs = times[f"{name} {figure}"]
            ms, worst = statistics.median(runs) * 1000, max(runs) * 1000
            print(f"  {what:<28} {figure}  {ms:6.1f} ms (worst {worst:.1f})")
    print(f"  log children when settled: at most {max(times['widgets']):.0f}")


if __name__ == "__main__":
    main()
