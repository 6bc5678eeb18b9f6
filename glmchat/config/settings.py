"""The settings of config.toml, each declared once (type, default, rule, help), and their values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from glmchat.backend.providers import (
    BUILTIN_PROVIDERS,
    DEFAULT_MODEL,
    DEFAULT_PROVIDER,
    DIALECTS,
    REASONING_FIELDS,
    THINKING_PARAMS,
    ProviderConfig,
    resolve_model,
)
from glmchat.catalogue.model_info import THINKING_KINDS, ModelOverride
from glmchat.code_themes import CODE_THEMES
from glmchat.config.rules import Rule
from glmchat.errors import GlmchatError
from glmchat.keybindings import BINDING_IDS
from glmchat.paths import config_path
from glmchat.textual_names import THEMES
from glmchat.tools.base import APPROVE_POLICIES, BUILTIN_TOOL_NAMES, McpServerConfig

T = TypeVar("T")


class ConfigError(GlmchatError):
    """A config problem: one line per problem, each naming the file (and line:column when known)."""


def setting(default: T, rule: Rule, doc: str) -> T:
    """Declare one setting: a dataclass field whose default is `default`, carrying the rule that
    validation and `config set` apply and the help line config.example.toml repeats."""
    return field(default=default, metadata={"rule": rule, "doc": doc})


# --- the declarations: the one place a setting is named, typed and given its default -----


@dataclass(frozen=True, slots=True)
class UiSettings:
    """The `[ui]` table."""

    show_thinking: bool = setting(
        True, Rule("bool"), "Show the reasoning panels at all (their text is saved either way)"
    )
    fold_thinking_when_answer_starts: bool = setting(
        True,
        Rule("bool"),
        "Fold a reasoning panel as soon as the answer begins to stream (ctrl+o unfolds it)",
    )
    refresh_rate: float = setting(
        12.0, Rule("float", 1, 120), "How often a streaming message is redrawn, in Hz"
    )
    code_theme: str = setting(
        "monokai", Rule("code_theme", choices=CODE_THEMES), "Pygments style for code blocks"
    )
    compact: bool = setting(False, Rule("bool"), "Tighter layout: less padding around messages")


@dataclass(frozen=True, slots=True)
class ToolsTable:
    """The `[tools]` table (the engine gets it as a glmchat.tools.base.ToolSettings)."""

    approve: str = setting(
        "ask",
        Rule("choice", choices=APPROVE_POLICIES),
        'Which tool calls run without asking: "ask" (none: every call asks), "read-only" '
        '(tools that only read run at once) or "all"',
    )
    max_rounds: int = setting(
        20, Rule("int", 1, 100), "The most model calls in one exchange (a tool loop)"
    )
    timeout: float = setting(
        60.0, Rule("float", 1, 3600), "Seconds one tool call may run before it is stopped"
    )
    max_result_kb: int = setting(
        64,
        Rule("int", 1, 4096),
        "A tool result longer than this many KB is cut, with a note the model sees",
    )
    builtin: tuple[str, ...] = setting(
        (),
        Rule("choice_list", choices=BUILTIN_TOOL_NAMES),
        "The built-in tools offered to the model (none by default)",
    )
    allowed_dirs: tuple[str, ...] = setting(
        (".",),
        Rule("str_list"),
        "Where read_file and list_dir may look (relative paths are from where glmchat starts)",
    )
    web_search: bool = setting(
        False,
        Rule("bool"),
        "Offer Z.ai's server-side web search on the zai, zai-coding and bigmodel providers",
    )
    fetch_private: bool = setting(
        False,
        Rule("bool"),
        "Let fetch_url reach loopback, private and link-local addresses (local servers)",
    )


@dataclass(frozen=True, slots=True)
class BudgetTable:
    """The `[budget]` table: spending limits that warn (never block) when an answer crosses
    them (glmchat/budget.py)."""

    daily_usd: float | None = setting(
        None,
        Rule("float", 0, 1_000_000),
        "Warn when the answers of one day (local time) have cost this much, in US dollars",
    )
    monthly_usd: float | None = setting(
        None,
        Rule("float", 0, 1_000_000),
        "Warn when the answers of one calendar month have cost this much, in US dollars",
    )


@dataclass(frozen=True, slots=True)
class CodingPlanTable:
    """The `[coding_plan]` table: Z.ai's GLM Coding Plan, used through the zai-coding provider
    (glmchat/coding_plan.py)."""

    prompts: int | None = setting(
        None,
        Rule("int", 1, 1_000_000),
        "Your plan's prompts per five hours (Z.ai: Lite about 120, Pro 600, Max 2400); glmchat "
        "counts the prompts sent to zai-coding against it",
    )


def _builtin_providers() -> Mapping[str, ProviderConfig]:
    return MappingProxyType(dict(BUILTIN_PROVIDERS))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything config.toml (and GLMCHAT_MODEL) decide, built once at start and passed in.

    The fields declared with `setting()` are config.toml's top-level keys; the tables
    (`[ui]`, `[keys]`, `[providers.NAME]`, `[tools]`, `[mcp.servers.NAME]`) and where each
    value came from follow them."""

    default_model: str = setting(
        DEFAULT_MODEL,
        Rule("model"),
        "Model for new conversations, as PROVIDER/MODEL. A bare model name uses this provider",
    )
    thinking: bool = setting(
        True, Rule("bool"), "Start new conversations with thinking (reasoning) on"
    )
    theme: str = setting(
        "textual-dark", Rule("choice", choices=THEMES), "Textual theme of the interface"
    )
    # None: left out of the request, so the provider's own default applies.
    temperature: float | None = setting(
        None, Rule("float", 0, 2), "Sampling temperature: higher gives more varied answers"
    )
    top_p: float | None = setting(
        None,
        Rule("float", 0, 1),
        "Nucleus sampling: draw only from the likeliest tokens up to this total probability",
    )
    # The bound is no model's: a value above the model's own maximum output is capped per
    # request, with a note (glmchat/catalogue).
    max_tokens: int | None = setting(
        None,
        Rule("int", 1, 1_048_576),
        "The longest answer, in tokens (the answer plus its reasoning); capped at each model's "
        "maximum output",
    )
    system_prompt: str | None = setting(
        None, Rule("text"), "A system prompt for new conversations; left out, none is sent"
    )
    providers: Mapping[str, ProviderConfig] = field(default_factory=_builtin_providers)
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ui: UiSettings = field(default_factory=UiSettings)
    tools: ToolsTable = field(default_factory=ToolsTable)
    budget: BudgetTable = field(default_factory=BudgetTable)
    coding_plan: CodingPlanTable = field(default_factory=CodingPlanTable)
    mcp_servers: Mapping[str, McpServerConfig] = field(default_factory=lambda: MappingProxyType({}))
    # `[models."PROVIDER/MODEL"]`: catalogue figures replaced or added (glmchat/catalogue).
    models: Mapping[str, ModelOverride] = field(default_factory=lambda: MappingProxyType({}))
    warnings: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    path: Path = field(default_factory=config_path)

    @property
    def default_provider(self) -> str:
        """The provider used for a bare model name: the default model's, else zai."""
        provider, sep, _ = self.default_model.partition("/")
        return provider if sep and provider in self.providers else DEFAULT_PROVIDER

    def resolve_model(self, name: str | None = None) -> tuple[ProviderConfig, str]:
        """`PROVIDER/MODEL` (or a bare model, or None for the default) -> (provider, model id)."""
        name = name or self.default_model
        try:
            provider, model = resolve_model(name, dict(self.providers), self.default_provider)
        except KeyError as exc:
            known = ", ".join(self.providers)
            raise ConfigError(
                f'unknown provider "{exc.args[0]}" in model "{name}"; known providers: {known}'
            ) from None
        if not model:
            raise ConfigError(f'no model name in "{name}"; use PROVIDER/MODEL, like "zai/glm-4.5"')
        return provider, model

    def key_for(self, binding_id: str) -> str:
        """The effective keys of a binding id: the `[keys]` remapping, else the default."""
        return self.keys.get(binding_id, BINDING_IDS[binding_id])

    def value_of(self, declared: Declared) -> object:
        """The effective value of one declared setting."""
        return getattr(getattr(self, declared.table) if declared.table else self, declared.name)


