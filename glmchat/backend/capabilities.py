"""What a provider's model accepts beyond the common request: the catalogue's word for the
models it knows, a rule by GLM series for those it does not (a newer or a vision id)."""

from __future__ import annotations

import re

from glmchat.backend.providers import ProviderConfig
from glmchat.catalogue.shipped import shipped_info

# `glm-4.6`, `glm-4.7-flash`, `glm-5`, `glm-5.3-flashx`, `GLM-4.6V`: the series is the number.
_GLM_SERIES = re.compile(r"glm-(\d+)(?:\.(\d+))?", re.IGNORECASE)
# Z.ai streams tool-call arguments (`tool_stream: true`) from GLM-4.6 on; the GLM-4.5 family
# is not listed, and what it does with the field is not documented (wire/TOOLS.md 1.3).
_TOOL_STREAM_FROM = (4, 6)


def glm_series(model: str) -> tuple[int, int] | None:
    """(major, minor) of a GLM model id (the last path segment), or None for another model."""
    match = _GLM_SERIES.match(model.rpartition("/")[2])
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def supports_tool_stream(provider: ProviderConfig, model: str) -> bool:
    """Whether `tool_stream: true` may be sent: the Z.ai family (Z.ai, its coding plan,
    BigModel) with GLM-4.6 or later. Without it Z.ai holds a call's arguments back until the
    call is complete, so a long argument means a long silence."""
    if provider.dialect != "zai":
        return False
    known = shipped_info(provider.name, provider.dialect, model)
    if known is not None and known.tool_stream is not None:
        return known.tool_stream
    series = glm_series(model)
    return series is not None and series >= _TOOL_STREAM_FROM
