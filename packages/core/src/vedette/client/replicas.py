"""`connect_replica()`: a ``redis.Redis`` that reads from the replicas.

What the returned client's connections do:

- **Every connect asks the Sentinels** for the replicas they consider healthy and in sync
  (``master-link-status`` ok, not down), takes the next one in turn, and checks ``ROLE`` on the
  new connection. New connections so spread over the replicas.
- **With no usable replica, it reads from the master** (logged once), as a client that must
  answer would rather read fresh data than none.
- **A master switch cuts connections to the old and the new master**: the promoted replica now
  takes the writes, and the next connect spreads again over the replicas that are left.
- **Connection failures are retried** like the master client's, under ``retry_deadline``, and a
  late reply is waited for the same way. A write sent here fails at once with redis-py's
  ``ReadOnlyError``: it is not retried.

Replicas replicate asynchronously: a read may not see a write just acknowledged by the master.
Read from the master (`vedette.connect`) where that matters.

Examples:
    >>> import vedette
    >>> reader = vedette.connect_replica("redis+sentinel://10.0.0.1/mymaster")  # doctest: +SKIP
    >>> reader.get("report")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import redis
from redis.connection import SSLConnection

from vedette.address import Address
from vedette.client.connection import SentinelConnection, SentinelPool
from vedette.client.hub import Hub
from vedette.config.sentinel_config import SentinelConfig, config_from
from vedette.sentinel.watcher import FailoverWatcher

__all__ = ["ReplicaConnection", "ReplicaPool", "connect_replica"]


def connect_replica(
    url_or_config: str | SentinelConfig,
    *,
    watcher: FailoverWatcher | None = None,
    **redis_options: Any,
) -> redis.Redis:
    """A ``redis.Redis`` client that reads from the service's replicas (the master if none).

    Args:
        url_or_config: A ``redis+sentinel://`` URL or a `SentinelConfig`.
        watcher: As for `vedette.connect`.
        **redis_options: As for `vedette.connect`.

    Returns:
        A client whose pool is a `ReplicaPool`; ``close()`` it when done.

    Raises:
        ConfigurationError: The URL or an option is invalid.
    """
    pool = ReplicaPool(config_from(url_or_config), watcher=watcher, **redis_options)
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True
    return client


class ReplicaConnection(SentinelConnection):
    """A connection to the next healthy replica (or to the master when none is left)."""

    replica = True

    def _resolve(self, hub: Hub) -> tuple[Address, str]:
        return hub.replica_address()


class ReplicaSSLConnection(ReplicaConnection, SSLConnection):
    """A TLS connection to a replica."""


class ReplicaPool(SentinelPool):
    """A connection pool whose connections reach the replicas in turn; see the module.

    Args:
        config: Where the Sentinels are and how to talk to Redis.
        watcher: As for `vedette.MasterPool`.
        **redis_options: See `vedette.connect`.
    """

    def __init__(
        self,
        config: SentinelConfig,
        *,
        watcher: FailoverWatcher | None = None,
        **redis_options: Any,
    ) -> None:
        super().__init__(config, watcher=watcher, **redis_options)

    def connection_base(self, *, tls: bool) -> type[SentinelConnection]:
        """A replica connection, TLS or not."""
        return ReplicaSSLConnection if tls else ReplicaConnection
