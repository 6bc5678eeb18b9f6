"""Per-provider differences: the request body (thinking switch, tools) and where reasoning arrives.

What a provider's error body means is in provider_errors.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from glmchat.backend.capabilities import supports_tool_stream
from glmchat.backend.events import ChatRequest, Message

# `X as X` re-exports: error bodies were read here, and callers still import them from here.
from glmchat.backend.provider_errors import classify_error as classify_error
from glmchat.backend.provider_errors import parse_error_body as parse_error_body
from glmchat.backend.providers import ProviderConfig
from glmchat.catalogue.shipped import shipped_info

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
