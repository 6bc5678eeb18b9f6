"""The pane's status line: model, thinking mode, token counts, context use and speed."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual.widgets import Static

CONTEXT_WINDOW = 128_000


@dataclass(frozen=True, slots=True)
class StatusInfo:
    provider: str = ""
    model: str = ""
    thinking: bool = True
    tokens_in: int = 0
    tokens_out: int = 0
    cached: int = 0
    context: int = 0
    rate: float | None = None  # live tokens per second while streaming
    state: str = ""  # "streaming", "retry in 4 s", "stopped", ...


def _k(n: int) -> str:
    return f"{n / 1000:.1f}K" if n >= 10_000 else str(n)


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.info = StatusInfo()

    def set(self, **changes: object) -> None:
        info = replace(self.info, **changes)  # type: ignore[arg-type]
        if info != self.info:
            self.info = info
            self.update(self.render_info(info), layout=False)  # one fixed line: no re-layout

    @staticmethod
    def render_info(info: StatusInfo) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{info.provider}/{info.model}", style="bold")
        text.append("  thinking ")
        text.append(
            "ON" if info.thinking else "OFF", style="bold green" if info.thinking else "bold"
        )
        text.append(f"  in {_k(info.tokens_in)} · out {_k(info.tokens_out)}")
        if info.cached:
            text.append(f" · cached {_k(info.cached)}")
        pct = 100 * info.context / CONTEXT_WINDOW
        text.append(f"  context {_k(info.context)}/128K ({pct:.0f}%)")
        if info.rate is not None:
            text.append(f"  {info.rate:.0f} tok/s")
        if info.state:
            text.append(f"  {info.state}", style="bold yellow")
        return text
