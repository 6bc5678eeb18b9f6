"""Tool names the providers accept (^[a-zA-Z0-9_-]{1,64}$), unique in a request, mapped back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LEN = 64
WIRE_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}\Z")
SEPARATOR = "__"  # between an MCP server's name and its tool's: "weather__get_forecast"

_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_-]")
_HASH_LEN = 8


def sanitise(name: str) -> str:
    """Every character the providers refuse (MCP allows `.`, and servers send more) as `_`."""
    return _NOT_ALLOWED.sub("_", name) or "_"


def _digest(*parts: str) -> str:
    # NUL cannot occur in a TOML key or a JSON-RPC tool name, so the parts cannot run together.
    # hashlib is imported here, for a long name: the built-ins' names never need it, and it
    # took 3 ms on the chat screen's way to its first paint.
    import hashlib

    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:_HASH_LEN]


def _with_hash(base: str, digest: str) -> str:
    """`base` cut so that `_` and the digest still fit in MAX_LEN."""
    return f"{base[: MAX_LEN - _HASH_LEN - 1]}_{digest}"


def wire_name(name: str, server: str | None = None) -> str:
    """The name the model sees for `name` (of MCP server `server`, or a built-in when None):
    sanitised, prefixed `SERVER__`, and cut with a short hash of the original when too long,
    so two long names that share a beginning stay apart."""
    base = sanitise(name) if server is None else sanitise(server) + SEPARATOR + sanitise(name)
    if len(base) <= MAX_LEN:
        return base
    return _with_hash(base, _digest(server or "", name))


@dataclass
class NameMap:
    """The wire names of one set of tools, each unique, and the way back to where each came from.

    The first tool to claim a wire name keeps it; a later one whose name sanitises to the same
    text (`a.b` and `a_b`) gets a hash of its own original name instead, so the same tools in the
    same order always get the same names (a resumed conversation's calls still resolve)."""

    _origin: dict[str, tuple[str | None, str]] = field(default_factory=dict)

    def add(self, name: str, server: str | None = None) -> str:
        """Claim a wire name for `name` (of `server`, or a built-in); returns it."""
        wire = wire_name(name, server)
        if wire in self._origin:
            base, salt = wire, 0
            wire = _with_hash(base, _digest(server or "", name))
            while wire in self._origin:  # the same tool listed twice, or a hash collision
                salt += 1
                wire = _with_hash(base, _digest(server or "", name, str(salt)))
        self._origin[wire] = (server, name)
        return wire

    def origin(self, wire: str) -> tuple[str | None, str] | None:
        """(server or None for a built-in, the tool's own name) for a wire name, or None."""
        return self._origin.get(wire)

    def __contains__(self, wire: object) -> bool:
        return wire in self._origin

    def __len__(self) -> int:
        return len(self._origin)
