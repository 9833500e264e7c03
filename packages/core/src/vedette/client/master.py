"""`connect()`: a ``redis.Redis`` that follows the master through failovers.

What the returned client's connections do, and where:

- **Every connect goes to the master as this process knows it** (from the watcher, which
  learns it from the Sentinels and their ``+switch-master``), asking the Sentinels again only
  when that is unknown or just failed, and checks ``ROLE`` on the new connection itself. A retry
  reconnects, so a call never keeps knocking at a dead master's address (redis-py #3874), nor
  stays with an old master that came back empty.
- **A master switch cuts every connection to any other server**, idle or in use, as soon as the
  configuration's `FailoverWatcher` reports it; a connection also reconnects before its next
  command if a switch happened since it connected. A switch the watcher saw is never undone by
  Sentinels that have not caught up yet (see `vedette.sentinel.discovery`).
- **Commands are held while a replica is being promoted** (from Sentinel's promotion step to
  ``+switch-master``, about a second): a write sent to the old master then would be discarded.
- **A late reply is waited for, not abandoned**, while its server is still the master: a slow
  command or a frozen master runs a command once rather than twice. Blocking commands wait for
  as long as they asked to.
- **Failures a failover causes are retried** (see `vedette.retry.is_retryable`) with jittered
  backoff, for up to ``retry_deadline`` seconds, waking at once when the master switches; then
  the last error is raised, as redis-py would. A pop whose reply was lost is never retried
  (`OutcomeUnknownError`). docs/failover.md has the table per command class.
- **With ``wait_replicas=N``, every batch of commands that writes is followed by ``WAIT``** in
  the same round trip; a write fewer than N replicas confirmed raises `NotReplicatedError`.

All clients of one configuration in a process share one watcher and what it knows; after
``os.fork()`` the child starts its own watcher on first use.

Examples:
    >>> import vedette
    >>> client = vedette.connect("redis+sentinel://10.0.0.1,10.0.0.2/mymaster")  # doctest: +SKIP
    >>> client.lpush("jobs", "payload")  # doctest: +SKIP
    1
    >>> client.close()  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any

import redis
from redis.connection import SSLConnection

from vedette.address import Address
from vedette.client.connection import SentinelConnection, SentinelPool
from vedette.client.durability import ConfirmsWrites
from vedette.client.flight import on_switch, promotion_timeout, switched_while_watching
from vedette.client.hub import Hub
from vedette.config.sentinel_config import SentinelConfig, config_from
from vedette.metrics.pauses import held
from vedette.retry import deadline_for
from vedette.sentinel.watcher import FailoverWatcher

__all__ = ["MasterConnection", "MasterPool", "connect"]


def connect(
    url_or_config: str | SentinelConfig,
    *,
    watcher: FailoverWatcher | None = None,
    **redis_options: Any,
) -> redis.Redis:
    """A ``redis.Redis`` client for the master, that follows it through failovers.

    Args:
        url_or_config: A ``redis+sentinel://`` URL or a `SentinelConfig`.
        watcher: The watcher to react to; default the configuration's shared one
            (`shared_watcher`). A `vedette.testing.ScriptedWatcher` plays failovers by script.
        **redis_options: ``redis.Redis`` options that do not say where or how to connect:
            ``decode_responses``, ``client_name``, ``max_connections``, ``protocol``,
            ``health_check_interval``, ``socket_keepalive`` ... (addresses, credentials, TLS,
            timeouts and retries belong in the URL or config).

    Returns:
        A client whose pool is a `MasterPool`. ``close()`` it (or use it as a context manager):
        the shared watcher stops once no client of the configuration runs.

    Raises:
        ConfigurationError: The URL or an option is invalid. Nothing is connected yet: the first
            command connects.
    """
    pool = MasterPool(config_from(url_or_config), watcher=watcher, **redis_options)
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # client.close() closes the pool and its watcher
    return client


class MasterConnection(SentinelConnection):
    """A connection to the master of a hub: held during a promotion, moved on a switch.

    `MasterPool` uses it bound to its configuration; so does a plain ``redis.ConnectionPool``
    given ``pool.connection_class`` (see `SentinelPool.connection_kwargs`).
    """

    def _resolve(self, hub: Hub) -> tuple[Address, str]:
        return hub.master_address(), "master"

    def _unusable(self, address: Address) -> None:
        if self._hub is not None:
            self._hub.failed(address)

    def _ready(self) -> None:
        super()._ready()
        if self._hub is not None and not self.replaced():  # not an old master, just demoted
            self._hub.master_is(self.address)

    def _before_send(self) -> None:
        """Hold while a replica is promoted; reconnect if the master switched since connecting."""
        hub = self._hub
        assert hub is not None  # connected means attached
        if hub.watcher.version != self._seen:
            self._catch_up(hub)

    def _catch_up(self, hub: Hub) -> None:
        """Something changed since this connection last looked: hold, or move, as it says."""
        if self._handshaking:
            return  # ROLE and the handshake are not writes: they may go now
        watcher, deadline = hub.watcher, deadline_for(type(self).config)
        version = watcher.version  # read first: a change after it is caught next time
        if watcher.promoting:
            with held(self.config.service_name):
                watcher.wait_until_not_promoting(time.monotonic() + deadline)
                if watcher.promoting:
                    raise promotion_timeout(self.config, deadline)
        if watcher.switches != self._switches and self.open_socket() is not None:
            action = on_switch(self.address, watcher.master, watching=self.flight.watching)
            if action == "stay":
                self._switches = watcher.switches
                self._seen = version
                return
            self.disconnect()
            if action == "restart":  # redis-py makes this a WatchError
                raise switched_while_watching(self.config)
            self.connect()  # resolves afresh, and notes the version it saw
            return
        self._seen = version


class MasterSSLConnection(MasterConnection, SSLConnection):
    """A TLS connection to the master."""


class ConfirmedMasterConnection(ConfirmsWrites, MasterConnection):
    """A connection to the master whose writes are confirmed with ``WAIT``."""


class ConfirmedMasterSSLConnection(ConfirmsWrites, MasterSSLConnection):
    """A TLS connection to the master whose writes are confirmed with ``WAIT``."""


class MasterPool(SentinelPool):
    """A connection pool whose connections always reach the current master; see the module.

    Args:
        config: Where the Sentinels are and how to talk to Redis.
        watcher: The watcher to react to; default the configuration's shared one.
        **redis_options: See `connect`.
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
        """A master connection, TLS or not, confirming writes if ``wait_replicas`` is set."""
        if self.config.wait_replicas:
            return ConfirmedMasterSSLConnection if tls else ConfirmedMasterConnection
        return MasterSSLConnection if tls else MasterConnection

    def master_address(self) -> Address:
        """The master this pool's next connection goes to (the Sentinels are asked if needed).

        Raises:
            MasterNotFoundError: No master now (a failover is under way, or none is known).
        """
        return self.hub.master_address()

    @property
    def writes(self) -> frozenset[str] | None:
        """Names of the write commands, read from the server (only with ``wait_replicas``)."""
        return self.hub.writes
