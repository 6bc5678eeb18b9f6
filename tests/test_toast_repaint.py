"""What leaves the screen while an answer streams is painted over (found by QA: an expired
toast stayed on the prompt box until the answer ended)."""

from __future__ import annotations

from glmchat.tui.compat.textual_private import screen_rows
from tests.test_compat import _recorded
from tests.tui_helpers import active, glm, running, send, stream, wait_until
from tests.wire_server import Reply, WireServer


async def test_an_expired_toast_leaves_no_trace_while_an_answer_streams(zai: WireServer) -> None:
    """The answer's height steps lay out only what is in view; the full layout after a toast
    goes compared the new map with one rebuilt after the toast had gone, so the rows it
    covered were never painted again. Toasts of several lifetimes, each checked on the
    terminal as written, against the screen as it is."""
    lines = [f"line {i} of the answer\n\n" for i in range(300)]  # a height step every few
    zai.reply(Reply(chunks=stream(lines), delay=0.01))
    async with running() as pilot:
        app = glm(pilot)
        width, height = app.size
        terminal = _recorded(app, width, height)
        app.screen.refresh()
        await pilot.pause()
        pane = active(pilot)
        await send(pilot, "talk")
        await wait_until(pilot, lambda: pane.streaming and pane.streaming.text, "the answer")
        for k in range(5):
            app.notify(f"Copied the partial answer ({k} characters).", timeout=0.2 + 0.07 * k)
            await pilot.pause(0.5)
            assert not list(app.screen.query("Toast")), "the toast should have expired"
            shown = ["".join(char for char, _ in row) for row in terminal.cells]
            now = screen_rows(app)
            stale = [(y, row) for y, row in enumerate(shown) if row != now[y]]
            assert not stale, (k, stale)
        assert pane.streaming is not None  # all of it while the answer streamed