# --- what the declarations give everyone else ------------------------------------------


@dataclass(frozen=True, slots=True)
class Declared:
    """One setting as the declarations above state it, under its dotted config.toml key."""

    key: str  # as `config set` and `config show` name it: "theme", "ui.compact"
    table: str  # "" for a top-level key
    name: str
    rule: Rule
    default: object
    doc: str

    @property
    def optional(self) -> bool:
        """No default value: left out, nothing is sent; `config set KEY none` removes it."""
        return self.default is None


def _declared(cls: type, table: str) -> dict[str, Declared]:
    prefix = f"{table}." if table else ""
    return {
        prefix + f.name: Declared(
            prefix + f.name, table, f.name, f.metadata["rule"], f.default, f.metadata["doc"]
        )
        for f in fields(cls)
        if "rule" in f.metadata
    }


# Every setting with a single value, top level first, by dotted key, in declaration order.
SETTINGS: Mapping[str, Declared] = MappingProxyType(
    {
        **_declared(Settings, ""),
        **_declared(UiSettings, "ui"),
        **_declared(ToolsTable, "tools"),
        **_declared(BudgetTable, "budget"),
        **_declared(CodingPlanTable, "coding_plan"),
    }
)
SECTIONS = ("ui", "keys", "providers", "tools", "mcp", "models", "budget", "coding_plan")
KEYS_RULE = Rule("keys")  # every `[keys]` value; the ids and defaults are keybindings.BINDING_IDS


