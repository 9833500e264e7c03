"""`SentinelBroker`: Dramatiq's `RedisBroker` on the master a Sentinel service names.

Everything Dramatiq stores stays where `RedisBroker` keeps it (the same namespace, queues,
``.msgs`` hashes, acknowledgement sets, dead-letter queues and heartbeats), so workers of both
kinds, dramatiq's dashboard and other tools read the same keys. What changes:

- the client is `vedette.connect(config)`: it finds the master through the Sentinels, follows it
  through every failover and holds commands while a replica is promoted;
- enqueueing is idempotent and retried through a failover, so ``actor.send()`` blocks for the
  failover instead of raising (`vedette_dramatiq.following.enqueue_once`);
- consumers are `SentinelConsumer`: they reconcile with the new master instead of being
  restarted after Dramatiq's 3 s delay.
"""

from __future__ import annotations

from typing import Any

from dramatiq.brokers.redis import (
    DEFAULT_DEAD_MESSAGE_TTL,
    DEFAULT_HEARTBEAT_TIMEOUT,
    DEFAULT_MAINTENANCE_CHANCE,
    RedisBroker,
)
from dramatiq.middleware import Middleware

import vedette
from vedette_dramatiq.consumer import SentinelConsumer
from vedette_dramatiq.following import enqueue_once, follow

__all__ = ["SentinelBroker", "config_from"]


def config_from(url: str | None, config: vedette.SentinelConfig | None) -> vedette.SentinelConfig:
    """The configuration given as exactly one of ``url`` and ``config``.

    Raises:
        vedette.ConfigurationError: Neither or both given, or the URL is malformed.
    """
    if (url is None) == (config is None):
        raise vedette.ConfigurationError(
            "url / config",
            "give exactly one: a redis+sentinel://host1,host2/service_name URL or a "
            "vedette.SentinelConfig",
        )
    if config is not None:
        return vedette.config_from(config, setting="config")
    assert url is not None  # exactly one was given
    return vedette.config_from(url, setting="url")


class SentinelBroker(RedisBroker):
    """A `RedisBroker` on a Sentinel service's master, through every failover.

    Args:
        url: ``redis+sentinel://[user:password@]host1:26379,host2:26379/service_name[/db]``
            with the core's options (``?wait_replicas=1``, ``sentinel_password=...``).
        config: Or the `vedette.SentinelConfig` itself.
        middleware: As for `RedisBroker`.
        namespace: As for `RedisBroker`.
        maintenance_chance: As for `RedisBroker`.
        heartbeat_timeout: As for `RedisBroker`.
        dead_message_ttl: As for `RedisBroker`.
        **redis_options: Options of the client that do not say where or how to connect
            (``max_connections``, ``client_name``, ``health_check_interval`` ...); see
            `vedette.connect`.

    Raises:
        vedette.ConfigurationError: Bad settings, named (at construction, before any work).
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        config: vedette.SentinelConfig | None = None,
        middleware: list[Middleware] | None = None,
        namespace: str = "dramatiq",
        maintenance_chance: int = DEFAULT_MAINTENANCE_CHANCE,
        heartbeat_timeout: int = DEFAULT_HEARTBEAT_TIMEOUT,
        dead_message_ttl: int = DEFAULT_DEAD_MESSAGE_TTL,
        **redis_options: Any,
    ) -> None:
        self.config = config_from(url, config)
        super().__init__(
            middleware=middleware,
            namespace=namespace,
            maintenance_chance=maintenance_chance,
            heartbeat_timeout=heartbeat_timeout,
            dead_message_ttl=dead_message_ttl,
            client=vedette.connect(self.config, **redis_options),
        )
        follow(self, self.config)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> SentinelConsumer:
        """A consumer of ``queue_name`` that reconciles with the master after a failover."""
        return SentinelConsumer(self, queue_name, prefetch, timeout)

    def do_enqueue(self, queue_name: str, message_id: str, data: bytes) -> None:
        """Store a message once, through a failover (`RedisBroker.enqueue` calls this)."""
        enqueue_once(self, queue_name, message_id, data)

    def __repr__(self) -> str:
        return f"SentinelBroker({self.config!r}, namespace={self.namespace!r})"
