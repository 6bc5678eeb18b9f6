"""The floor: the least a Textual app can do to show a streamed reply, run by
`bench_tmux floor` in the same terminal, on the same stream, as the app.

    python bench/floor_app.py line      # the floor: one line, the reply's tail, 12 times a second
    python bench/floor_app.py log       # Textual's Log fed 12 times a second
    python bench/floor_app.py log-each  # Textual's Log fed each delta as it comes
    python bench/floor_app.py markdown  # Textual's Markdown widget fed by its MarkdownStream

It imports Textual and httpx, draws a one-line status bar ("thinking": the harness's first
paint) and a prompt, and on Enter streams the reply, parsing the SSE lines and JSON as any
client must, and appends the deltas (reasoning, then text) to its one widget. Nothing else: no
store, no engine, no tabs, no thinking panel, no wrapping in the Log. In `line` and `log` a
thread reads the stream with httpx's sync client (its cheapest read) and the app shows what
gathered 12 times a second: `line` is the least work a Textual app can do to show a stream at
all (one row of the reply's last characters, repainted, never laid out or scrolled); `log` adds
the scrolling. `log-each` and `markdown` are what a Textual client does first: httpx's async
client, each delta handed to the widget. Textual is capped at the app's default
frame rate (12 a second, TEXTUAL_FPS) so that all draw at most as often as glmchat.

The provider's URL is read from the config.toml the harness writes (GLMCHAT_CONFIG_DIR).
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from functools import partial
from pathlib import Path

os.environ.setdefault("TEXTUAL_FPS", "12")

import httpx  # noqa: E402
from rich.segment import Segment  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.containers import VerticalScroll  # noqa: E402
from textual.strip import Strip  # noqa: E402
from textual.widget import Widget  # noqa: E402
from textual.widgets import Input, Log, Markdown, Static  # noqa: E402


def _url() -> str:
    config = Path(os.environ["GLMCHAT_CONFIG_DIR"], "config.toml")
    return tomllib.loads(config.read_text())["providers"]["zai"]["base_url"]


class Tail(Widget):
    """One row: the last characters of the reply, a repaint of that row per update."""

    DEFAULT_CSS = "Tail { height: 1; }"
    text = ""

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        return Strip([Segment(self.text[-width:].ljust(width))], width)


class Floor(App[None]):
    CSS = """
    Log, #view { height: 1fr; }
    Tail, #status { height: 1; }
    #view > Markdown { height: auto; }
    """
    BINDINGS = [("ctrl+q", "quit", "Quit")]
    AUTO_FOCUS = "#prompt"

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._gathered: list[str] = []

    def compose(self) -> ComposeResult:
        if self.kind == "line":
            yield Tail(id="out")
        elif self.kind.startswith("log"):
            yield Log(id="out")
        else:  # Markdown is not scrollable: a scrolling view anchored at its end around it
            with VerticalScroll(id="view"):
                yield Markdown(id="out")
        yield Input(id="prompt")
        yield Static("glm-4.5 · thinking ON", id="status")

    def on_mount(self) -> None:
        if self.kind == "markdown":
            self.query_one("#view", VerticalScroll).anchor()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.kind in ("line", "log"):
            self.set_interval(1 / 12, self._flush)
            self.run_worker(partial(self._read, event.value), thread=True)
        else:
            self.run_worker(self._reply(event.value))

    def _read(self, prompt: str) -> None:
        """The floor: a thread reads with httpx's sync client (its cheapest read) and gathers
        the text; the app takes what gathered 12 times a second, one write to the Log."""
        with httpx.Client(timeout=None) as client:
            with client.stream("POST", _url() + "/chat/completions", json=_body(prompt)) as r:
                for line in r.iter_lines():
                    if text := _delta(line):
                        self._gathered.append(text)

    def _flush(self) -> None:
        if self._gathered:
            text, self._gathered[:] = "".join(self._gathered), []
            out = self.query_one("#out")
            if isinstance(out, Tail):
                out.text = (out.text + text).replace("\n", " ")[-200:]
                out.refresh()
            else:
                out.write(text)  # type: ignore[attr-defined]

    async def _reply(self, prompt: str) -> None:
        """What a Textual client does first: httpx's async client, each delta to the widget
        as it comes (the Markdown widget's stream gathers them while it renders)."""
        out = self.query_one("#out")
        stream = Markdown.get_stream(out) if isinstance(out, Markdown) else None
        async with httpx.AsyncClient(timeout=None) as client:
            url = _url() + "/chat/completions"
            async with client.stream("POST", url, json=_body(prompt)) as response:
                async for line in response.aiter_lines():
                    if not (text := _delta(line)):
                        continue
                    if stream is not None:
                        await stream.write(text)
                    else:
                        out.write(text)  # type: ignore[attr-defined]
        if stream is not None:
            await stream.stop()


def _body(prompt: str) -> dict[str, object]:
    message = {"role": "user", "content": prompt}
    return {"model": "glm-4.5", "stream": True, "messages": [message]}


def _delta(line: str) -> str:
    """An SSE line's reasoning and text, or ""."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return ""
    choices = json.loads(line[6:]).get("choices") or [{}]
    delta = choices[0].get("delta") or {}
    return (delta.get("reasoning_content") or "") + (delta.get("content") or "")


if __name__ == "__main__":
    Floor(sys.argv[1] if len(sys.argv) > 1 else "log").run()
