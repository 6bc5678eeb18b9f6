"""What the catalogue changes on the wire: the thinking switch and effort per model (never
`thinking.type: disabled` to a model that always thinks), max_tokens within the model's output,
tool_stream, and the 400 such a model gives when asked not to think."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from glmchat import paths
from glmchat.backend import errors as E
from glmchat.backend.capabilities import supports_tool_stream
from glmchat.backend.dialects import build_body
from glmchat.backend.events import ChatRequest, Message
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.backend.providers import BUILTIN_PROVIDERS
from glmchat.catalogue import lookup
from glmchat.catalogue.shipped import family_models
from glmchat.config import Settings, load_settings, save_value
from glmchat.engine import ConversationEngine, ExchangeEnded
from glmchat.store import SessionStore
from tests.tui_helpers import API_KEY
from tests.wire_server import Reply, WireServer, sse_body, sse_event

FAMILIES = {"zai": ("zai", "zai-coding", "bigmodel"), "openrouter": ("openrouter",)}
ALWAYS = [
    (provider, model)
    for family, providers in FAMILIES.items()
    for model in family_models(family)
    for provider in providers
    if lookup(None, provider, model).always_thinks
]
ANSWER = sse_body(sse_event({"content": "ok"}), sse_event({}, finish_reason="stop"))


def body(provider: str, model: str, **kw: object) -> dict:
    request = ChatRequest(model=model, messages=(Message("user", "hi"),), **kw)  # type: ignore[arg-type]
    return build_body(BUILTIN_PROVIDERS[provider], request)


def test_the_always_thinking_models_are_the_glm_5_3_family() -> None:
    models = {model.removeprefix("z-ai/").removeprefix("~z-ai/") for _, model in ALWAYS}
    assert models == {"glm-5.3", "glm-5.3-flash", "glm-5.3-flashx", "glm-latest"}
    assert {provider for provider, _ in ALWAYS} == {"zai", "zai-coding", "bigmodel", "openrouter"}


@pytest.mark.parametrize(("provider", "model"), ALWAYS)
@pytest.mark.parametrize("effort", [None, "low", "high", "max"])
def test_an_always_thinking_model_is_never_sent_thinking_disabled(
    provider: str, model: str, effort: str | None
) -> None:
    """Whatever the request says (thinking off included), the body turns it down by effort:
    thinking disabled is a 400 (code 1210) there (wire/TOOLS.md 8.8)."""
    for thinking in (True, False):
        sent = body(provider, model, thinking=thinking, reasoning_effort=effort)
        text = json.dumps(sent)
        assert "disabled" not in text and '"enabled": false' not in text
        expected = "low" if not thinking else effort
        if provider == "openrouter":
            assert sent["reasoning"] == ({"effort": expected} if expected else {"enabled": True})
        else:
            assert sent["thinking"] == {"type": "enabled"}
            assert sent.get("reasoning_effort") == expected


@pytest.mark.parametrize("provider", ["zai", "zai-coding", "bigmodel"])
@pytest.mark.parametrize("model", ["glm-4.5", "glm-4.6", "glm-4.7", "glm-5.1"])
def test_a_hybrid_model_keeps_its_on_off_switch(provider: str, model: str) -> None:
    assert body(provider, model, thinking=False)["thinking"] == {"type": "disabled"}
    on = body(provider, model, thinking=True)
    assert on["thinking"] == {"type": "enabled"} and "reasoning_effort" not in on
    assert body("openrouter", f"z-ai/{model}", thinking=False)["reasoning"] == {"enabled": False}


def test_effort_on_other_dialects() -> None:
    assert body("ollama", "glm-4.5", reasoning_effort="high")["reasoning_effort"] == "high"
    assert body("ollama", "glm-4.5", thinking=False)["reasoning_effort"] == "none"
    assert body("openai", "glm-4.5", thinking=False)["chat_template_kwargs"] == {
        "enable_thinking": False
    }


def test_tool_stream_reads_the_catalogue() -> None:
    zai = BUILTIN_PROVIDERS["zai"]
    for model in family_models("zai"):
        assert supports_tool_stream(zai, model) is lookup(None, "zai", model).tool_stream, model
    assert supports_tool_stream(BUILTIN_PROVIDERS["openrouter"], "z-ai/glm-4.7") is False


# --- through the engine and the wire --------------------------------------------------------


@pytest.fixture
async def engine_for(zai: WireServer) -> AsyncIterator:
    store = SessionStore(paths.database_path())
    clients: dict[str, OpenAICompatClient] = {}

    def make(model: str, settings: Settings | None = None, **kw: object) -> ConversationEngine:
        settings = settings or load_settings()
        provider, model_id = settings.resolve_model(model)

        def client_for(name: str) -> OpenAICompatClient:
            if name not in clients:
                clients[name] = OpenAICompatClient(settings.providers[name], API_KEY)
            return clients[name]

        return ConversationEngine(
            settings, store, client_for, provider=provider.name, model=model_id, **kw
        )

    yield make
    for client in clients.values():
        await client.aclose()
    store.close()


async def ask(engine: ConversationEngine, wire: WireServer, prompt: str = "hi") -> dict:
    wire.reply(Reply(body=ANSWER))
    exchange = engine.send(prompt)
    events = [event async for event in exchange]
    assert isinstance(events[-1], ExchangeEnded) and events[-1].result.error is None
    return wire.requests[-1].json


async def test_ctrl_t_moves_between_effort_levels_on_glm_5_3(engine_for, zai: WireServer) -> None:
    engine = engine_for("zai/glm-5.3")
    assert engine.thinking_label == "max"  # the model's default
    first = await ask(engine, zai)
    assert first["thinking"] == {"type": "enabled"} and "reasoning_effort" not in first
    seen = []
    for _ in range(4):
        seen.append(engine.toggle_thinking())
        sent = await ask(engine, zai)
        assert sent["thinking"] == {"type": "enabled"}
        assert sent["reasoning_effort"] == seen[-1]
    assert seen == ["low", "high", "max", "low"]


async def test_ctrl_t_is_on_off_on_glm_4_5(engine_for, zai: WireServer) -> None:
    engine = engine_for("zai/glm-4.5")
    assert engine.toggle_thinking() == "OFF"
    assert (await ask(engine, zai))["thinking"] == {"type": "disabled"}
    assert engine.toggle_thinking() == "ON"
    sent = await ask(engine, zai)
    assert sent["thinking"] == {"type": "enabled"} and "reasoning_effort" not in sent


async def test_thinking_off_maps_to_low_with_a_note(engine_for, zai: WireServer) -> None:
    """A conversation saved with thinking off, or --no-think, on GLM-5.3: the lowest effort."""
    engine = engine_for("zai/glm-5.3", thinking=False)
    sent = await ask(engine, zai)
    assert sent["thinking"] == {"type": "enabled"} and sent["reasoning_effort"] == "low"
    note = engine.set_thinking(True)
    assert note and "--think" in note and "max" in note
    assert (await ask(engine, zai))["reasoning_effort"] == "max"
    note = engine.set_thinking(False)
    assert note and "--no-think" in note and "low" in note
    assert engine.set_thinking(False) is not None
    assert engine_for("zai/glm-4.5").set_thinking(False) is None


async def test_a_model_config_declares_always_thinking(engine_for, zai: WireServer) -> None:
    """The engine reads config.toml's word too: a model the catalogue does not know."""
    path = paths.config_path()
    path.write_text(
        path.read_text() + '\n[models."zai/glm-9"]\nthinking = "always"\n', encoding="utf-8"
    )
    engine = engine_for("zai/glm-9", thinking=False)
    sent = await ask(engine, zai)
    assert sent["thinking"] == {"type": "enabled"} and sent["reasoning_effort"] == "low"


