"""What a provider's error means: its body read (any shape we know), its status and code turned
into one ProviderError that says what to do (the classes: errors.py), and when to retry."""

from __future__ import annotations

import codecs
import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from glmchat.backend import errors as E
from glmchat.backend.providers import ProviderConfig
from glmchat.sentences import join_sentences
from glmchat.terminal_text import neutralize_controls

_CONTEXT_WORDS = re.compile(
    r"context[ _-]?(length|window)|maximum context|prompt (exceeds|is too long|too long)|"
    r"too many tokens|max(imum)? length|context_length_exceeded",
    re.IGNORECASE,
)
# "This model always engages in thinking and cannot be disabled; please use low, high, or max."
_THINKING_ALWAYS = re.compile(
    r"always (engages in )?think|think\w* (cannot|can ?not|can't) be (disabled|turned off)|"
    r"thinking\W+(type\W+)?(only|must be)\W+enabled",
    re.IGNORECASE,
)
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def parse_error_body(body: bytes) -> tuple[str | None, str, dict[str, Any]]:
    """(code, message, metadata) from any error body shape we know, or a short summary."""
    text = body.strip()
    try:
        doc = json.loads(text) if text else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        err = doc.get("error", doc)
        if isinstance(err, str):
            return None, err, {}
        if isinstance(err, dict):
            # Z.ai's Anthropic endpoint puts the business code in error.type (old) or .code.
            code = err.get("code")
            if code is None and isinstance(err.get("type"), str) and err["type"].isdigit():
                code = err["type"]
            message = err.get("message") or err.get("msg") or doc.get("message") or ""
            if not message and "detail" in doc:
                message = _detail_text(doc["detail"])
            metadata = err.get("metadata")
            code = None if code is None else one_line(str(code))[:40]
            return code, str(message), metadata if isinstance(metadata, dict) else {}
    if not text:
        return None, "", {}
    lowered = text[:512].lower()
    if lowered.startswith(b"<!doctype html") or b"<html" in lowered:
        match = _HTML_TITLE.search(text)
        title = match.group(1).decode("utf-8", "replace") if match else ""
        title = one_line(_TAGS.sub(" ", title))
        return None, f"an HTML error page{f' ({title})' if title else ''}", {}
    try:
        # final=False: a character cut by the size cap is not a sign of binary.
        codecs.utf_8_decode(text, "strict", False)
        binary = b"\0" in text
    except UnicodeDecodeError:
        binary = True
    if binary:
        # Compressed or binary bytes: never echo them to a terminal.
        return None, f"a body that is not text ({len(body)} bytes)", {}
    return None, one_line(text[:200].decode("utf-8", "ignore")), {}


def _detail_text(detail: Any) -> str:
    """A FastAPI/pydantic validation body's `detail` (a string, or items with `loc` and `msg`)
    as one line naming each field, like `messages.1.reasoning: Extra inputs are not
    permitted`: without the field the user cannot tell what was refused."""
    if isinstance(detail, str):
        return detail
    if not isinstance(detail, list):
        return ""
    parts = []
    for item in detail[:5]:
        if isinstance(item, dict):
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
            msg = str(item.get("msg") or item.get("type") or "")
            parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(part for part in parts if part)


def one_line(text: str) -> str:
    """A provider's words as one line with no control characters (an ESC from a server must
    not drive the user's terminal, a newline must not break the one-line error)."""
    return " ".join(neutralize_controls(text).split())


def retry_delay(headers: Mapping[str, str], metadata: Mapping[str, Any]) -> float | None:
    """Seconds to wait from Retry-After or X-RateLimit-Reset (epoch ms), if given."""
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.replace(".", "", 1).isdigit():
            return float(value)
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None  # a header we cannot read: fall back to our own backoff
        if parsed is not None:
            if parsed.tzinfo is None:
                return None
            return max(0.0, parsed.timestamp() - time.time())
    reset = reset_epoch(headers, metadata)
    if reset is not None:
        return max(0.0, reset - time.time())
    return None


def reset_epoch(headers: Mapping[str, str], metadata: Mapping[str, Any]) -> float | None:
    raw = headers.get("x-ratelimit-reset")
    if raw is None:
        meta_headers = metadata.get("headers") if isinstance(metadata, Mapping) else None
        if isinstance(meta_headers, Mapping):
            raw = meta_headers.get("X-RateLimit-Reset") or meta_headers.get("x-ratelimit-reset")
    try:
        value = float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
    if value is None:
        return None
    return value / 1000.0 if value > 1e11 else value  # OpenRouter sends epoch milliseconds


