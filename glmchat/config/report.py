"""The problems found in one config document, each tied to its key, shown as PATH:LINE:COL lines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmchat.config.rules import Invalid, Rule, did_you_mean, show_value, validate

if TYPE_CHECKING:
    from glmchat.toml_positions import Path as KeyPath


class Report:
    """The problems found in one document, each tied to the key it is about.

    Every problem is collected (not just the first), and each becomes `PATH:LINE:COL: message`
    when the document has a source text; a document built by `config set` has none yet, and its
    problems are about the command's own KEY VALUE."""

    def __init__(self, path: Path, source: str | None) -> None:
        self.path = path
        self.source = source
        self.errors: list[tuple[KeyPath | None, str]] = []
        self.warnings: list[tuple[KeyPath | None, str]] = []

    def error(self, key: KeyPath | None, message: str) -> None:
        """`key` None: the problem is not in the file (an environment variable)."""
        self.errors.append((key, message if key is None else f"{'.'.join(key)}: {message}"))

    def unknown(self, key: KeyPath, known: list[str]) -> None:
        prefix = "".join(f"{part}." for part in key[:-1])
        hint = did_you_mean(key[-1], known, prefix)
        self.warnings.append((key, f'unknown key "{prefix}{key[-1]}" ignored{hint}'))

    def check(self, key: KeyPath, f: Rule, value: Any) -> Any:
        """The value converted, or None (never a valid result) once its problem is recorded."""
        try:
            return validate(f, value)
        except Invalid as exc:
            self.error(key, str(exc))
            return None

    def table(self, key: KeyPath, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.error(key, f"expected a table, got {show_value(value)}")
        return {}

    def lines(self, found: list[tuple[KeyPath | None, str]]) -> list[str]:
        """One line per problem, in the order of the file (positions found only when needed:
        a good file is never scanned)."""
        if self.source is None:
            return [message for _, message in found]
        if not found:
            return []
        from glmchat.toml_positions import key_positions, position_of

        positions = key_positions(self.source) if any(k for k, _ in found) else {}
        placed: list[tuple[tuple[int, int], str]] = []
        outside: list[str] = []
        for key, message in found:
            if key is None:
                outside.append(message)
            else:
                line, col = position_of(positions, key)
                placed.append(((line, col), f"{self.path}:{line}:{col}: {message}"))
        placed.sort(key=lambda item: item[0])  # stable: one key's problems keep their order
        return [line for _, line in placed] + outside

    def about(self, key: KeyPath) -> list[tuple[KeyPath | None, str]]:
        """The errors about `key`, a key inside it, or a table holding it."""
        return [(k, m) for k, m in self.errors if k is not None and key[: len(k)] == k[: len(key)]]

    def messages(self) -> list[str]:
        """Each error without its position: the same problem reads the same in any text."""
        return [message for _, message in self.errors]