# A `[providers.NAME]` key sets the ProviderConfig field of its name, which declares the type and
# the default (the built-in provider's, or the class default for a new one); config adds only the
# rule. (tests/test_config.py checks that each one names a ProviderConfig field.)
PROVIDER_RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "label": Rule("str"),
        "dialect": Rule("choice", choices=DIALECTS),
        "base_url": Rule("url"),
        "api_key_env": Rule("env"),
        "models": Rule("str_list"),
        "headers": Rule("str_table"),
        "read_timeout": Rule("float", 1, 3600),
        "thinking_param": Rule("choice", choices=THINKING_PARAMS),
        "reasoning_field": Rule("choice", choices=REASONING_FIELDS),
        "requires_key": Rule("bool"),
        "extra_body": Rule("table"),
    }
)


# A `[mcp.servers.NAME]` key sets the McpServerConfig field of its name (glmchat/tools/base.py);
# config adds only the rule. A server has `command` (stdio) or `url` (streamable HTTP).
MCP_SERVER_RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "command": Rule("str"),
        "args": Rule("str_list"),
        "env": Rule("str_table"),
        "url": Rule("url"),
        "headers": Rule("str_table"),
        "enabled": Rule("bool"),
        "approve": Rule("choice", choices=APPROVE_POLICIES),
    }
)


# A `[models."PROVIDER/MODEL"]` key sets the ModelOverride field of its name
# (glmchat/catalogue/model_info.py); config adds only the rule.
MODEL_RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "context": Rule("int", 1, 100_000_000),
        "max_output": Rule("int", 1, 100_000_000),
        "thinking": Rule("choice", choices=THINKING_KINDS),
        "price_input": Rule("float", 0, 10_000),
        "price_cached": Rule("float", 0, 10_000),
        "price_output": Rule("float", 0, 10_000),
    }
)
