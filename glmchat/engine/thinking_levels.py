"""The thinking switch per model: on/off for models that may stop thinking, effort levels for
models that always think (GLM-5.3), and the answer length a model allows."""

from __future__ import annotations

from glmchat.catalogue import ModelInfo


def fitted(info: ModelInfo, thinking: bool, effort: str | None) -> tuple[bool, str | None]:
    """(thinking, effort) as this model can take them. An always-thinking model asked not to
    think gets its lowest effort: it never receives `thinking.type: disabled`, which it
    refuses (400, code 1210). An effort the model does not take is dropped (its default)."""
    if effort is not None and effort not in info.efforts:
        effort = None
    if info.always_thinks:
        if not thinking:
            effort = info.efforts[0] if info.efforts else "low"
        return True, effort
    return thinking, effort


def next_level(info: ModelInfo, thinking: bool, effort: str | None) -> tuple[bool, str | None]:
    """What ctrl+t moves to: the next effort, round to the lowest, on an always-thinking model
    (low -> high -> max -> low); on/off on any other."""
    if not info.always_thinks or not info.efforts:
        return not thinking, effort
    current = effort or info.default_effort or info.efforts[-1]
    levels = info.efforts
    at = levels.index(current) if current in levels else len(levels) - 1
    return True, levels[(at + 1) % len(levels)]


def switched(info: ModelInfo, on: bool) -> tuple[bool, str | None, str | None]:
    """(thinking, effort, note) for an explicit on/off (`ask --think` / `--no-think`): on an
    always-thinking model they become the highest and the lowest effort, said in the note."""
    if not info.always_thinks or not info.efforts:
        return on, None, None
    effort = info.efforts[-1] if on else info.efforts[0]
    flag = "--think" if on else "--no-think"
    which = "highest" if on else "lowest"
    return (
        True,
        effort,
        f"{info.model} always thinks; {flag} asks for its {which} effort ({effort})",
    )


def label(thinking: bool, effort: str | None, info: ModelInfo) -> str:
    """How the status bar and notifications name the setting: "ON", "OFF", or an effort."""
    if info.always_thinks:
        return effort or info.default_effort or "ON"
    return "ON" if thinking else "OFF"


def capped_max_tokens(info: ModelInfo, max_tokens: int | None) -> tuple[int | None, str | None]:
    """max_tokens within the model's maximum output, and a note when it had to be cut: a
    larger value is refused by the provider (a 400 for GLM-5.3 above 131072)."""
    if max_tokens is None or info.max_output is None or max_tokens <= info.max_output:
        return max_tokens, None
    note = (
        f"max_tokens {max_tokens} is above {info.model}'s maximum output of "
        f"{info.max_output} tokens; sending {info.max_output}"
    )
    return info.max_output, note
