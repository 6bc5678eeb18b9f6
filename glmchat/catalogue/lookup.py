"""lookup(): one model's ModelInfo from config.toml's overrides, OpenRouter's live list (when
a fresh one is cached), the shipped catalogue, or, failing all, a ModelInfo of unknowns."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from glmchat.catalogue.model_info import DEFAULT_EFFORTS, ModelInfo, ModelOverride
from glmchat.catalogue.shipped import family_models, family_of, shipped_info

if TYPE_CHECKING:
    from glmchat.backend.providers import ProviderConfig
    from glmchat.config import Settings

# What a live OpenRouter entry may replace in a shipped one: its limits and its prices. The
# thinking behaviour stays the catalogue's (the list says less about it).
_LIVE_FIELDS = (
    "context",
    "max_output",
    "price_input",
    "price_cached",
    "price_output",
    "price_date",
    "price_source",
)


def known_models(settings: Settings, provider: ProviderConfig) -> list[str]:
    """The model ids known for `provider` without asking it: its family's in the shipped
    catalogue (GLM-4.5 to 5.x on Z.ai, BigModel, the coding plan, OpenRouter), those its
    config names, and those a `[models."PROVIDER/MODEL"]` table adds; in that order, once."""
    family = family_of(provider.name, provider.dialect)
    overridden = (
        name.partition("/")[2] for name in settings.models if name.startswith(f"{provider.name}/")
    )
    shipped = family_models(family) if family else ()
    return list(dict.fromkeys([*shipped, *provider.models, *overridden]))


def lookup(
    settings: Settings | None, provider: str, model: str, *, live: ModelInfo | None = None
) -> ModelInfo:
    """What glmchat knows of `model` on `provider`. Never raises: a model nobody describes
    gets known=False and None for every figure. `live` is OpenRouter's entry for it when the
    caller has just read the list (else a fresh cached one is used)."""
    try:
        return _lookup(settings, provider, model, live)
    except Exception:  # a lookup must never take an exchange or the screen down
        import logging  # only when something is wrong: start-up never loads it

        logging.getLogger("glmchat.catalogue").debug(
            "catalogue lookup failed for %s/%s", provider, model, exc_info=True
        )
        return ModelInfo(provider=provider, model=model, known=False)


def _lookup(
    settings: Settings | None, provider: str, model: str, live: ModelInfo | None
) -> ModelInfo:
    config = settings.providers.get(provider) if settings is not None else None
    dialect = config.dialect if config is not None else None
    info = shipped_info(provider, dialect, model)
    if family_of(provider, dialect) == "openrouter" and config is not None:
        from glmchat.catalogue.openrouter_live import cached_info

        live = live or cached_info(provider, config.base_url, model)
        if live is not None:
            info = _merge_live(info, live)
    override = settings.models.get(f"{provider}/{model}") if settings is not None else None
    if override is not None:
        info = apply_override(info, override, provider, model)
    return info or ModelInfo(provider=provider, model=model, known=False)


def _merge_live(info: ModelInfo | None, live: ModelInfo) -> ModelInfo:
    if info is None:
        return live
    changes = {name: getattr(live, name) for name in _LIVE_FIELDS}
    changes = {name: value for name, value in changes.items() if value is not None}
    return dataclasses.replace(info, source="openrouter", **changes)


def apply_override(
    info: ModelInfo | None, override: ModelOverride, provider: str, model: str
) -> ModelInfo:
    """`[models."PROVIDER/MODEL"]` over what is known (or over nothing: a model of one's own)."""
    base = info or ModelInfo(provider=provider, model=model, known=True)
    # asdict's own type: each value is the override field's, which replace() checks at run time.
    changes: dict[str, Any] = {
        name: value for name, value in dataclasses.asdict(override).items() if value is not None
    }
    prices = [name for name in changes if name.startswith("price_")]
    if prices:
        # Some prices may still be the catalogue's: say which are whose.
        kept = f" over {base.price_source}" if len(prices) < 3 and base.price_source else ""
        changes["price_source"] = f"config.toml{kept}"
        changes["price_date"] = None if len(prices) == 3 else base.price_date
    result = dataclasses.replace(base, known=True, source="config", **changes)
    if result.thinking == "always" and not result.efforts:
        # An always-thinking model must be turned down by effort: give it the GLM-5.3 scale.
        result = dataclasses.replace(result, efforts=DEFAULT_EFFORTS, default_effort="max")
    return result
