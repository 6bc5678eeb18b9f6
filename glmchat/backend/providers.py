"""Provider descriptions: where a provider lives and which dialect it speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import fields as fields_of

# How the thinking switch is put into a request body.
THINKING_PARAMS = ("zai", "openrouter", "chat_template_kwargs", "reasoning_effort", "none")
DIALECTS = ("zai", "openrouter", "openai")
# Where an assistant message's reasoning goes when it is sent back inside a tool loop
# (wire/TOOLS.md section 2.5): "reasoning_details" is OpenRouter's array, verbatim (its
# `reasoning` string when the array is empty); "none" never sends it, since some servers
# reject an unknown message field (Mistral 422 on `reasoning_content`).
REASONING_FIELDS = ("reasoning_content", "reasoning", "reasoning_details", "none")
# The field each dialect uses unless a provider says otherwise: a server of unknown make gets none.
DIALECT_REASONING_FIELD = {
    "zai": "reasoning_content",
    "openrouter": "reasoning_details",
    "openai": "none",
}


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One provider. `dialect` decides error bodies and where reasoning arrives;
    `thinking_param` decides how thinking on/off is sent."""

    name: str
    dialect: str
    base_url: str
    api_key_env: str
    models: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    read_timeout: float = 120.0
    thinking_param: str = "zai"
    requires_key: bool = True
    label: str = ""
    extra_body: tuple[tuple[str, object], ...] = field(default=())
    # Further environment variables to try after api_key_env (a coding-plan key is a Z.ai key).
    fallback_key_envs: tuple[str, ...] = ()
    reasoning_field: str = "none"  # one of REASONING_FIELDS

    @property
    def display_name(self) -> str:
        return self.label or self.name

    def __repr__(self) -> str:
        """Its fields, with the base URL and header values as `config show` shows them: a
        traceback that shows its locals (Textual's does) prints a provider this way."""
        from glmchat.secret_values import mask_setting, shown_url  # it imports us, in the end

        fields = []
        for f in fields_of(self):
            value = getattr(self, f.name)
            if f.name == "base_url":
                value = shown_url(value)
            elif f.name == "headers":
                value = tuple((k, mask_setting(k, v, header=True)) for k, v in value)
            fields.append(f"{f.name}={value!r}")
        return f"ProviderConfig({', '.join(fields)})"


GLM_ZAI_MODELS = ("glm-4.5", "glm-4.5-air", "glm-4.5-x", "glm-4.5-airx", "glm-4.5-flash")
GLM_OPENROUTER_MODELS = ("z-ai/glm-4.5", "z-ai/glm-4.5-air", "z-ai/glm-4.5-air:free")

BUILTIN_PROVIDERS: dict[str, ProviderConfig] = {
    p.name: p
    for p in (
        ProviderConfig(
            name="zai",
            label="Z.ai",
            dialect="zai",
            base_url="https://api.z.ai/api/paas/v4",
            api_key_env="ZAI_API_KEY",
            models=GLM_ZAI_MODELS,
            thinking_param="zai",
            reasoning_field="reasoning_content",
        ),
        ProviderConfig(
            name="zai-coding",
            label="Z.ai coding plan",
            dialect="zai",
            base_url="https://api.z.ai/api/coding/paas/v4",
            api_key_env="ZAI_CODING_API_KEY",
            fallback_key_envs=("ZAI_API_KEY",),
            models=GLM_ZAI_MODELS,
            thinking_param="zai",
            reasoning_field="reasoning_content",
        ),
        ProviderConfig(
            name="bigmodel",
            label="BigModel",
            dialect="zai",
            base_url="https://open.bigmodel.cn/api/paas/v4",
            api_key_env="BIGMODEL_API_KEY",
            models=GLM_ZAI_MODELS,
            thinking_param="zai",
            reasoning_field="reasoning_content",
        ),
        ProviderConfig(
            name="openrouter",
            label="OpenRouter",
            dialect="openrouter",
            base_url="https://openrouter.ai/api/v1",
            api_key_env="OPENROUTER_API_KEY",
            models=GLM_OPENROUTER_MODELS,
            thinking_param="openrouter",
            reasoning_field="reasoning_details",
            headers=(
                ("HTTP-Referer", "https://github.com/glmchat/glmchat"),
                ("X-Title", "glmchat"),
            ),
        ),
        ProviderConfig(
            name="ollama",
            label="Ollama",
            dialect="openai",
            base_url="http://localhost:11434/v1",
            api_key_env="OLLAMA_API_KEY",
            models=(),
            thinking_param="reasoning_effort",
            reasoning_field="reasoning",  # Ollama reads `reasoning` (its `Thinking`)
            requires_key=False,
        ),
        ProviderConfig(
            name="openai",
            label="OpenAI-compatible",
            dialect="openai",
            base_url="http://localhost:8000/v1",
            api_key_env="OPENAI_API_KEY",
            models=(),
            thinking_param="chat_template_kwargs",
            requires_key=False,
        ),
    )
}

DEFAULT_PROVIDER = "zai"
DEFAULT_MODEL = "zai/glm-4.5"


def split_model(name: str, default_provider: str = DEFAULT_PROVIDER) -> tuple[str, str]:
    """`PROVIDER/MODEL` split at the first `/`; a bare name uses the default provider.

    `z-ai/glm-4.5` alone is ambiguous; it is read as provider `z-ai` only when such a
    provider exists, which the caller checks (see `resolve_model`)."""
    provider, sep, model = name.partition("/")
    if not sep:
        return default_provider, name
    return provider, model


def resolve_model(
    name: str, providers: dict[str, ProviderConfig], default_provider: str = DEFAULT_PROVIDER
) -> tuple[ProviderConfig, str]:
    """Find the provider for a model name; raises KeyError naming the unknown provider."""
    provider, model = split_model(name, default_provider)
    if provider not in providers:
        if "/" in name and default_provider in providers:
            # `z-ai/glm-4.5` with openrouter as default: the whole name is the model id.
            dp = providers[default_provider]
            if dp.dialect == "openrouter":
                return dp, name
        raise KeyError(provider)
    return providers[provider], model
