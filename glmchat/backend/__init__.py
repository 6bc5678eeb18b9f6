"""Provider-agnostic streaming layer: plain asyncio and httpx, no Textual."""
