"""rich's Markdown renderer fed with markdown-it tokens parsed elsewhere, one block at a time.

The one module that relies on rich's and markdown-it's internals (rich 15.0, markdown-it-py
4.3, both pinned in pyproject.toml). What it relies on, each checked by tests/test_compat.py:

- rich's `Markdown` parses with `MarkdownIt().enable("strikethrough").enable("table")` into
  its `parsed` attribute and renders from that attribute alone (ours adds `breaks`);
- `Markdown.elements` maps a token type to the element class that renders it, and each
  element class's `new_line` says whether a blank line follows it;
- rich renders an empty `html_block` token as nothing, yet it sets the blank-line flag;
- `CodeBlock` keeps `lexer_name` and `theme`, and its text in `text`; rich's `Syntax` builds a
  lexer by name with `stripnl=False, ensurenl=True, tabsize=4`;
- markdown-it's core rules `inline` and `text_join` (in `markdown_it.rules_core`) are what a
  parse runs after the block rules, and its `env["references"]` holds each link reference
  definition as a dict with `href`, `title` and `map` (its source lines);
- rich's `CodeBlock.create` names the lexer by the fence's info string up to its first space
  ("text" when empty), and pygments' `RegexLexer.get_tokens_unprocessed` keeps its state in
  the local list `statestack`, changed in place, and takes a start stack (`state_at`).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore, inline, text_join
from markdown_it.token import Token
from pygments.lexer import ExtendedRegexLexer, Lexer, RegexLexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Markdown, UnknownElement
from rich.segment import Segment
from rich.syntax import Syntax

__all__ = [
    "BLOCK_PARSER",
    "FENCE_STATE",
    "START",
    "State",
    "fence_lexer",
    "state_at",
    "PARSER",
    "Env",
    "Line",
    "TokenRenderer",
    "markdown_of",
    "new_env",
    "new_line_after",
    "parse_inline",
    "references",
    "references_ending_by",
    "references_key",
]

# A rendered line: rich segments.
Line = list[Segment]
# markdown-it's parse environment (it collects the link reference definitions).
Env = dict[str, Any]

# The same parser rich.markdown.Markdown builds for itself, shared because building one is not free,
# with one rule more (`_line_breaks_kept`).
PARSER = MarkdownIt().enable("strikethrough").enable("table")
# The same without inline parsing, to find the blocks of a text: less than half the cost, and
# the inline parsing is done (see `parse_inline`) only for the blocks rendered.
BLOCK_PARSER = MarkdownIt().enable("strikethrough").enable("table").disable(["inline", "text_join"])


def _line_breaks_kept(state: StateCore) -> None:
    """A line break inside a paragraph is a line break on screen, as in chat clients (what
    markdown-it's `breaks` option does for HTML): models write poems, addresses and steps one
    per line without Markdown's two trailing spaces, and CommonMark's soft break (a space, as
    rich renders it) ran them together into one line."""
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"


PARSER.core.ruler.push("line_breaks_kept", _line_breaks_kept)


def markdown_of(text: str, code_theme: str = "monokai") -> Markdown:
    """rich's Markdown of a whole text, parsed as glmchat parses it (line breaks kept): what a
    message's incremental render must come out as (tests, benchmarks)."""
    markdown = Markdown(text, code_theme=code_theme)
    markdown.parsed = PARSER.parse(text)
    return markdown


def parse_inline(tokens: list[Token], env: Env) -> None:
    """The inline part of a parse by `BLOCK_PARSER`: afterwards the tokens are `PARSER`'s."""
    state = StateCore("", PARSER, env, tokens)
    inline(state)
    text_join(state)
    _line_breaks_kept(state)


def new_env(known: Mapping[str, Any]) -> Env:
    """A parse environment that starts with the link reference definitions `known`."""
    return {"references": dict(known)}


def references(env: Env) -> dict[str, Any]:
    """The link reference definitions of a parse environment, by label."""
    found: dict[str, Any] = env.get("references", {})
    return found


def references_ending_by(env: Env, line: int) -> dict[str, Any]:
    """The link reference definitions of `env` whose source ends by line `line`."""
    return {label: ref for label, ref in references(env).items() if ref["map"][1] <= line}


def references_key(known: Mapping[str, Any]) -> int:
    """Fingerprint of a set of link reference definitions (0 for none)."""
    if not known:
        return 0
    return hash(tuple(sorted((k, v["href"], v["title"]) for k, v in known.items())))


def new_line_after(first: Token) -> bool:
    """rich's blank-line flag after a top-level block starting with token `first`."""
    # The flag is that of the block's own element (False only for a rule).
    element = Markdown.elements.get(first.type) or UnknownElement
    return element.new_line


@lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer:
    # rich's Syntax looks a lexer up by name (and builds a new one) on every render; a 30 Hz
    # re-render of an open code block spent a fifth of its time there. Same options as rich
    # (Syntax's default tab size is 4).
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=True, tabsize=4)
    except ClassNotFound:
        return get_lexer_by_name("text", stripnl=False, ensurenl=True, tabsize=4)


def fence_lexer(info: str) -> Lexer:
    """The lexer rich's code block uses for a fence with this info string."""
    return _lexer(info.partition(" ")[0] or "text")


State = tuple[str, ...]  # a pygments RegexLexer's state stack ("root" first)
START: State = ("root",)


