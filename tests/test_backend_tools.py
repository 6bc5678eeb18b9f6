"""The backend's side of tools: what goes on the wire (tools, tool_choice, tool_stream,
response_format, tool-loop history with reasoning sent back per provider) and what comes off it
(tool calls as they stream, OpenRouter's reasoning_details, Z.ai's web_search results).

Request bodies are read by the loopback server; streams are parsed at awkward splits, through
the client and through the pure parser. Third-party recordings are read in place from the
shared wire folder (skipped when it is absent); the project's own fixtures are constructed."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from glmchat.backend import errors as E
from glmchat.backend.capabilities import supports_tool_stream
from glmchat.backend.chunks import parse_stream
from glmchat.backend.events import (
    ChatRequest,
    ContentDelta,
    Finish,
    Message,
    ReasoningDelta,
    StreamEvent,
    ToolCall,
    ToolCallDelta,
    Usage,
    WebSearchResults,
)
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.backend.providers import BUILTIN_PROVIDERS, ProviderConfig
from glmchat.backend.reasoning_details import ReasoningDetails
from glmchat.config import ConfigError, load_settings
from tests.wire_server import (
    FIXTURES,
    Reply,
    WireServer,
    fixture_reply,
    sidecar,
    sse_body,
    sse_data,
    sse_event,
)

AWKWARD = [1, 2, 3, 5, 8, 13, 1, 21, 34, 2, 55]  # then the rest in one piece
RECORDED = Path(__file__).resolve().parents[2] / "shared" / "wire" / "recorded"
ZAI_FAMILY = ("zai", "zai-coding", "bigmodel")
OTHERS = ("openrouter", "ollama", "openai")

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Get weather information for a location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
WEB_SEARCH = {"type": "web_search", "web_search": {"enable": True, "search_result": True}}
STOP = sse_body(sse_event({"content": "ok"}), sse_event({}, finish_reason="stop"))


async def no_sleep(_: float) -> None:
    return None


def client(wire: WireServer, provider: ProviderConfig) -> OpenAICompatClient:
    return OpenAICompatClient(provider, "sk-test-key-1234", base_url=wire.url, sleep=no_sleep)


def ask(model: str = "glm-4.7", *messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model, messages or (Message("user", "weather in Florence?"),), **kw)


async def drain(client: OpenAICompatClient, request: ChatRequest) -> list[StreamEvent]:
    return [event async for event in client.stream(request)]


async def sent_body(wire: WireServer, provider: ProviderConfig, request: ChatRequest) -> dict:
    """The JSON body the client put on the wire for `request`."""
    wire.reply(Reply(body=STOP))
    async with client(wire, provider) as c:
        await drain(c, request)
    return wire.requests[-1].json


# --------------------------------------------------------------------------- offering tools


@pytest.mark.parametrize(
    ("model", "streams"),
    [
        ("glm-4.5", False),
        ("glm-4.5-air", False),
        ("glm-4.5-flash", False),
        ("glm-4.5v", False),
        ("glm-4.6", True),
        ("GLM-4.6V", True),
        ("glm-4.7", True),
        ("glm-4.7-flash", True),
        ("glm-5", True),
        ("glm-5-turbo", True),
        ("glm-5.1", True),
        ("glm-5.3-flashx", True),
        ("glm-6", True),
        ("some-org/glm-4.7", True),
        ("charglm-4", False),
        ("gpt-4o", False),
    ],
)
def test_tool_stream_knowledge(model: str, streams: bool) -> None:
    for name in ZAI_FAMILY:
        assert supports_tool_stream(BUILTIN_PROVIDERS[name], model) is streams, name
    for name in OTHERS:  # only Z.ai knows the field
        assert supports_tool_stream(BUILTIN_PROVIDERS[name], model) is False, name


@pytest.mark.parametrize("name", ZAI_FAMILY)
@pytest.mark.parametrize(("model", "streams"), [("glm-4.5", False), ("glm-4.7", True)])
async def test_zai_family_gets_tools_auto_and_tool_stream_from_4_6(
    wire: WireServer, name: str, model: str, streams: bool
) -> None:
    body = await sent_body(
        wire, BUILTIN_PROVIDERS[name], ask(model, tools=(WEATHER,), tool_stream=True)
    )
    assert body["tools"] == [WEATHER]
    assert body["tool_choice"] == "auto"
    assert body.get("tool_stream") is (True if streams else None)
    assert body["stream"] is True


async def test_tool_stream_is_sent_only_when_asked(wire: WireServer) -> None:
    body = await sent_body(wire, BUILTIN_PROVIDERS["zai"], ask("glm-5", tools=(WEATHER,)))
    assert "tool_stream" not in body and body["tool_choice"] == "auto"


@pytest.mark.parametrize("name", OTHERS)
async def test_other_providers_get_function_tools_only_and_no_choice_of_ours(
    wire: WireServer, name: str
) -> None:
    request = ask("glm-4.7", tools=(WEATHER, WEB_SEARCH), tool_stream=True)
    body = await sent_body(wire, BUILTIN_PROVIDERS[name], request)
    assert body["tools"] == [WEATHER]  # Z.ai's server-side search means nothing here
    assert "tool_choice" not in body and "tool_stream" not in body
    # A choice the engine makes (a forced function, say) goes out as given.
    forced = {"type": "function", "function": {"name": "weather"}}
    body = await sent_body(
        wire, BUILTIN_PROVIDERS[name], ask("glm-4.7", tools=(WEATHER,), tool_choice=forced)
    )
    assert body["tool_choice"] == forced


@pytest.mark.parametrize("name", ZAI_FAMILY + OTHERS)
async def test_no_tools_means_no_tool_fields(wire: WireServer, name: str) -> None:
    body = await sent_body(
        wire, BUILTIN_PROVIDERS[name], ask("glm-4.7", tool_choice="auto", tool_stream=True)
    )
    assert not {"tools", "tool_choice", "tool_stream"} & body.keys()
    # Web search alone is no tool at all outside the Z.ai family.
    body = await sent_body(wire, BUILTIN_PROVIDERS[name], ask("glm-4.7", tools=(WEB_SEARCH,)))
    if name in ZAI_FAMILY:
        assert body["tools"] == [WEB_SEARCH]
        # No function to choose from or to stream the arguments of.
        assert "tool_choice" not in body and "tool_stream" not in body
    else:
        assert not {"tools", "tool_choice", "tool_stream"} & body.keys()


@pytest.mark.parametrize("name", ZAI_FAMILY + OTHERS)
async def test_response_format_goes_out_as_given(wire: WireServer, name: str) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    for response_format in ({"type": "json_object"}, schema):
        body = await sent_body(wire, BUILTIN_PROVIDERS[name], ask(response_format=response_format))
        assert body["response_format"] == response_format
    assert "response_format" not in await sent_body(wire, BUILTIN_PROVIDERS[name], ask())


# --------------------------------------------------------------------------- tool-loop history

ADD = ToolCall("call_4f8c11", "add", '{"a": 2,  "b":3}')
MUL = ToolCall("call_-7807255211226955507", "multiply", '{"a":2,"b":3, "note":"\\u00fc ü"}')
DETAILS = (
    {"type": "reasoning.text", "text": "Add and multiply.", "format": "unknown", "index": 0},
    {"type": "reasoning.encrypted", "data": "gAAAAB==", "format": "unknown", "index": 1},
)


def loop_history(*, details: tuple[dict[str, Any], ...] = ()) -> tuple[Message, ...]:
    return (
        Message("user", "Add and multiply 2 and 3"),
        Message(
            "assistant",
            "",
            tool_calls=(ADD, MUL),
            reasoning="The user wants both.",
            reasoning_details=details,
        ),
        Message("tool", "5", tool_call_id=ADD.id),
        Message("tool", "6", tool_call_id=MUL.id),
    )


def wire_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


RESULTS = [
    {"role": "tool", "tool_call_id": ADD.id, "content": "5"},
    {"role": "tool", "tool_call_id": MUL.id, "content": "6"},
]


@pytest.mark.parametrize(
    ("name", "details", "assistant"),
    [
        *[
            (name, (), {"content": "", "reasoning_content": "The user wants both."})
            for name in ZAI_FAMILY
        ],
        # OpenRouter: the blocks verbatim; an empty `content` left out, as recorded.
        ("openrouter", DETAILS, {"reasoning_details": [dict(d) for d in DETAILS]}),
        # BaseTen sends `reasoning_details: []`: then the `reasoning` string goes back.
        ("openrouter", (), {"reasoning": "The user wants both."}),
        ("ollama", (), {"content": "", "reasoning": "The user wants both."}),
        # A server of unknown make never gets a reasoning field (Mistral answers 422).
        ("openai", (), {"content": ""}),
    ],
)
async def test_tool_loop_history_per_provider(
    wire: WireServer, name: str, details: tuple[dict[str, Any], ...], assistant: dict
) -> None:
    request = ask("glm-4.7", *loop_history(details=details), tools=(WEATHER,))
    body = await sent_body(wire, BUILTIN_PROVIDERS[name], request)
    assert body["messages"] == [
        {"role": "user", "content": "Add and multiply 2 and 3"},
        {"role": "assistant", **assistant, "tool_calls": [wire_call(ADD), wire_call(MUL)]},
        *RESULTS,
    ]


@pytest.mark.parametrize("name", ZAI_FAMILY + OTHERS)
async def test_assistant_text_next_to_tool_calls_is_kept(wire: WireServer, name: str) -> None:
    said = Message("assistant", "I'll add them.\n\n", tool_calls=(ADD,))
    messages = (Message("user", "add"), said, Message("tool", "5", tool_call_id=ADD.id))
    body = await sent_body(wire, BUILTIN_PROVIDERS[name], ask("glm-4.7", *messages))
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "I'll add them.\n\n",
        "tool_calls": [wire_call(ADD)],
    }


@pytest.mark.parametrize("name", ZAI_FAMILY + OTHERS)
async def test_plain_turns_never_carry_reasoning(wire: WireServer, name: str) -> None:
    messages = (
        Message("user", "hi"),
        Message("assistant", "Hello!"),
        Message("user", "and now?"),
    )
    body = await sent_body(wire, BUILTIN_PROVIDERS[name], ask("glm-4.7", *messages, system="Be"))
    assert body["messages"] == [
        {"role": "system", "content": "Be"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "and now?"},
    ]


@pytest.mark.parametrize(
    ("arguments", "sent"),
    [
        ('{"a": 2,  "b":3}', '{"a": 2,  "b":3}'),
        ('{"path":"\\u00fcber.md"}', '{"path":"\\u00fcber.md"}'),  # escapes as they came
        ('{ "nested": {"k": [1, 2.50, null]} }\n', '{ "nested": {"k": [1, 2.50, null]} }\n'),
        ("{}", "{}"),
        # Not a JSON object: refused by Z.ai (1210) and Ollama (400) on every later request,
        # and local templates need an object.
        ("", "{}"),
        ('{"a": 2, "b"', "{}"),
        ("[1, 2]", "{}"),
        ("add(2, 3)", "{}"),
    ],
)
async def test_arguments_go_back_as_received(wire: WireServer, arguments: str, sent: str) -> None:
    call = ToolCall("call_1", "add", arguments)
    messages = (Message("user", "x"), Message("assistant", "", tool_calls=(call,)))
    for name in ("zai", "openrouter", "ollama"):
        body = await sent_body(wire, BUILTIN_PROVIDERS[name], ask("glm-4.7", *messages))
        assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == sent, name


# --------------------------------------------------------------------------- reasoning_field


def config_providers(tmp_path: Path, text: str) -> dict[str, ProviderConfig]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return dict(load_settings(path, environ={}).providers)


async def test_reasoning_field_is_a_provider_setting(wire: WireServer, tmp_path: Path) -> None:
    providers = config_providers(
        tmp_path,
        """
