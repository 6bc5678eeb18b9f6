"""Streaming splitter for a leading <think>…</think> block inside content deltas."""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that could be the start of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


class ThinkTagSplitter:
    """Splits content into (reasoning, content) while tags may be cut across deltas.

    Only a `<think>` at the start of the answer (after whitespace) opens a thinking block,
    so an answer that merely talks about the tag is left alone. Reasoning and the answer
    are stripped of the whitespace that hugs the tags, as llama.cpp's own parser does."""

    __slots__ = ("_state", "_pending")

    def __init__(self) -> None:
        self._state = "start"  # start -> thinking -> after -> content
        self._pending = ""

    @property
    def passthrough(self) -> bool:
        """True once the answer has begun: every later delta is content as it is."""
        return self._state == "content" and not self._pending

    @property
    def thinking(self) -> bool:
        return self._state == "thinking"

    def feed(self, text: str) -> tuple[str, str]:
        if self._state == "content":
            return "", text  # the common case once the answer has begun
        reasoning: list[str] = []
        content: list[str] = []
        text = self._pending + text
        self._pending = ""
        while text:
            if self._state == "start":
                stripped = text.lstrip()
                if not stripped:
                    self._pending = text
                    break
                if stripped.startswith(OPEN):
                    self._state = "thinking-start"
                    text = stripped[len(OPEN) :]
                elif OPEN.startswith(stripped):
                    self._pending = text
                    break
                else:
                    self._state = "content"
            elif self._state == "thinking-start":
                stripped = text.lstrip()
                if not stripped:
                    break
                self._state = "thinking"
                text = stripped
            elif self._state == "thinking":
                end = text.find(CLOSE)
                if end >= 0:
                    reasoning.append(text[:end].rstrip())
                    text = text[end + len(CLOSE) :]
                    self._state = "after"
                    continue
                keep = _partial_suffix(text, CLOSE)
                body = text[: len(text) - keep]
                # Hold back trailing whitespace: it may turn out to hug `</think>`.
                visible = body.rstrip()
                reasoning.append(visible)
                self._pending = body[len(visible) :] + text[len(text) - keep :]
                break
            elif self._state == "after":
                stripped = text.lstrip()
                if not stripped:
                    break
                self._state = "content"
                text = stripped
            else:
                content.append(text)
                break
        return "".join(reasoning), "".join(content)

    def flush(self) -> tuple[str, str]:
        """End of stream: whatever is held back is released where it belongs."""
        pending, self._pending = self._pending, ""
        if self._state in ("thinking", "thinking-start"):
            return pending.rstrip(), ""
        if self._state == "start":
            return "", pending
        return "", ""
