"""Settings from config.toml: each declared once, validated with readable errors, safely rewritten.

`settings` declares every setting (type, default, rule, help); `rules` checks one value;
`loading` reads and validates a file; `writing` is `config set`. Callers import from here."""

from __future__ import annotations

from glmchat.config.loading import MODEL_ENV, UnparsedConfig, load_leniently, load_settings
from glmchat.config.settings import (
    MCP_SERVER_RULES,
    PROVIDER_RULES,
    SETTINGS,
    BudgetTable,
    CodingPlanTable,
    ConfigError,
    Declared,
    Settings,
    ToolsTable,
    UiSettings,
)
from glmchat.config.writing import StillBroken, parse_setting, save_value
from glmchat.keybindings import BINDING_IDS

__all__ = [
    "BINDING_IDS",
    "MCP_SERVER_RULES",
    "MODEL_ENV",
    "PROVIDER_RULES",
    "SETTINGS",
    "BudgetTable",
    "CodingPlanTable",
    "ConfigError",
    "Declared",
    "Settings",
    "StillBroken",
    "ToolsTable",
    "UiSettings",
    "UnparsedConfig",
    "load_leniently",
    "load_settings",
    "parse_setting",
    "save_value",
]
