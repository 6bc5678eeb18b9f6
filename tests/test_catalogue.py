"""The model catalogue: shipped entries per provider, config.toml overrides, unknown models."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from glmchat import paths
from glmchat.catalogue import THINKING_KINDS, ModelInfo, lookup
from glmchat.config import ConfigError, load_settings


def write_config(text: str) -> Path:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_entry_is_complete_and_consistent() -> None:
    """Each entry has its limits and thinking behaviour; an always-thinking model has efforts
    to move between; a price comes with its date and source, all three prices or none."""
    doc = tomllib.loads(
        resources.files("glmchat.catalogue").joinpath("models.toml").read_text("utf-8")
    )
    assert set(doc) == {"zai", "openrouter"}
    for family, table in doc.items():
        provider = "zai" if family == "zai" else "openrouter"
        for model in table:
            info = lookup(None, provider, model)
            assert info.known and info.source == "catalogue", model
            assert info.context and info.max_output and info.max_output <= info.context, model
            assert info.thinking in THINKING_KINDS, model
            if info.thinking == "always":
                assert info.efforts and info.default_effort in info.efforts, model
                assert "low" in info.efforts, model  # what "thinking off" becomes
            prices = (info.price_input, info.price_cached, info.price_output)
            assert all(p is None for p in prices) or all(p is not None for p in prices), model
            if info.price_input is not None:
                assert info.price_date and info.price_source, model


@pytest.mark.parametrize(
    ("provider", "model", "context", "max_output", "thinking", "tool_stream"),
    [
        ("zai", "glm-4.5", 131072, 98304, "hybrid", False),
        ("bigmodel", "glm-4.5-air", 131072, 98304, "hybrid", False),
        ("zai", "glm-4.6", 204800, 131072, "hybrid", True),
        ("zai-coding", "glm-4.7", 204800, 131072, "default-on", True),
        ("zai", "glm-5.3", 1048576, 131072, "always", True),
        ("zai", "glm-5.3-flash", 1048576, 131072, "always", True),
        ("openrouter", "z-ai/glm-5.3", 1048576, 131072, "always", None),
        ("openrouter", "z-ai/glm-4.5-air:free", 131072, 98304, "hybrid", None),
    ],
)
def test_lookup_by_provider_and_model(
    provider: str,
    model: str,
    context: int,
    max_output: int,
    thinking: str,
    tool_stream: bool | None,
) -> None:
    info = lookup(load_settings(), provider, model)
    assert (info.context, info.max_output, info.thinking, info.tool_stream) == (
        context,
        max_output,
        thinking,
        tool_stream,
    )


def test_prices_per_provider() -> None:
    settings = load_settings()
    zai = lookup(settings, "zai", "glm-4.5")
    assert (zai.price_input, zai.price_cached, zai.price_output) == (0.60, 0.11, 2.20)
    assert zai.price_date == "2026-08-21" and "docs.z.ai" in (zai.price_source or "")
    # BigModel takes Z.ai's ids and prices; the coding plan is a flat fee: no per-token price.
    assert lookup(settings, "bigmodel", "glm-5.3").price_output == 4.40
    coding = lookup(settings, "zai-coding", "glm-5.3")
    assert coding.price_input is None and coding.context == 1048576
    assert "flat fee" in (coding.price_source or "")
    openrouter = lookup(settings, "openrouter", "z-ai/glm-4.7")
    assert (openrouter.price_input, openrouter.price_cached) == (0.54, 0.099)
    free = lookup(settings, "openrouter", "z-ai/glm-4.5-air:free")
    assert (free.price_input, free.price_output) == (0.0, 0.0)
    # Never guessed: Z.ai's glm-5.3-flash price was not found.
    assert lookup(settings, "zai", "glm-5.3-flash").price_input is None


def test_aliases_and_case() -> None:
    latest = lookup(None, "openrouter", "~z-ai/glm-latest")
    assert latest.thinking == "always" and latest.model == "~z-ai/glm-latest"
    assert lookup(None, "zai", "GLM-4.6").context == 204800


@pytest.mark.parametrize(
    ("provider", "model"),
    [("zai", "glm-9"), ("ollama", "glm-4.5"), ("openai", "anything"), ("nope", "glm-4.5")],
)
def test_unknown_models_are_marked_unknown(provider: str, model: str) -> None:
    """A model nobody describes (a local server's, a future one, a provider not configured)
    works with every figure None, never a guess."""
    info = lookup(load_settings(), provider, model)
    assert info == ModelInfo(provider=provider, model=model, known=False)
    assert info.source == "unknown" and not info.always_thinks


def test_lookup_never_raises() -> None:
    class Broken:
        @property
        def providers(self) -> object:
            raise RuntimeError("boom")

    info = lookup(Broken(), "zai", "glm-4.5")  # type: ignore[arg-type]
    assert not info.known


def test_config_overrides_and_adds_models() -> None:
    write_config(
        '[models."zai/glm-5.3"]\nprice_input = 2.0\n\n'
        '[models."ollama/glm-4.5-air"]\ncontext = 65536\nthinking = "hybrid"\n\n'
        '[models."openai/my-glm"]\nthinking = "always"\n'
        "price_input = 0.1\nprice_cached = 0.05\nprice_output = 0.2\n"
    )
    settings = load_settings()
    assert settings.warnings == ()
    five = lookup(settings, "zai", "glm-5.3")
    assert five.source == "config" and five.price_input == 2.0
    # What the file does not say stays the catalogue's, and the source says whose is whose.
    assert (five.price_cached, five.price_output, five.context) == (0.26, 4.40, 1048576)
    assert five.price_source and five.price_source.startswith("config.toml over ")
    local = lookup(settings, "ollama", "glm-4.5-air")
    assert (local.known, local.context, local.max_output, local.thinking) == (
        True,
        65536,
        None,
        "hybrid",
    )
    mine = lookup(settings, "openai", "my-glm")
    assert mine.always_thinks and mine.efforts == ("low", "high", "max")
    assert mine.price_source == "config.toml" and mine.price_date is None
    # Another provider's entry is untouched.
    assert lookup(settings, "bigmodel", "glm-5.3").price_input == 1.40


@pytest.mark.parametrize(
    ("toml", "at", "message"),
    [
        ('[models."glm-5.3"]\ncontext = 5\n', "1:1", 'as "PROVIDER/MODEL"'),
        ('[models."nope/glm-5.3"]\ncontext = 5\n', "1:1", 'unknown provider "nope"'),
        ('[models."zai/x"]\ncontext = "big"\n', "2:1", "context: expected a whole number"),
        ('[models."zai/x"]\nthinking = "off"\n', "2:1", 'expected one of "hybrid"'),
        ('[models."zai/x"]\nprice_output = -1\n', "2:1", "price_output: expected a number"),
        ('models = "zai"\n', "1:1", "expected a table"),
    ],
)
def test_bad_model_tables_name_path_line_and_column(toml: str, at: str, message: str) -> None:
    path = write_config(toml)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(f"{path}:{at}: ") and message in str(info.value)


def test_a_model_table_for_a_provider_of_the_same_file() -> None:
    write_config(
        '[providers.myvllm]\nbase_url = "http://127.0.0.1:8000/v1"\n\n'
        '[models."myvllm/GLM-4.6"]\ncontext = 200000\n\n'
        '[models."zai/glm-4.5"]\ncontxt = 1\n'
    )
    settings = load_settings()
    assert lookup(settings, "myvllm", "GLM-4.6").context == 200000
    assert (
        len(settings.warnings) == 1
        and 'did you mean "models.zai/glm-4.5.context"' in (settings.warnings[0])
    )


def test_the_catalogue_is_read_on_the_first_lookup_not_at_start_up() -> None:
    """Start-up (config, the backend, the engine) pays nothing for the catalogue's data."""
    import subprocess
    import sys

    code = (
        "import sys, glmchat.config, glmchat.backend.dialects, glmchat.engine\n"
        "glmchat.config.load_settings()\n"
        "from glmchat.catalogue.shipped import _document\n"
        "assert _document.cache_info().currsize == 0\n"
        "from glmchat.catalogue import lookup\n"
        "lookup(None, 'zai', 'glm-4.5')\n"
        "assert _document.cache_info().currsize == 1\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