async def test_switching_model_drops_an_effort_the_new_one_does_not_take(
    engine_for, zai: WireServer
) -> None:
    engine = engine_for("zai/glm-5.3")
    engine.toggle_thinking()
    engine.set_model("zai", "glm-4.5")
    assert engine.effort is None and engine.thinking_label == "ON"
    sent = await ask(engine, zai)
    assert "reasoning_effort" not in sent and sent["thinking"] == {"type": "enabled"}


@pytest.mark.parametrize(
    ("model", "configured", "sent", "noted"),
    [
        ("zai/glm-4.5", 200_000, 98_304, True),
        ("zai/glm-5.3", 200_000, 131_072, True),
        ("zai/glm-5.3", 131_072, 131_072, False),
        ("zai/glm-4.5", 4096, 4096, False),
        ("zai/glm-9", 500_000, 500_000, False),  # unknown: nothing to cap against
    ],
)
async def test_max_tokens_is_capped_at_the_models_output(
    engine_for, zai: WireServer, model: str, configured: int, sent: int, noted: bool
) -> None:
    save_value("max_tokens", str(configured))
    engine = engine_for(model)
    assert (await ask(engine, zai))["max_tokens"] == sent
    notices = engine.take_notices()
    assert bool(notices) is noted
    if noted:
        assert f"max_tokens {configured}" in notices[0] and str(sent) in notices[0]
    await ask(engine, zai)
    assert engine.take_notices() == []  # told once


# --- the 400 such a model gives --------------------------------------------------------------

REFUSAL = (
    "This model always engages in thinking and cannot be disabled; please use low, high, or max."
)


@pytest.mark.parametrize(
    ("provider", "error_body"),
    [
        ("zai", {"error": {"code": "1210", "message": REFUSAL}}),
        (
            "openrouter",
            {
                "error": {
                    "code": 400,
                    "message": "Provider returned error",
                    "metadata": {
                        "raw": json.dumps({"error": {"code": "1210", "message": REFUSAL}})
                    },
                }
            },
        ),
    ],
)
async def test_the_1210_refusal_says_to_use_effort_levels(
    wire: WireServer, provider: str, error_body: dict
) -> None:
    wire.reply(
        Reply(
            body=json.dumps(error_body).encode(),
            status=400,
            headers={"Content-Type": "application/json"},
        )
    )
    client = OpenAICompatClient(BUILTIN_PROVIDERS[provider], "sk-x", base_url=wire.url)
    request = ChatRequest(model="glm-5.3", messages=(Message("user", "hi"),))
    with pytest.raises(E.BadRequestError) as info:
        async for _ in client.stream(request):
            pass
    await client.aclose()
    message = info.value.message
    assert "always thinks" in message and "ctrl+t" in message and "--think" in message
    assert info.value.kind == "bad_request" and not info.value.retryable
    assert "\n" not in message
