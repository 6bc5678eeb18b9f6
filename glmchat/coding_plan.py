"""Z.ai's GLM Coding Plan on the `zai-coding` provider: the once-only notice of its terms, and
its prompts counted in the five-hour window it is metered by."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

PROVIDER = "zai-coding"
WINDOW = timedelta(hours=5)
NOTICE = (
    "zai-coding is Z.ai's GLM Coding Plan: per Z.ai's terms it is meant for coding tools, and "
    "its quota is counted in prompts per five hours (set yours as [coding_plan] prompts). For "
    "other use, the zai provider bills the API by the token."
)
# In the data dir: its presence means the notice was shown.
_NOTICE_MARK = "coding-plan-notice-shown"


def first_use_notice(provider: str, data_dir: Path | None = None) -> str | None:
    """The notice, the first time ever that `provider` is the coding plan's; None after.

    Remembered in the data dir; where it cannot be written, the notice comes again next time
    rather than never."""
    if provider != PROVIDER:
        return None
    if data_dir is None:
        from glmchat.paths import data_dir as default_data_dir

        data_dir = default_data_dir()
    mark = data_dir / _NOTICE_MARK
    if mark.exists():
        return None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        mark.write_text("The coding plan notice was shown.\n", encoding="utf-8")
    except OSError:
        pass
    return NOTICE


def window_start(now: datetime) -> datetime:
    """Where the window that ends now begins. Z.ai does not say where its windows start, so
    glmchat counts the last five hours: never fewer prompts than the plan's own window."""
    return now - WINDOW


def plan_line(used: int, size: int | None) -> str:
    """The plan's line, like "coding plan: 37/120 prompts in the last 5 hours" (no size set:
    the count alone)."""
    hours = int(WINDOW.total_seconds() // 3600)
    of = f"/{size}" if size else ""
    return f"coding plan: {used}{of} prompts in the last {hours} hours"