[providers.vllm]
base_url = "http://localhost:8000/v1"
reasoning_field = "reasoning"

[providers.llamacpp]
base_url = "http://localhost:8080/v1"
reasoning_field = "reasoning_content"

[providers.plain]
base_url = "http://localhost:9000/v1"

[providers.myzai]
base_url = "https://zai.example.com/v4"
dialect = "zai"

[providers.router]
base_url = "https://router.example.com/v1"
dialect = "openrouter"

[providers.zai]
reasoning_field = "none"
""",
    )
    expected = {
        "vllm": {"reasoning": "The user wants both."},
        "llamacpp": {"reasoning_content": "The user wants both."},
        "plain": {},  # a new OpenAI-compatible server: never, unless configured
        "myzai": {"reasoning_content": "The user wants both."},
        "router": {"reasoning": "The user wants both."},
        "zai": {},
    }
    for name, fields in expected.items():
        body = await sent_body(wire, providers[name], ask("glm-4.7", *loop_history()))
        reasoning = {k: v for k, v in body["messages"][1].items() if "reasoning" in k}
        assert reasoning == fields, name


def test_a_wrong_reasoning_field_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_providers(tmp_path, '[providers.ollama]\nreasoning_field = "thinking"\n')
    message = str(caught.value)
    assert "providers.ollama.reasoning_field" in message
    for choice in ("reasoning_content", "reasoning", "reasoning_details", "none"):
        assert f'"{choice}"' in message
    assert len(message.splitlines()) == 1


# Error bodies of servers that refuse a reasoning field on a message (wire/TOOLS.md 2.5, 8.7).
REFUSALS = [
    pytest.param(
        422,
        {
            "detail": [
                {
                    "type": "extra_forbidden",
                    "loc": ["body", "messages", 1, "assistant", "reasoning_content"],
                    "msg": "Extra inputs are not permitted",
                }
            ]
        },
        id="fastapi-422",
    ),
    pytest.param(
        422,
        {
            "object": "error",
            "message": {"detail": [{"loc": ["messages", 1, "reasoning_content"], "msg": "extra"}]},
            "type": "invalid_request_message_order",
        },
        id="mistral-422",
    ),
    pytest.param(
        400,
        {"error": {"message": "messages.1.reasoning_content: Extra inputs are not permitted"}},
        id="openai-400",
    ),
]


@pytest.mark.parametrize(("status", "error"), REFUSALS)
async def test_a_refused_reasoning_field_is_dropped_once_and_for_good(
    wire: WireServer, status: int, error: dict
) -> None:
    provider = dataclasses.replace(BUILTIN_PROVIDERS["openai"], reasoning_field="reasoning_content")
    refusal = Reply(
        body=json.dumps(error).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )
    wire.reply(refusal, Reply(body=STOP), Reply(body=STOP))
    async with client(wire, provider) as c:
        events = await drain(c, ask("glm-4.7", *loop_history()))
        assert "".join(e.text for e in events if isinstance(e, ContentDelta)) == "ok"
        # The next request of the loop does not try again.
        await drain(c, ask("glm-4.7", *loop_history()))
    sent = [r.json["messages"][1] for r in wire.requests]
    assert [("reasoning_content" in m) for m in sent] == [True, False, False]
    assert all(m["tool_calls"] == [wire_call(ADD), wire_call(MUL)] for m in sent)


async def test_a_400_that_names_no_reasoning_field_is_not_asked_again(wire: WireServer) -> None:
    provider = BUILTIN_PROVIDERS["zai"]
    bad = {"error": {"code": "1210", "message": "Invalid API parameter, please check the docs."}}
    named = {"error": {"message": "reasoning_content is not allowed here"}}
    for request, error in (
        (ask("glm-4.7", *loop_history()), bad),  # the error is about something else
        (ask("glm-4.7"), named),  # a plain turn sent no reasoning to drop
    ):
        wire.requests.clear()
        wire.reply(
            Reply(body=json.dumps(error).encode(), status=400), Reply(body=STOP), Reply(body=STOP)
        )
        async with client(wire, provider) as c:
            with pytest.raises(E.BadRequestError):
                await drain(c, request)
        assert len(wire.requests) == 1
        wire.replies.clear()


def test_a_fastapi_error_body_names_the_fields() -> None:
    from glmchat.backend.dialects import parse_error_body

    body = json.dumps(REFUSALS[0].values[1]).encode()
    _, message, _ = parse_error_body(body)
    assert message == "messages.1.assistant.reasoning_content: Extra inputs are not permitted"
    assert parse_error_body(b'{"detail": "Not Found"}')[1] == "Not Found"


# --------------------------------------------------------------------------- parsing helpers


async def _agen(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def parse(provider: str, pieces: Iterable[bytes]) -> list[StreamEvent]:
    return [e async for e in parse_stream(BUILTIN_PROVIDERS[provider], _agen(pieces))]


def every_byte(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


def random_splits(body: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out, pos = [], 0
    while pos < len(body):
        size = rng.randint(1, 48)
        out.append(body[pos : pos + size])
        pos += size
    return out


SPLITS = {
    "one piece": lambda body: [body],
    "every byte": every_byte,
    "random 1": lambda body: random_splits(body, 1),
    "random 2": lambda body: random_splits(body, 2),
}


def deltas(events: list[StreamEvent]) -> list[ToolCallDelta]:
    return [e for e in events if isinstance(e, ToolCallDelta)]


def rebuilt(events: list[StreamEvent]) -> list[tuple[str, str, str]]:
    """The calls as a consumer that reads only ToolCallDelta would show them, checking on the
    way that an id and a name come once per call, on its first delta."""
    calls: dict[int, list[Any]] = {}
    for d in deltas(events):
        if d.index not in calls:
            assert d.id is not None and d.name is not None, d
            calls[d.index] = [d.id, d.name, ""]
        else:
            assert d.id is None and d.name is None, d
        calls[d.index][2] += d.arguments
    assert sorted(calls) == list(range(len(calls)))  # positions, in the order calls began
    return [tuple(calls[i]) for i in sorted(calls)]  # type: ignore[misc]


def finish_of(events: list[StreamEvent]) -> Finish:
    finishes = [e for e in events if isinstance(e, Finish)]
    assert len(finishes) == 1 and events[-1] is finishes[0]
    return finishes[0]


def wanted(meta: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["id"], c["name"], c["arguments"]) for c in meta["expected_extra"]["tool_calls"]]


def fixture_body(name: str) -> bytes:
    return (FIXTURES / sidecar(name)["body_file"]).read_bytes()


# --------------------------------------------------------------------------- tool calls streaming


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "name", ["zai_tool_stream_fragments", "tool_only_fragments", "tool_only_whole_calls"]
)
async def test_tool_calls_stream_as_deltas(name: str, split: str) -> None:
    meta = sidecar(name)
    provider = "openrouter" if meta["provider"] == "openrouter" else "zai"
    events = await parse(provider, SPLITS[split](fixture_body(name)))
    calls = wanted(meta)
    assert rebuilt(events) == calls
    assert [(c.id, c.name, c.arguments) for c in finish_of(events).tool_calls] == calls
    # Each delta comes after the text that preceded its call, and before usage and finish.
    last_text = max(
        (i for i, e in enumerate(events) if isinstance(e, ContentDelta | ReasoningDelta)),
        default=-1,
    )
    first_delta = events.index(deltas(events)[0])
    usage = next(i for i, e in enumerate(events) if isinstance(e, Usage))
    assert last_text < first_delta and events.index(deltas(events)[-1]) < usage


async def test_tool_stream_pieces_arrive_as_sent() -> None:
    """Read by read, each piece is its own delta: arguments grow live, header first."""
    name = "zai_tool_stream_fragments"
    meta = sidecar(name)
    events = await parse("zai", every_byte(fixture_body(name)))
    pieces0, pieces1 = meta["expected_extra"]["argument_pieces"]
    (id0, name0, _), (id1, name1, _) = wanted(meta)
    assert [(d.index, d.id, d.name, d.arguments) for d in deltas(events)] == [
        (0, id0, name0, ""),
        *[(0, None, None, piece) for piece in pieces0],
        (1, id1, name1, pieces1[0]),
        *[(1, None, None, piece) for piece in pieces1[1:]],
    ]


async def test_pieces_of_one_read_are_one_delta() -> None:
    """Work per read, not per piece: a long argument in many pieces that arrive together is
    one event, as text deltas are."""
    pieces = [f'"k{i}": {i}, ' for i in range(400)]
    body = sse_body(
        sse_event({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "w"}}]}),
        *[sse_event({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces],
        sse_event({}, finish_reason="tool_calls"),
    )
    events = await parse("zai", [body])
    assert [(d.index, d.id, d.name, d.arguments) for d in deltas(events)] == [
        (0, "c", "w", "".join(pieces))
    ]
    # Read by read, never more deltas than reads.
    reads = random_splits(body, 3)
    assert len(deltas(await parse("zai", reads))) <= len(reads)


async def test_tool_calls_through_the_client_at_awkward_splits(wire: WireServer) -> None:
    name = "zai_tool_stream_fragments"
    wire.reply(fixture_reply(name, splits=AWKWARD))
    async with client(wire, BUILTIN_PROVIDERS["zai"]) as c:
        events = await drain(c, ask(tools=(WEATHER,), tool_stream=True))
    assert rebuilt(events) == wanted(sidecar(name))
    assert wire.requests[0].json["tool_stream"] is True


async def test_no_retry_once_a_tool_call_was_shown(wire: WireServer) -> None:
    """A retried request would show a second set of calls after the first."""
    body = sse_body(
        sse_event({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "add"}}]}),
        sse_event({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
        done=False,
    )
    wire.reply(Reply(body=body, drop_after=len(body)), Reply(body=STOP))
    events: list[StreamEvent] = []
    async with client(wire, BUILTIN_PROVIDERS["zai"]) as c:
        with pytest.raises(E.StreamInterrupted) as caught:
            async for event in c.stream(ask()):
                events.append(event)
    assert len(wire.requests) == 1
    assert rebuilt(events) == [("c1", "add", '{"a":')]
    assert "partial answer is kept" in caught.value.message


async def test_a_whole_answer_with_tool_calls(wire: WireServer) -> None:
    """A server that ignores `stream: true`: the calls come as deltas all the same."""
    name = "zai_tool_calls_nonstream"
    meta = sidecar(name)
    wire.reply(fixture_reply(name, splits=AWKWARD))
    async with client(wire, BUILTIN_PROVIDERS["zai"]) as c:
        events = await drain(c, ask())
    assert [type(e) for e in events] == [
        ReasoningDelta,
        ContentDelta,
        ToolCallDelta,
        ToolCallDelta,
        Usage,
        Finish,
    ]
    assert rebuilt(events) == wanted(meta)
    finish = finish_of(events)
    assert finish.reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in finish.tool_calls] == wanted(meta)


# --------------------------------------------------------------------------- recordings


def _tool_recordings() -> list[Any]:
    names = sorted(p.stem for p in RECORDED.glob("*.json")) if RECORDED.is_dir() else []
    names = [n for n in names if (_meta(n).get("expected_extra") or {}).get("tool_calls")]
    if not names:
        reason = f"{RECORDED} is absent (the shared wire folder is not beside the checkout)"
        return [pytest.param(None, id="absent", marks=pytest.mark.skip(reason=reason))]
    return names


def _meta(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())


def _recorded(name: str) -> bytes:
    return (RECORDED / _meta(name)["body_file"]).read_bytes()


def _provider_of(name: str) -> str:
    return "openrouter" if _meta(name)["provider"] == "openrouter" else "zai"


def needs_recordings() -> None:
    if not RECORDED.is_dir():
        pytest.skip(f"{RECORDED} is absent (the shared wire folder is not beside the checkout)")


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", _tool_recordings())
async def test_recorded_tool_calls_as_deltas(name: str, split: str) -> None:
    events = await parse(_provider_of(name), SPLITS[split](_recorded(name)))
    calls = wanted(_meta(name))
    assert rebuilt(events) == calls
    assert [(c.id, c.name, c.arguments) for c in finish_of(events).tool_calls] == calls


async def test_recorded_shapes_read_by_read() -> None:
    """Shape A (whole call in one delta): one delta per call. Shape B (header, then pieces):
    the header with empty arguments, then the pieces."""
    needs_recordings()
    whole = await parse("zai", every_byte(_recorded("zai_glm45_multi_tool_repeated_finish")))
    assert [(d.index, d.id, d.name, d.arguments) for d in deltas(whole)] == [
        (i, *call) for i, call in enumerate(wanted(_meta("zai_glm45_multi_tool_repeated_finish")))
    ]
    name = "openrouter_zai_glm5turbo_multi_tool_stream"
    split = await parse("openrouter", every_byte(_recorded(name)))
    assert [(d.index, d.id, d.name, d.arguments) for d in deltas(split)] == [
        step
        for i, (call_id, call_name, arguments) in enumerate(wanted(_meta(name)))
        for step in ((i, call_id, call_name, ""), (i, None, None, arguments))
    ]


# --------------------------------------------------------------------------- reasoning_details


@pytest.mark.parametrize("split", SPLITS)
async def test_reasoning_details_are_merged_onto_finish(split: str) -> None:
    name = "openrouter_reasoning_details_stream"
    meta = sidecar(name)
    events = await parse("openrouter", SPLITS[split](fixture_body(name)))
    assert list(finish_of(events).reasoning_details) == meta["expected_extra"]["reasoning_details"]
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == meta["expected"]["reasoning"]


async def test_reasoning_details_through_the_client_only_when_tools_are_offered(
    wire: WireServer,
) -> None:
    """They go back only inside a tool loop: a request without tools does not keep them."""
    name = "openrouter_reasoning_details_stream"
    expected = sidecar(name)["expected_extra"]["reasoning_details"]
    for tools, details in (((WEATHER,), expected), ((), [])):
        wire.reply(fixture_reply(name, splits=AWKWARD))
        async with client(wire, BUILTIN_PROVIDERS["openrouter"]) as c:
            events = await drain(c, ask("z-ai/glm-4.6", tools=tools))
        assert list(finish_of(events).reasoning_details) == details


@pytest.mark.parametrize(
    "name",
    ["openrouter_zai_glm5turbo_multi_tool_stream", "openrouter_novita_glm46_thinking_tool_stream"],
)
async def test_recorded_reasoning_details_keep_every_piece(name: str) -> None:
    """The recorded client replayed the text without its first piece ("The")."""
    needs_recordings()
    events = await parse("openrouter", random_splits(_recorded(name), 5))
    text = _meta(name)["expected"]["reasoning"]
    assert text.startswith("The")
    assert finish_of(events).reasoning_details == (
        {"type": "reasoning.text", "text": text, "format": "unknown", "index": 0},
    )


async def test_empty_reasoning_details_leave_none() -> None:
    needs_recordings()
    # BaseTen: `reasoning_details: []` on every chunk, the text only in `reasoning`.
    events = await parse("openrouter", [_recorded("openrouter_baseten_glm46_tool_stream")])
    assert finish_of(events).reasoning_details == ()


async def test_a_stream_without_reasoning_details_has_none() -> None:
    events = await parse("zai", [fixture_body("zai_tool_stream_fragments")])
    assert finish_of(events).reasoning_details == ()


def test_reasoning_details_merge_by_index_and_type() -> None:
    merger = ReasoningDetails()
    merger.feed([{"type": "reasoning.summary", "summary": "Plan: ", "index": 0, "format": "f"}])
    merger.feed(["not an item", {"type": "reasoning.text", "text": "a", "index": 0}])
    merger.feed([{"type": "reasoning.summary", "summary": "add.", "index": 0, "format": "g"}])
    merger.feed([{"type": "reasoning.text", "text": "b", "index": 0, "signature": None}])
    merger.feed([{"type": "reasoning.text", "text": "", "index": 0, "signature": "sig"}])
    merger.feed([{"type": "reasoning.text", "text": "c", "index": 1}])
    assert merger.blocks() == (
        {"type": "reasoning.summary", "summary": "Plan: add.", "index": 0, "format": "f"},
        {"type": "reasoning.text", "text": "ab", "index": 0, "signature": "sig"},
        {"type": "reasoning.text", "text": "c", "index": 1},
    )


# --------------------------------------------------------------------------- web_search


@pytest.mark.parametrize("split", SPLITS)
async def test_web_search_results_arrive_once_before_finish(split: str) -> None:
    name = "zai_web_search_stream"
    meta = sidecar(name)
    events = await parse("zai", SPLITS[split](fixture_body(name)))
    found = [e for e in events if isinstance(e, WebSearchResults)]
    assert len(found) == 1
    assert list(found[0].results) == meta["expected_extra"]["web_search"]
    assert events.index(found[0]) < events.index(finish_of(events))
    assert (
        "".join(e.text for e in events if isinstance(e, ContentDelta))
        == (meta["expected"]["content"])
    )


async def test_web_search_repeated_or_odd_is_read_calmly() -> None:
    results = sidecar("zai_web_search_stream")["expected_extra"]["web_search"]
    chunk = {"choices": [{"index": 0, "delta": {"content": "x"}}]}
    body = sse_body(
        sse_data({**chunk, "web_search": "not a list"}),
        sse_data({**chunk, "web_search": []}),
        sse_data({**chunk, "web_search": [results[0], "junk"]}),
        sse_data({**chunk, "web_search": [results[0]]}),  # the same again: nothing new
        sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    )
    for pieces in ([body], every_byte(body)):
        events = await parse("zai", pieces)
        found = [e for e in events if isinstance(e, WebSearchResults)]
        assert [f.results for f in found] == [(results[0],)]


async def test_web_search_in_a_whole_answer(wire: WireServer) -> None:
    results = sidecar("zai_web_search_stream")["expected_extra"]["web_search"]
    doc = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Sunny [ref_1]."},
            }
        ],
        "web_search": results,
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    }
    wire.reply(Reply(body=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}))
    async with client(wire, BUILTIN_PROVIDERS["zai"]) as c:
        events = await drain(c, ask(tools=(WEB_SEARCH,)))
    assert [type(e) for e in events] == [ContentDelta, WebSearchResults, Usage, Finish]
    assert list(events[1].results) == results  # type: ignore[union-attr]


def test_pieces_that_repeat_the_id_and_name_cost_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether Z.ai's `tool_stream` pieces repeat the call's id and name is not known: if they
    do, telling a piece from a whole call sent again must not re-read all the arguments so
    far at every piece (a 40 KB argument in thousands of pieces)."""
    from glmchat.backend import tool_calls

    read: list[int] = []
    is_object = tool_calls._is_object

    def counting(text: str) -> bool:
        read.append(len(text))
        return is_object(text)

    monkeypatch.setattr(tool_calls, "_is_object", counting)
    acc = tool_calls.ToolCallAccumulator()
    header = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "write"}}
    pieces = ['{"text": "'] + ["lorem ipsum " * 4] * 2000 + ['"}']
    for piece in pieces:
        acc.feed([{**header, "function": {"name": "write", "arguments": piece}}])
    [call] = acc.calls()
    assert call.arguments == "".join(pieces)
    total = len(call.arguments)
    assert sum(read) <= 2 * total, "arguments re-read at every piece"


