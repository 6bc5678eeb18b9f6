"""The one httpx detail glmchat relies on that is not public API: where a client keeps the
connection pools of its transports, so that they reach the network through glmchat's backend
(tripwire: tests/test_network.py). httpx takes a transport, not a network backend, and builds
its proxies' transports itself from the environment."""

from __future__ import annotations

import httpcore
import httpx


def use_network_backend(client: httpx.AsyncClient, backend: httpcore.AsyncNetworkBackend) -> int:
    """Make every connection pool of `client` (its transport and each proxy's) connect through
    `backend`; returns how many pools now do."""
    transports = [client._transport, *client._mounts.values()]
    pools = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore.AsyncConnectionPool):  # proxies' pools are subclasses
            pool._network_backend = backend
            pools += 1
    return pools
