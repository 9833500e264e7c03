"""Which service a redis-py client follows, if any: its configuration and its watcher.

A Vedette client's pool says so itself (`SentinelPool`). So does a plain ``redis.ConnectionPool``
of Vedette connections, which is what RQ and Celery rebuild from a Vedette client's pool in
another process: its connection class is bound to the configuration.
"""

from __future__ import annotations

import redis

from vedette.client.connection import SentinelPool
from vedette.config.sentinel_config import SentinelConfig
from vedette.sentinel.watcher import FailoverWatcher, shared_watcher

__all__ = ["config_of", "watcher_of"]


def config_of(client: redis.Redis) -> SentinelConfig | None:
    """The configuration of the service ``client`` follows; None if it follows none."""
    pool = client.connection_pool
    if isinstance(pool, SentinelPool):
        return pool.config
    config = getattr(getattr(pool, "connection_class", None), "config", None)
    return config if isinstance(config, SentinelConfig) else None


def watcher_of(client: redis.Redis) -> FailoverWatcher | None:
    """The watcher ``client``'s connections react to; None if it follows no service."""
    pool = client.connection_pool
    if isinstance(pool, SentinelPool):
        return pool.watcher
    config = config_of(client)
    return None if config is None else shared_watcher(config)
