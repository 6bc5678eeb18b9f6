"""API keys: the environment first, then credentials.toml (mode 0600); always shown masked."""

from __future__ import annotations

import os
import re
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from glmchat.backend.providers import ProviderConfig
from glmchat.config import ConfigError
from glmchat.errors import GlmchatError
from glmchat.paths import credentials_path, write_atomic

_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def mask(key: str) -> str:
    """`sk-…abcd`: a short recognizable prefix and the last four characters, nothing more."""
    if len(key) < 8:
        return "****"
    if len(key) < 12:
        return "…" + key[-2:]
    dash = key.find("-")
    prefix = key[: dash + 1] if 0 <= dash <= 3 else key[:3]
    return f"{prefix}…{key[-4:]}"


def key_problem(key: str) -> str | None:
    """Why `key` cannot be an API key, or None. Providers issue keys of printable ASCII without
    spaces (letters, digits, `-`, `_`, `.`): anything else is a paste gone wrong, such as one
    with terminal codes in it (shown by the key box as `\\x1b`), never to be saved."""
    if not key:
        return "no API key given"
    if any(ch.isspace() for ch in key):
        return "the API key contains whitespace; give the key alone"
    if any(not ("!" <= ch <= "~") or ch == "\\" for ch in key):
        return (
            "the API key holds characters no key has (control codes, non-ASCII or a "
            "backslash, as a paste with terminal codes does); give the key alone"
        )
    return None


class Secret:
    """A key that prints masked everywhere (repr, str, f-strings, tracebacks' locals)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real key, for the one place that needs it: the Authorization header."""
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # here: hmac and hashlib take 3 ms to import, on the chat screen's way up

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    # Immutable, so copies can be the object itself; this also keeps dataclasses.asdict working.
    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        # Pickles end up in caches and logs; a key must not travel that way by accident.
        raise TypeError("a Secret cannot be pickled; call reveal() deliberately")


class CredentialsError(ConfigError):
    """credentials.toml is unreadable or malformed; the message names the file."""


class MissingKeyError(GlmchatError):
    """A provider that needs a key has none; the message says how to set one."""

    def __init__(self, provider: ProviderConfig) -> None:
        self.provider = provider.name
        self.env_var = provider.api_key_env
        super().__init__(
            f"No API key for {provider.name}. Set {provider.api_key_env} "
            f"or run: glmchat config set-key {provider.name}"
        )


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """Where a key came from: `origin` is "environment" (with `variable`) or "file"."""

    secret: Secret
    origin: str
    variable: str | None = None

    def describe(self, file_name: str = "credentials.toml") -> str:
        return f"environment ({self.variable})" if self.origin == "environment" else file_name


def env_names(provider: ProviderConfig) -> tuple[str, ...]:
    """Environment variables that may hold the provider's key, in order of precedence."""
    generic = provider.name.upper().replace("-", "_") + "_API_KEY"
    names = [provider.api_key_env] if provider.api_key_env else []
    return tuple(dict.fromkeys([*names, generic, *provider.fallback_key_envs]))


class CredentialStore:
    """Reads and writes API keys; the file is re-read on each call, so it is never stale."""

    def __init__(self, path: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.path = path or credentials_path()
        self._environ = os.environ if environ is None else environ
        self._warnings: list[str] = []

    def __repr__(self) -> str:
        return f"CredentialStore({str(self.path)!r})"

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(self._warnings)

    def find(self, provider: ProviderConfig) -> KeyLookup | None:
        for name in env_names(provider):
            value = self._environ.get(name, "").strip()
            if value:
                return KeyLookup(Secret(value), "environment", name)
        entry = self._read().get("providers", {}).get(provider.name, {})
        value = entry.get("api_key", "").strip()
        return KeyLookup(Secret(value), "file") if value else None

    def get(self, provider: ProviderConfig) -> Secret | None:
        found = self.find(provider)
        return found.secret if found else None

    def source(self, provider: ProviderConfig) -> str | None:
        found = self.find(provider)
        return found.describe(self.path.name) if found else None

    def stored_providers(self) -> tuple[str, ...]:
        """Names with a key in the file (not the environment)."""
        return tuple(self._read().get("providers", {}))

    def set(self, provider_name: str, key: str | Secret) -> None:
        value = (key.reveal() if isinstance(key, Secret) else key).strip()
        if not value:
            raise CredentialsError("refusing to store an empty API key")
        if (problem := key_problem(value)) is not None:
            raise CredentialsError(f"refusing to store the key: {problem}")
        doc = self._read()  # a corrupt file raises here, before anything is written
        doc.setdefault("providers", {}).setdefault(provider_name, {})["api_key"] = value
        self._write(doc)

    def unset(self, provider_name: str) -> bool:
        doc = self._read()
        providers = doc.get("providers", {})
        entry = providers.get(provider_name)
        if entry is None or "api_key" not in entry:
            return False
        del entry["api_key"]
        if not entry:
            del providers[provider_name]
        self._write(doc)
        return True

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CredentialsError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        self._tighten_mode()
        try:
            doc = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            # The message could quote file content, which here is a key: keep only the position.
            at = _AT.search(str(exc))
            where = f"{self.path}:{at[1]}:{at[2]}" if at else str(self.path)
            raise CredentialsError(f"{where}: not valid TOML; fix or delete the file") from None
        providers = doc.get("providers", {})
        if not isinstance(providers, dict):
            raise CredentialsError(f"{self.path}: providers: expected a table")
        for name, entry in providers.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("api_key", ""), str):
                raise CredentialsError(
                    f'{self.path}: providers.{name}: expected a table with api_key = "..."'
                )
        return doc

    def _tighten_mode(self) -> None:
        if sys.platform == "win32":
            return  # POSIX modes mean nothing there
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
            if mode & 0o077:
                os.chmod(self.path, 0o600)
                self._warnings.append(
                    f"{self.path} was readable by others (mode {mode:04o}); changed it to 0600"
                )
        except OSError as exc:
            self._warnings.append(f"{self.path}: could not restrict its mode: {exc.strerror}")

    def _write(self, doc: dict[str, Any]) -> None:
        import tomli_w

        write_atomic(self.path, tomli_w.dumps(doc).encode("utf-8"), mode=0o600)


def require_key(settings_provider: ProviderConfig, store: CredentialStore) -> Secret | None:
    """The provider's key; None for a keyless provider (a local server) with none set."""
    secret = store.get(settings_provider)
    if secret is not None:
        return secret
    if not settings_provider.requires_key:
        return None
    raise MissingKeyError(settings_provider)