def _fmt_reset(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def set_key_hint(provider: ProviderConfig) -> str:
    """The sentence a refused key's error ends with (a screen that asks for the key itself
    leaves it out): where to set a valid key. A key from the environment wins over a saved
    one, so then the advice is to change it there (found by QA: set-key could not help)."""
    import os

    from glmchat.credentials import env_names

    for name in env_names(provider):
        if os.environ.get(name, "").strip():
            return f"The key in use comes from {name} in the environment: change or unset it."
    return f"Set a valid key with `glmchat config set-key {provider.name}`."


def classify_error(
    provider: ProviderConfig,
    status: int | None,
    code: str | None,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    mid_stream: bool = False,
) -> E.ProviderError:
    """Turn a status, a provider code and the provider's words into one ProviderError."""
    headers = headers or {}
    metadata = metadata or {}
    code_s = (code or "").strip()
    if status is None and len(code_s) == 3 and code_s.isdigit():
        status = int(code_s)  # OpenRouter's mid-stream errors carry the HTTP status as code
    name = provider.display_name
    raw = metadata.get("raw")
    words = one_line(message) or "no message"
    if isinstance(raw, str) and raw.strip():
        words = f"{words}: {one_line(raw[:300])}"
    where = ", ".join(
        part for part in (str(status) if status else "", f"code {code}" if code else "") if part
    )
    said = f" ({where}): {words}" if where else f": {words}"
    key_hint = set_key_hint(provider)
    kw: dict[str, Any] = {"http_status": status, "code": code, "provider": provider.name}
    limit_source = str(metadata.get("limit_source", ""))

    if mid_stream and not code_s.isdigit() and status is None:
        cls: type[E.ProviderError] = E.ServerError
        if code_s in ("rate_limit", "rate_limit_exceeded") or "rate" in code_s:
            cls = E.RateLimitError
        return cls(
            join_sentences(
                f"{name} failed in the middle of the answer{said}",
                "The partial answer is kept; retry for a complete one.",
            ),
            **kw,
        )
    if code_s in ("1113", "insufficient_quota", "billing_hard_limit_reached") or status == 402:
        if code_s == "1113":
            hint = (
                "Recharge the account; a GLM Coding Plan key works only with provider zai-coding."
            )
        else:
            hint = "Add credits to the account, or send a smaller max_tokens."
        return E.QuotaError(
            join_sentences(f"{name} says the account has no balance{said}", hint), **kw
        )
    if (
        code_s in ("1000", "1001", "1002", "1003", "1004")
        or status == 401
        or (status == 403 and provider.dialect != "openrouter")
    ):
        return E.AuthError(join_sentences(f"{name} rejected the API key{said}", key_hint), **kw)
    if (
        code_s in ("1261", "context_length_exceeded")
        or status == 413
        or (status in (None, 400, 422) and _CONTEXT_WORDS.search(message))
    ):
        return E.ContextLengthError(
            join_sentences(
                f"The conversation is too long for the model{said}",
                "Start a new conversation or shorten the prompt.",
            ),
            **kw,
        )
    if code_s == "1305" or status in (503, 529):
        return E.OverloadedError(
            join_sentences(
                f"{name} is overloaded{said}", "Retry in a minute or pick another model."
            ),
            retry_after=retry_delay(headers, metadata),
            **kw,
        )
    if status == 429 or code_s in ("1302", "1303"):
        reset = reset_epoch(headers, metadata)
        if "daily" in limit_source or "per-day" in message or code_s == "1311":
            when = f"It resets at {_fmt_reset(reset)}." if reset else None
            return E.QuotaError(
                join_sentences(
                    f"{name}: the daily request limit is used up{said}",
                    when,
                    "Add credits or wait for the reset.",
                ),
                **kw,
            )
        return E.RateLimitError(
            join_sentences(f"{name} is rate-limiting requests{said}", "Wait a little and retry."),
            retry_after=retry_delay(headers, metadata),
            **kw,
        )
    if status in (None, 400, 422) and _THINKING_ALWAYS.search(f"{message} {raw or ''}"):
        # GLM-5.3 and its kind: thinking cannot be turned off, only down (wire/TOOLS.md 1.5).
        return E.BadRequestError(
            join_sentences(
                f"{name}: this model always thinks and cannot turn thinking off{said}",
                "Pick an effort level instead: in the chat ctrl+t moves between low, high and "
                "max; with `glmchat ask`, leave out --no-think or use --think.",
            ),
            **kw,
        )
    if code_s == "1211" or status == 404:
        return E.BadRequestError(
            join_sentences(
                f"{name} does not know this model or endpoint{said}",
                f"List models with `glmchat models --provider {provider.name}`.",
            ),
            **kw,
        )
    if status is not None and status >= 500:
        return E.ServerError(
            join_sentences(f"{name} had a server error{said}", "Retry later."),
            retry_after=retry_delay(headers, metadata),
            **kw,
        )
    if status == 408:
        return E.ServerError(join_sentences(f"{name} timed out{said}", "Retry."), **kw)
    return E.BadRequestError(
        join_sentences(f"{name} rejected the request{said}", "Check the model name and settings."),
        **kw,
    )
