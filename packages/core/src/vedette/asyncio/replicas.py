"""`vedette.asyncio.connect_replica()`: a ``redis.asyncio.Redis`` that reads from the replicas.

As `vedette.connect_replica` (see `vedette.client.replicas`): every connect takes the next replica
the Sentinels call healthy (the master if none), checked by its role; a switch cuts connections
to the old and the new master. The Sentinels are asked in a worker thread, off the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio

from vedette.address import Address
from vedette.asyncio.connection import (
    AsyncSentinelConnection,
    AsyncSentinelPool,
    SharedContextSSLConnection,
)
from vedette.client.hub import Hub
from vedette.config.sentinel_config import SentinelConfig, config_from
from vedette.sentinel.watcher import FailoverWatcher

__all__ = ["AsyncReplicaConnection", "AsyncReplicaPool", "connect_replica"]


def connect_replica(
    url_or_config: str | SentinelConfig,
    *,
    watcher: FailoverWatcher | None = None,
    **redis_options: Any,
) -> redis.asyncio.Redis:
    """A ``redis.asyncio.Redis`` client that reads from the replicas (the master if none).

    Args:
        url_or_config: A ``redis+sentinel://`` URL or a `vedette.SentinelConfig`.
        watcher: As for `vedette.asyncio.connect`.
        **redis_options: As for `vedette.asyncio.connect`.

    Returns:
        A client whose pool is an `AsyncReplicaPool`; ``await client.aclose()`` it when done.

    Raises:
        ConfigurationError: The URL or an option is invalid.
    """
    pool = AsyncReplicaPool(config_from(url_or_config), watcher=watcher, **redis_options)
    client = redis.asyncio.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True
    return client


class AsyncReplicaConnection(AsyncSentinelConnection):
    """An async connection to the next healthy replica (or to the master when none is left)."""

    replica = True

    async def _resolve(self, hub: Hub) -> tuple[Address, str]:
        return await asyncio.to_thread(hub.replica_address)


class AsyncReplicaSSLConnection(AsyncReplicaConnection, SharedContextSSLConnection):
    """An async TLS connection to a replica."""


class AsyncReplicaPool(AsyncSentinelPool):
    """An async pool whose connections reach the replicas in turn; see the module.

    Args:
        config: Where the Sentinels are and how to talk to Redis.
        watcher: As for `AsyncMasterPool`.
        **redis_options: See `vedette.asyncio.connect`.
    """

    def __init__(
        self,
        config: SentinelConfig,
        *,
        watcher: FailoverWatcher | None = None,
        **redis_options: Any,
    ) -> None:
        super().__init__(config, watcher=watcher, **redis_options)

    def connection_base(self, *, tls: bool) -> type[AsyncSentinelConnection]:
        """A replica connection, TLS or not."""
        return AsyncReplicaSSLConnection if tls else AsyncReplicaConnection
