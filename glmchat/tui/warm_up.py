"""The one-time costs of the first answer, paid after the first paint, one step at a time."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable


def _import_http_stack() -> None:
    # httpx (20 ms), its transport (httpcore, h11), made when the first client is, and its
    # async backend, on the first request: 40 ms on the way to the first token otherwise.
    for module in ("glmchat.backend.openai_compat", "httpcore", "h11", "anyio._backends._asyncio"):
        try:
            importlib.import_module(module)
        except ImportError:  # pragma: no cover - those packages' layout is their business
            pass


def _build_tls_context() -> None:
    from glmchat.backend.openai_compat import shared_ssl_context

    shared_ssl_context()


def _compile_patterns() -> None:
    from glmchat.token_estimate import estimate_tokens

    estimate_tokens("字")


def _render_a_sample() -> None:
    from glmchat.tui.widgets.markdown_view import warm_up

    warm_up()


def freeze_what_lives_on() -> None:
    """Everything made so far (modules, widgets, styles: about 100,000 objects) lives as long as
    the app. Left to the garbage collector, each full collection walks all of them: 20-50 ms
    pauses in the middle of a streaming answer. Frozen, it skips them.

    While the launcher has the collector off (cli/launch.py), nothing is frozen: what start-up
    left behind is collected first, by the last step."""
    if gc.isenabled():
        gc.freeze()


def _collect_start_up_garbage() -> None:
    # The launcher turned the collector off on the way to the first paint: one collection of
    # what start-up and the steps above left behind, then the rest is frozen and the collector
    # is on again. The last step, not the first: a collection holds the interpreter's lock for
    # its 20-40 ms, and the first frame is still being written by Textual's writer thread.
    if not gc.isenabled():
        gc.collect()
        gc.enable()
        gc.freeze()


# The one-time costs of the first answer, each 3-40 ms, paid after the first paint: the HTTP
# stack's imports, the TLS certificate store, the token estimate's pattern, the Markdown
# modules, a lexer and a first render; then the garbage start-up left.
WARM_UP_STEPS: tuple[Callable[[], None], ...] = (
    _import_http_stack,
    _build_tls_context,
    _compile_patterns,
    _render_a_sample,
    _collect_start_up_garbage,
)
