"""Per-provider differences: the thinking switch, where reasoning arrives, error bodies."""

from __future__ import annotations

import codecs
import email.utils
import json
import re
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from glmchat.backend import errors as E
from glmchat.backend.capabilities import supports_tool_stream
from glmchat.backend.events import ChatRequest, Message
from glmchat.backend.providers import ProviderConfig
from glmchat.catalogue.shipped import shipped_info
from glmchat.sentences import join_sentences
from glmchat.terminal_text import neutralize_controls

# --------------------------------------------------------------------------- requests


def build_body(
    provider: ProviderConfig, request: ChatRequest, *, send_reasoning: bool = True
) -> dict[str, Any]:
    """The JSON body for POST /chat/completions.

    Reasoning goes back only on the messages that carry it (the engine sets it inside a tool
    loop), in the provider's `reasoning_field`; `send_reasoning=False` leaves it out (a server
    that refused it)."""
    field = provider.reasoning_field if send_reasoning else "none"
    # OpenRouter leaves out an empty `content` next to tool calls (as recorded); Z.ai and local
    # servers were recorded with it present, and some local servers refuse a null one.
    omit_empty = provider.dialect == "openrouter"
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for m in request.messages:
        if m.tool_calls or m.role == "tool" or m.reasoning or m.reasoning_details:
            messages.append(_tool_loop_message(m, field, omit_empty))
        else:
            messages.append({"role": m.role, "content": m.content})
    body: dict[str, Any] = {"model": request.model, "messages": messages, "stream": True}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    _add_thinking(body, provider, request)
    if provider.dialect == "openai":
        # Local servers send usage only when asked; Z.ai and OpenRouter always do.
        body["stream_options"] = {"include_usage": True}
    elif provider.dialect == "openrouter":
        # How OpenRouter documents asking for usage with its cost (`usage.cost`, which glmchat
        # shows): now sent anyway, the flag is a deprecated no-op it still accepts (TOOLS.md 7).
        body["usage"] = {"include": True}
    if request.tools:
        _add_tools(body, provider, request)
    if request.response_format is not None:
        body["response_format"] = request.response_format
    for key, value in provider.extra_body:
        body[key] = value
    if provider.dialect == "openrouter" and _wants_schema(request):
        # Support is per endpoint: route only to those that honour the schema (TOOLS.md 4),
        # keeping any routing preferences the config set.
        routing = body.get("provider")
        body["provider"] = {**(routing if isinstance(routing, dict) else {})}
        body["provider"].setdefault("require_parameters", True)
    return body


def _wants_schema(request: ChatRequest) -> bool:
    fmt = request.response_format
    return fmt is not None and fmt.get("type") == "json_schema"


def _add_thinking(body: dict[str, Any], provider: ProviderConfig, request: ChatRequest) -> None:
    """The thinking switch and effort, as the provider's `thinking_param` spells them."""
    thinking, effort = request.thinking, request.reasoning_effort
    if not thinking and _always_thinks(provider, request.model):
        # GLM-5.3 answers `thinking.type: disabled` with a 400 (code 1210): the lowest effort
        # is as far down as it goes (wire/TOOLS.md 8.8). The engine asks for that itself;
        # this holds for any request built for such a model.
        thinking, effort = True, "low"
    style = provider.thinking_param
    if style == "zai":
        body["thinking"] = {"type": "enabled" if thinking else "disabled"}
        if thinking and effort is not None:
            body["reasoning_effort"] = effort
    elif style == "openrouter":
        # An effort implies reasoning on; a model whose reasoning is mandatory never gets
        # `enabled: false` (see above).
        body["reasoning"] = {"effort": effort} if thinking and effort else {"enabled": thinking}
    elif style == "chat_template_kwargs":
        # vLLM and llama.cpp pass these to the GLM chat template.
        body["chat_template_kwargs"] = {"enable_thinking": thinking}
    elif style == "reasoning_effort":
        # Ollama's OpenAI layer: "none" turns thinking off for models that support it.
        body["reasoning_effort"] = (effort or "medium") if thinking else "none"


def _always_thinks(provider: ProviderConfig, model: str) -> bool:
    info = shipped_info(provider.name, provider.dialect, model)
    return info is not None and info.always_thinks


def _add_tools(body: dict[str, Any], provider: ProviderConfig, request: ChatRequest) -> None:
    """`tools`, `tool_choice` and Z.ai's `tool_stream` (wire/TOOLS.md 1.1, 1.3, 8.4, 8.10)."""
    zai = provider.dialect == "zai"
    # Z.ai's server-side tools (`web_search`, `retrieval`) mean nothing elsewhere, and an
    # unknown tool type is refused there: other providers get function tools only.
    tools = [t for t in request.tools if zai or t.get("type") == "function"]
    if not tools:
        return
    body["tools"] = tools
    functions = any(t.get("type") == "function" for t in tools)
    choice = request.tool_choice
    if choice is None and zai and functions:
        choice = "auto"  # Z.ai's documented (and only specified) choice
    if choice is not None:
        body["tool_choice"] = choice
    if request.tool_stream and functions and supports_tool_stream(provider, request.model):
        body["tool_stream"] = True


