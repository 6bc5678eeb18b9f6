"""The models a provider offers: its GET /models document, and the model ids in it."""

from __future__ import annotations

from typing import Any

from glmchat.backend.providers import ProviderConfig


async def list_models(
    provider: ProviderConfig, api_key: str | None, *, base_url: str | None = None
) -> list[str]:
    """The model ids a provider offers, from GET {base_url}/models."""
    return model_ids(await fetch_model_list(provider, api_key, base_url=base_url))


async def fetch_model_list(
    provider: ProviderConfig, api_key: str | None, *, base_url: str | None = None
) -> Any:
    """A provider's GET {base_url}/models document, as sent."""
    # Imported here: openai_compat re-exports this module's functions, so importing it at the
    # top would make the two modules import each other.
    from glmchat.backend.openai_compat import OpenAICompatClient

    async with OpenAICompatClient(provider, api_key, base_url=base_url) as client:
        return await client.model_list()


def model_ids(doc: Any) -> list[str]:
    """The sorted model ids in a /models document: OpenAI's `data` list, a bare list, or a
    `models` list; each item's `id`, else its `name`."""
    items = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        items = doc.get("models", []) if isinstance(doc, dict) else []
    ids = [str(item.get("id") or item.get("name")) for item in items if isinstance(item, dict)]
    return sorted(i for i in ids if i and i != "None")
