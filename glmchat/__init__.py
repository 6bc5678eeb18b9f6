"""glmchat: a fast terminal chat client for GLM-4.5 models."""

import sys as _sys

__version__ = "0.1.0"

# httpx imports its own command-line client whenever click is installed (and the MCP SDK brings
# click): click, rich.progress and pygments' lexer tables, about 20 ms of every start-up and
# every `glmchat ask`, for a command glmchat never runs. Marked absent, the import fails and
# httpx defines a stub `main` instead (its documented fallback when its CLI extras are missing).
_sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