def _tool_loop_message(m: Message, field: str, omit_empty: bool) -> dict[str, Any]:
    """A message of a tool loop: an assistant message with its calls (and the reasoning that
    led to them), or a tool result."""
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.role == "tool":
        out["tool_call_id"] = m.tool_call_id or ""
        return out
    if m.tool_calls:
        if omit_empty and not m.content:
            del out["content"]
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": call.type or "function",
                "function": {"name": call.name, "arguments": _wire_arguments(call.arguments)},
            }
            for call in m.tool_calls
        ]
    if m.role != "assistant" or field == "none":
        return out
    if field == "reasoning_details":
        if m.reasoning_details:
            out["reasoning_details"] = [dict(item) for item in m.reasoning_details]
        elif m.reasoning:
            out["reasoning"] = m.reasoning
        return out
    text = m.reasoning or _details_text(list(m.reasoning_details))
    if text:
        out[field] = text
    return out


@lru_cache(maxsize=1024)
def _wire_arguments(arguments: str) -> str:
    """A call's arguments as they go back in history: byte for byte when they are a JSON
    object, else `{}`. A call cut short (or with no arguments) would otherwise be refused
    on every later request of the conversation (Z.ai 1210, Ollama 400), and local chat
    templates need an object. Cached: the same history goes out again every round."""
    try:
        return arguments if type(json.loads(arguments)) is dict else "{}"
    except (ValueError, RecursionError):
        return "{}"


# --------------------------------------------------------------------------- stream chunks


def read_reasoning(delta: Mapping[str, Any]) -> str | None:
    """`reasoning_content` (Z.ai, vLLM <= 0.10, llama.cpp), else `reasoning` (OpenRouter,
    Ollama, vLLM >= 0.11). `reasoning_details` duplicates `reasoning` and is ignored."""
    value = delta.get("reasoning_content")
    if value is None:
        value = delta.get("reasoning")
    if value is None and delta.get("reasoning_details"):
        return _details_text(delta["reasoning_details"])
    return value if isinstance(value, str) else None


def _details_text(details: Any) -> str | None:
    """Readable text from OpenRouter's reasoning_details, used only when `reasoning` is absent
    (encrypted entries carry no text)."""
    if not isinstance(details, list):
        return None
    parts = []
    for item in details:
        if isinstance(item, dict):
            text = (
                item.get("text") if item.get("type") != "reasoning.summary" else item.get("summary")
            )
            if isinstance(text, str):
                parts.append(text)
    return "".join(parts) if parts else None


# Part types that carry answer text, and those that carry reasoning (with the keys their text
# may sit under): OpenAI's `text`/`refusal`, Anthropic-style `thinking`, Mistral's `thinking`
# (a list of text parts), vLLM/OpenRouter-style `reasoning`.
_TEXT_PARTS = {"text": ("text",), "output_text": ("text",), "refusal": ("refusal", "text")}
_REASONING_PARTS = {
    "thinking": ("thinking", "text"),
    "reasoning": ("reasoning", "text", "content"),
    "reasoning_text": ("text", "reasoning"),
    "reasoning.text": ("text", "reasoning"),
}


def content_parts(parts: Any) -> list[tuple[bool, str]]:
    """`(is_reasoning, text)` pieces from a `content` sent as a list of typed parts.

    Raises ValueError naming what it could not read: an unknown part is never dropped quietly."""
    if type(parts) is not list:
        what = type(parts).__name__
        raise ValueError(f"content that is neither text nor a list of parts ({what})")
    out: list[tuple[bool, str]] = []
    for part in parts:
        if type(part) is str:
            out.append((False, part))
            continue
        if type(part) is not dict:
            raise ValueError("a content part that is not a JSON object")
        kind = part.get("type")
        keys = _TEXT_PARTS.get(kind) if type(kind) is str else None
        reasoning = False
        if keys is None and type(kind) is str:
            keys = _REASONING_PARTS.get(kind)
            reasoning = True
        if keys is None:
            raise ValueError(f"a content part of type {json.dumps(kind)[:60]}")
        text = _part_text(part, keys)
        if text is None:
            raise ValueError(f"a {kind!r} content part without text")
        if text:
            out.append((reasoning, text))
    return out


def _part_text(part: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = part.get(key)
        if type(value) is str:
            return value
        if type(value) is list:  # Mistral: "thinking": [{"type": "text", "text": "..."}]
            pieces = [item.get("text") if type(item) is dict else item for item in value]
            if all(type(piece) is str for piece in pieces):
                return "".join(pieces)  # type: ignore[arg-type]
            return None
    return None


# --------------------------------------------------------------------------- errors

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
    key_hint = f"Set a valid key with `glmchat config set-key {provider.name}`."
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
