"""OpenRouter's live model list (GET {base_url}/models): parsed into ModelInfo, cached a day.

Prices there are strings of USD per token; the catalogue speaks USD per million tokens. The
cache is one JSON file in the data dir, written atomically; a cache that is old or unreadable
is never used (the caller asks OpenRouter again, or falls back to the shipped catalogue)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from glmchat.catalogue.model_info import ModelInfo, Thinking

CACHE_NAME = "openrouter-models.json"
MAX_AGE = 24 * 3600.0  # seconds: OpenRouter's prices move, but not by the hour
CACHE_VERSION = 2  # 1 kept the server's base_url itself


def _server_id(base_url: str) -> str:
    """Which server a cached list came from, without keeping its URL on disk: a base_url may
    carry a key in its path or query (`glmchat config` masks it; a file must not hold it)."""
    return hashlib.sha256(base_url.encode("utf-8")).hexdigest()


class CacheUnusable(Exception):
    """The cache is missing, too old, or not what glmchat wrote; the message says which."""


def cache_path() -> Path:
    from glmchat.paths import data_dir

    return data_dir() / CACHE_NAME


def _per_million(value: Any) -> float | None:
    """A per-token price string ("0.00000035") as USD per million tokens (0.35), exactly."""
    if value is None or isinstance(value, bool):
        return None
    try:
        price = Decimal(str(value)) * 1_000_000
    except InvalidOperation:
        return None
    return float(price) if price.is_finite() and price >= 0 else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _table(value: object) -> dict[str, Any]:
    """A JSON object of the document, or an empty one when the field is missing or not an object."""
    return value if isinstance(value, dict) else {}


def parse_models(doc: Any, provider: str, fetched: str) -> list[ModelInfo]:
    """Every model of an OpenRouter /models document, as ModelInfo with source "openrouter".
    Entries that are not objects with an id are skipped; missing figures stay None."""
    items = doc.get("data") if isinstance(doc, dict) else doc
    out: list[ModelInfo] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            continue
        pricing = _table(item.get("pricing"))
        top = _table(item.get("top_provider"))
        reasoning = _table(item.get("reasoning"))
        params = item.get("supported_parameters")
        thinking: Thinking | None = None
        if reasoning.get("mandatory") is True:
            thinking = "always"
        elif isinstance(params, list) and "reasoning" in params:
            thinking = "hybrid"
        efforts = reasoning.get("supported_efforts")
        default_effort = reasoning.get("default_effort")
        prices = (
            _per_million(pricing.get("prompt")),
            _per_million(pricing.get("input_cache_read")),
            _per_million(pricing.get("completion")),
        )
        out.append(
            ModelInfo(
                provider=provider,
                model=item["id"],
                known=True,
                context=_int(item.get("context_length")) or _int(top.get("context_length")),
                max_output=_int(top.get("max_completion_tokens")),
                thinking=thinking,
                efforts=tuple(e for e in efforts if isinstance(e, str))
                if isinstance(efforts, list)
                else (),
                default_effort=default_effort if isinstance(default_effort, str) else None,
                price_input=prices[0],
                price_cached=prices[1],
                price_output=prices[2],
                price_date=fetched[:10] if any(p is not None for p in prices) else None,
                price_source="OpenRouter's live model list" if prices[0] is not None else None,
                source="openrouter",
            )
        )
    return out


def write_cache(models: list[ModelInfo], base_url: str, path: Path | None = None) -> None:
    """Keep the list for a day (atomically: a reader sees the old file or the new one)."""
    from glmchat.paths import write_atomic

    doc = {
        "version": CACHE_VERSION,
        "server": _server_id(base_url),
        "fetched": time.time(),
        "models": [asdict(info) for info in models],
    }
    write_atomic(path or cache_path(), json.dumps(doc).encode("utf-8"), mode=0o644)


def read_cache(
    base_url: str, *, path: Path | None = None, now: float | None = None
) -> tuple[list[ModelInfo], float]:
    """The cached list and when it was fetched (epoch seconds); CacheUnusable says why not."""
    path = path or cache_path()
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise CacheUnusable("no cached list") from None
    except (OSError, ValueError) as exc:
        raise CacheUnusable(f"the cached list {path} is unreadable ({exc})") from None
    try:
        if doc["version"] != CACHE_VERSION or doc["server"] != _server_id(base_url):
            raise CacheUnusable("the cached list is for another server")
        fetched = float(doc["fetched"])
        models = [_info(item) for item in doc["models"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CacheUnusable(f"the cached list {path} is unreadable ({exc!r})") from None
    age = (time.time() if now is None else now) - fetched
    if not 0 <= age <= MAX_AGE:
        raise CacheUnusable(f"the cached list is from {fetched_text(fetched)}, over a day old")
    return models, fetched


def _info(item: dict[str, Any]) -> ModelInfo:
    item = dict(item)
    item["efforts"] = tuple(item.get("efforts") or ())
    return ModelInfo(**item)


def fetched_text(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def cached_info(provider: str, base_url: str, model: str) -> ModelInfo | None:
    """One model from a fresh cache, for lookups (the file is read again only when it
    changes); None when there is no fresh cache or the model is not in it."""
    path = cache_path()
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return None
    by_id = _cached_by_id(str(path), stamp, base_url)
    info = by_id.get(model)
    if info is None:
        return None
    return ModelInfo(**{**asdict(info), "provider": provider, "efforts": info.efforts})


@lru_cache(maxsize=4)
def _cached_by_id(path: str, stamp: int, base_url: str) -> dict[str, ModelInfo]:
    try:
        models, _ = read_cache(base_url, path=Path(path))
    except CacheUnusable:
        return {}
    return {info.model: info for info in models}
