"""`connect_replica()`: a ``redis.Redis`` that reads from the replicas.

What the returned client's connection pool does:

- **Every connect asks the Sentinels** for the replicas they consider healthy and in sync
  (``master-link-status`` ok, not down), takes the next one in turn, and checks ``ROLE`` on the
  new connection. New connections so spread over the replicas.
- **With no usable replica, it reads from the master** (logged once), as a client that must
  answer would rather read fresh data than none.
- **A master switch cuts connections to the old and the new master**: the promoted replica now
  takes the writes, and the next connect spreads again over the replicas that are left.
- **Connection failures are retried** like the master client's, under ``retry_deadline``. A write
  sent here fails at once with redis-py's ``ReadOnlyError``: it is not retried.

Replicas replicate asynchronously: a read may not see a write just acknowledged by the master.
Read from the master (`vedette.connect`) where that matters.

Usage:
    >>> import vedette
    >>> reader = vedette.connect_replica("redis+sentinel://10.0.0.1/mymaster")  # doctest: +SKIP
    >>> reader.get("report")  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

import redis
from redis.connection import SSLConnection

from vedette._pool import Resolving, SentinelPool, config_from
from vedette.address import Address
from vedette.config import SentinelConfig
from vedette.events import FailoverEvent, MasterSwitched
from vedette.watcher import FailoverWatcher

__all__ = ["ReplicaPool", "connect_replica"]

logger = logging.getLogger(__name__)


def connect_replica(url_or_config: str | SentinelConfig, **redis_options: Any) -> redis.Redis:
    """A ``redis.Redis`` client that reads from the service's replicas (the master if none).

    Args:
        url_or_config: A ``redis+sentinel://`` URL or a `SentinelConfig`.
        **redis_options: As for `vedette.connect`.

    Returns:
        A client whose pool is a `ReplicaPool`; ``close()`` it when done.

    Raises:
        ConfigurationError: The URL or an option is invalid.
    """
    pool = ReplicaPool(config_from(url_or_config), **redis_options)
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True
    return client


class ReplicaPool(SentinelPool):
    """A connection pool whose connections reach the replicas in turn; see the module.

    Args:
        config: Where the Sentinels are and how to talk to Redis.
        watcher: A running `FailoverWatcher` to share; by default the pool starts its own.
        **redis_options: See `vedette.connect`.
    """

    def __init__(
        self,
        config: SentinelConfig,
        *,
        watcher: FailoverWatcher | None = None,
        **redis_options: Any,
    ) -> None:
        self._turn = itertools.count()
        self._turn_lock = threading.Lock()
        self._on_master = False
        super().__init__(config, watcher=watcher, retry_readonly=False, **redis_options)

    def resolve(self, connection: Resolving) -> tuple[Address, str]:
        """The next healthy replica (``ROLE`` slave), or the master when there is none."""
        topology = self.discovery.discover()
        if not topology.replicas:
            if not self._on_master:
                logger.warning(
                    "service %r: no healthy replica; reading from the master %s",
                    self.config.service_name,
                    topology.master,
                )
                self._on_master = True
            return topology.master, "master"
        if self._on_master:
            logger.warning("service %r: reading from replicas again", self.config.service_name)
            self._on_master = False
        with self._turn_lock:
            turn = next(self._turn)
        return topology.replicas[turn % len(topology.replicas)], "slave"

    def on_event(self, event: FailoverEvent) -> None:
        """On a master switch, cut connections to the old and the new master."""
        if isinstance(event, MasterSwitched):
            involved = {event.old, event.new}
            self.drop_connections(lambda address: address in involved)


class _ReplicaConnection(Resolving):
    """A plain TCP connection to a replica."""


class _ReplicaSSLConnection(Resolving, SSLConnection):
    """A TLS connection to a replica."""


ReplicaPool.tcp_connection_class = _ReplicaConnection
ReplicaPool.tls_connection_class = _ReplicaSSLConnection