@pytest.mark.parametrize("split", SPLITS)
async def test_parallel_calls_that_share_an_id_stay_apart(split: str) -> None:
    """Some servers give every call the same id (or number every call 0): two functions are
    two calls, and the history needs an id per call."""
    same = {"id": "call_1", "type": "function"}
    body = sse_body(
        sse_event({"tool_calls": [{**same, "index": 0, "function": {"name": "add"}}]}),
        sse_event({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]}),
        sse_event({"tool_calls": [{**same, "index": 1, "function": {"name": "mul"}}]}),
        sse_event({"tool_calls": [{"index": 1, "function": {"arguments": '{"b": 2}'}}]}),
        sse_event(
            {"tool_calls": [{**same, "index": 0, "function": {"name": "neg", "arguments": "{}"}}]}
        ),
        sse_event({}, finish_reason="tool_calls"),
    )
    events = await parse("zai", SPLITS[split](body))
    calls = [(c.id, c.name, c.arguments) for c in finish_of(events).tool_calls]
    assert calls == [
        ("call_1", "add", '{"a": 1}'),
        ("call_1_1", "mul", '{"b": 2}'),
        ("call_1_2", "neg", "{}"),
    ]
    assert [(d.index, d.name) for d in deltas(events) if d.name] == [
        (0, "add"),
        (1, "mul"),
        (2, "neg"),
    ]


def test_config_show_names_each_providers_reasoning_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from glmchat import paths
    from glmchat.cli import main

    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[providers.vllm]\nbase_url = "http://localhost:8000/v1"\n')
    assert main(["config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["providers"]
    assert {name: p["reasoning_field"] for name, p in shown.items()} == {
        "zai": "reasoning_content",
        "zai-coding": "reasoning_content",
        "bigmodel": "reasoning_content",
        "openrouter": "reasoning_details",
        "ollama": "reasoning",
        "openai": "none",
        "vllm": "none",
    }
