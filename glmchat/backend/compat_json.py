"""json.loads for the per-token path, through json's document scanner: the one stdlib detail
glmchat relies on that is not public API (tripwire: tests/test_compat.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# JSONDecoder.__init__ sets `scan_once` (json/decoder.py, the C scanner when _json is built);
# typeshed leaves it out because it is undocumented. Called directly it skips json.loads's
# wrapper layers (type checks, a decoder lookup, a regex for the trailing whitespace).
_scan_once: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]


def loads(data: str) -> Any:
    """json.loads without its wrapper layers: this runs once per token. Raises ValueError
    (json.JSONDecodeError is one) for what json.loads rejects."""
    try:
        doc, end = _scan_once(data, 0)
    except StopIteration:
        return json.loads(data)  # leading whitespace, or not JSON: let json say which
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if end != len(data) and data[end:].strip():
        raise ValueError("extra data after JSON")
    return doc