def state_at(lexer: Lexer, text: str, at: int, start: State = START) -> State | None:
    """The state pygments' lexer is in at offset `at` of `text`, lexed from state `start`,
    when a token begins there (or the text ends there); None when `at` falls inside a token
    (a comment or string matched whole across lines) or when the lexer's state cannot be
    seen (one that keeps it in a context object, as Ruby's and YAML's do). Plain text has
    no state: always START."""
    if _state_hidden(type(lexer)):
        return None
    if not isinstance(lexer, RegexLexer):
        return START
    # The base class's method (C's lexer wraps it in a loop of its own, only to retype some
    # names): its generator's frame holds `statestack`, the one list it changes as it goes.
    # When a token is handed over, the tokens before it have made their state changes.
    tokens = RegexLexer.get_tokens_unprocessed(lexer, text, start)
    stack: list[str] | None = None
    end = 0
    for index, _, value in tokens:
        if stack is None:
            stack = tokens.gi_frame.f_locals["statestack"]  # type: ignore[attr-defined]
        if index >= at:
            return tuple(stack) if index == at else None
        end = index + len(value)
    if stack is None:
        return start if at == 0 else None
    return tuple(stack) if end == at == len(text) else None


@functools.cache
def _state_hidden(lexer_class: type) -> bool:
    """Whether a lexer's state across lines is not its RegexLexer stack alone: one that keeps
    it in a context object (Ruby's, YAML's), whose own method takes no start stack (Lua's),
    or that hands parts of its text to another lexer (`using`: HTML's scripts and styles)."""
    if not issubclass(lexer_class, RegexLexer):
        return False  # plain text: no state at all
    if issubclass(lexer_class, ExtendedRegexLexer):
        return True
    method = lexer_class.get_tokens_unprocessed
    if "stack" not in method.__code__.co_varnames[: method.__code__.co_argcount]:
        return True
    # `_tokens`: the rules, compiled when the class made its first lexer (fence_lexer did).
    for rules in getattr(lexer_class, "_tokens", {}).values():
        for _, action, _ in rules:
            if any(_uses_another_lexer(callback) for callback in _callbacks(action)):
                return True
    return False


def _callbacks(action: Any) -> list[Any]:
    """An action and the callbacks in its closure (`bygroups(..., using(...))`), one deep."""
    cells = [c.cell_contents for c in getattr(action, "__closure__", None) or ()]
    return [action, *cells, *(i for c in cells if isinstance(c, tuple) for i in c)]


def _uses_another_lexer(callback: Any) -> bool:
    """A `using(OtherLexer)` callback (`using(this)` lexes with the same lexer, and a match
    is one piece anyway)."""
    if not getattr(callback, "__qualname__", "").startswith("using."):
        return False
    cells = [c.cell_contents for c in getattr(callback, "__closure__", None) or ()]
    return any(isinstance(c, type) and issubclass(c, Lexer) for c in cells)


def _started(lexer: Lexer, start: State) -> Lexer:
    """`lexer`, lexing from state `start` instead of its first."""
    if start == START:
        return lexer
    started = copy.copy(lexer)
    method = type(lexer).get_tokens_unprocessed
    started.get_tokens_unprocessed = lambda text: method(lexer, text, start)  # type: ignore[method-assign,call-arg]
    return started


class _CodeBlock(CodeBlock):
    """rich's code block, with a cached lexer; a piece of a streaming fence lexes from the
    state its first line is in (`FENCE_STATE` in the token's meta; open_fence.py)."""

    start: State = START

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> CodeBlock:
        block = super().create(markdown, token)
        block.start = token.meta.get(FENCE_STATE, START)  # type: ignore[attr-defined]
        return block

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip()
        # An open fence with no code yet may still be typing its language ("py", "pyt"...):
        # each unknown name costs pygments a scan of the installed plugins. Nothing to colour.
        lexer = _started(_lexer(self.lexer_name if code else "text"), self.start)
        yield Syntax(code, lexer, theme=self.theme, word_wrap=True, padding=1)


FENCE_STATE = "glmchat_state"  # a fence token's meta key: the lexer state it starts in


class _BlockMarkdown(Markdown):
    """rich's Markdown renderable, fed with tokens parsed elsewhere."""

    elements = {**Markdown.elements, "fence": _CodeBlock, "code_block": _CodeBlock}


# rich decides the blank line before a block from a `new_line` flag left by the last element it
# closed, which may be the previous block or an element nested inside this one (so a quote, list or
# table brings its own blank line, even first in the document, and a rule suppresses the next
# one). Rendering a block alone starts with the flag off; this invisible top-level token (an HTML
# block, which rich renders as nothing) turns it on, so each block is rendered exactly as it is
# inside the whole document.
_FLAG_ON = Token("html_block", "", 0, content="", block=True)


@functools.cache
def _template(code_theme: str) -> _BlockMarkdown:
    """One prepared Markdown per code theme, shared: each render copies it (its markdown-it
    parser took 0.1 ms to build, for every message mounted)."""
    return _BlockMarkdown("", code_theme=code_theme)


class TokenRenderer:
    """Renders one top-level block's tokens to lines, exactly as rich renders it in a document."""

    def __init__(self, code_theme: str = "monokai") -> None:
        self._template = _template(code_theme)

    def render(
        self,
        console: Console,
        source: str,
        tokens: list[Token],
        width: int,
        *,
        new_line_before: bool,
    ) -> list[Line]:
        """Lines of the block at `width`; `new_line_before` is rich's flag as the block starts."""
        # A copy of a prepared Markdown with our tokens swapped in: Markdown() would re-parse.
        markdown = copy.copy(self._template)
        markdown.markup = source
        markdown.parsed = [_FLAG_ON, *tokens] if new_line_before else tokens
        options = console.options.update_width(width).update(height=None)
        segments = console.render(markdown, options)
        return list(
            Segment.split_and_crop_lines(segments, width, include_new_lines=False, pad=False)
        )
