"""An answer's reasoning: a foldable panel and its title (time spent, tokens)."""

from __future__ import annotations

from textual.content import Content

from glmchat.tui.literal import literal
from glmchat.tui.widgets.fold_in_place import FoldsInPlace


def thinking_title(seconds: float | None, tokens: int, *, exact: bool, live: bool) -> str:
    """The panel's title. `exact`: the provider's count, else an estimate (marked `~`);
    `seconds` None: no time was recorded (an imported answer), so none is shown."""
    count = f"{'' if exact else '~'}{tokens} token{'' if tokens == 1 else 's'}"
    if live:
        return f"Thinking… {seconds or 0.0:.1f} s · {count}"
    if seconds is None:
        return f"Thinking · {count}"
    return f"Thought for {seconds:.1f} s · {count}"


class ThinkingPanel(FoldsInPlace):
    """Reasoning in a foldable panel: open while it streams, folded when the answer starts."""

    DEFAULT_CSS = """
    ThinkingPanel {
        border: none;
        padding: 0;
        margin: 0;
        background: transparent;
    }
    ThinkingPanel > Contents {
        padding: 0 0 0 2;
        color: $text-muted;
    }
    """

    def __init__(
        self,
        text: str = "",
        *,
        title: str = "Thinking…",
        collapsed: bool = False,
        refresh_rate: float = 30.0,
    ) -> None:
        from glmchat.tui.widgets.markdown_view import StreamingMarkdown

        self.body = StreamingMarkdown(text, refresh_rate=refresh_rate, classes="thinking-body")
        super().__init__(self.body, title=literal(title), collapsed=collapsed)  # type: ignore[arg-type]

    def validate_title(self, title: str | Content) -> Content:
        # Titles are set as plain strings; Collapsible would read them as markup.
        return literal(title) if isinstance(title, str) else title
