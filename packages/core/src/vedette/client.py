"""`connect()`: a ``redis.Redis`` that follows the master through failovers.

What the returned client's connection pool does, and where:

- **Every connect asks the Sentinels** (`Discovery`) which server is the master, then checks
  ``ROLE`` on the new connection itself. A retry reconnects, so it asks again: a call never keeps
  knocking at a dead master's address (redis-py #3874), nor writes to an old master that came
  back empty. Concurrent connects share one lookup. If no Sentinel answers at all, the last
  known master keeps being used, with a warning.
- **A master switch drops every connection to any other server**, idle or in use, as soon as the
  pool's `FailoverWatcher` reports it; a connection also reconnects before its next command if a
  switch happened since it connected.
- **Commands are held while a replica is being promoted** (from Sentinel's promotion step to
  ``+switch-master``, about a second): a write sent to the old master then would be discarded.
- **With ``wait_replicas=N``, every batch of commands that writes is followed by ``WAIT``** in the
  same round trip; a write fewer than N replicas confirmed raises `NotReplicatedError`.
- **Failures a failover causes are retried** (see `vedette.retry.is_retryable`) with jittered
  backoff, for up to ``retry_deadline`` seconds, waking at once when the master switches. After
  the deadline the last redis-py error is raised, as redis-py would.

Usage:
    >>> import vedette
    >>> client = vedette.connect("redis+sentinel://10.0.0.1,10.0.0.2/mymaster")  # doctest: +SKIP
    >>> client.lpush("jobs", "payload")  # doctest: +SKIP
    1
    >>> client.close()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import redis
from redis.connection import SSLConnection

from vedette._durability import is_write, write_commands
from vedette._pool import Resolving, SentinelPool, config_from
from vedette.address import Address
from vedette.config import SentinelConfig
from vedette.errors import ConfigurationError, NotReplicatedError, SentinelsUnreachableError
from vedette.events import FailoverEvent, MasterSwitched
from vedette.watcher import FailoverWatcher

__all__ = ["MasterPool", "connect"]

logger = logging.getLogger(__name__)


def connect(url_or_config: str | SentinelConfig, **redis_options: Any) -> redis.Redis:
    """A ``redis.Redis`` client for the master, that follows it through failovers.

    Args:
        url_or_config: A ``redis+sentinel://`` URL or a `SentinelConfig`.
        **redis_options: ``redis.Redis`` options that do not say where or how to connect:
            ``decode_responses``, ``client_name``, ``max_connections``, ``protocol``,
            ``health_check_interval``, ``socket_keepalive`` ... (addresses, credentials, TLS and
            timeouts belong in the URL or config).

    Returns:
        A client whose pool is a `MasterPool`. ``close()`` it (or use it as a context manager)
        to stop the pool's watcher threads.

    Raises:
        ConfigurationError: The URL or an option is invalid. Nothing is connected yet: the first
            command connects.
    """
    pool = MasterPool(config_from(url_or_config), **redis_options)
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # client.close() closes the pool and its watcher
    return client


class MasterPool(SentinelPool):
    """A connection pool whose connections always reach the current master; see the module.

    Args:
        config: Where the Sentinels are and how to talk to Redis.
        watcher: A running `FailoverWatcher` to share between pools; by default the pool starts
            its own on first use and closes it in `disconnect`.
        **redis_options: See `connect`.
    """

    def __init__(
        self,
        config: SentinelConfig,
        *,
        watcher: FailoverWatcher | None = None,
        **redis_options: Any,
    ) -> None:
        self._resolved: Address | None = None
        self._resolved_at = 0.0
        self._sentinels_gone = False
        self.writes: frozenset[str] | None = None
        """Names of the write commands, read from the server (only with ``wait_replicas``)."""
        self._resolve_lock = threading.Lock()
        super().__init__(config, watcher=watcher, **redis_options)

    def on_event(self, event: FailoverEvent) -> None:
        """On a master switch, cut every connection to another server."""
        if isinstance(event, MasterSwitched):
            new = event.new
            self.drop_connections(lambda address: address != new)

    def resolve(self, connection: Resolving) -> tuple[Address, str]:
        """The master, which the connection must find saying ``ROLE`` master."""
        return self.master_address(), "master"

    def master_address(self) -> Address:
        """Ask the Sentinels for the master; concurrent callers share one lookup.

        With every Sentinel unreachable, the last known master is returned (and a warning
        logged once), so a Sentinel outage alone does not stop the application.

        Raises:
            MasterNotFoundError: No master now (a failover is under way, or none is known).
        """
        asked_at = time.monotonic()
        with self._resolve_lock:
            if self._resolved is not None and self._resolved_at >= asked_at:
                return self._resolved  # a lookup that began after we asked has just finished
            try:
                master = self.discovery.discover().master
            except SentinelsUnreachableError:
                if self._resolved is None:
                    raise
                if not self._sentinels_gone:
                    logger.warning(
                        "service %r: no Sentinel is reachable; keeps using the last known "
                        "master %s until one answers",
                        self.config.service_name,
                        self._resolved,
                    )
                    self._sentinels_gone = True
                return self._resolved
            if self._sentinels_gone:
                logger.warning("service %r: Sentinels reachable again", self.config.service_name)
                self._sentinels_gone = False
            self._resolved, self._resolved_at = master, time.monotonic()
            return master

    def verified(self, connection: Resolving) -> None:
        """With ``wait_replicas``, learn once which commands write (``COMMAND``)."""
        if not self.config.wait_replicas or self.writes is not None:
            return
        connection.send_command("COMMAND")
        try:
            self.writes = write_commands(connection.read_response())
        except redis.ResponseError as error:
            raise ConfigurationError(
                "wait_replicas",
                f"needs COMMAND to tell writes from reads, which Redis refused: {error}",
            ) from None


class _FollowsMaster(Resolving):
    """A master connection: the promotion hold, reconnect after a switch, and ``WAIT``."""

    pool: MasterPool

    def __init__(self, *, vedette_pool: MasterPool, **kwargs: Any) -> None:
        # With wait_replicas: for each batch sent with a WAIT after it, how many of its replies
        # the caller has yet to read; the WAIT reply is read, and checked, right after the last.
        # A batch is packed before it is sent, and sending may reconnect (which forgets what
        # the old socket owed): it counts as owed only once sent.
        self._before_wait: deque[int] = deque()
        self._packed: list[int] = []
        config = vedette_pool.config
        self._wait = ("WAIT", config.wait_replicas, int(config.wait_timeout * 1000))
        super().__init__(vedette_pool=vedette_pool, **kwargs)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Hold while a replica is promoted; reconnect if the master switched since connecting."""
        watcher = self.pool.watcher
        end = self.pool.connection_deadline()
        watcher.wait_until_not_promoting(end)
        if watcher.promoting:
            raise redis.ConnectionError(
                f"a replica of {self.pool.config.service_name!r} is still being promoted"
            )
        if watcher.switches != self.switches and self.is_connected:
            self.disconnect()
        packed, self._packed = self._packed, []
        super().send_packed_command(command, check_health)
        self._before_wait.extend(packed)

    # --- wait_replicas: a WAIT after every batch that writes --------------------------------------

    def _confirms(self, commands: list[Any]) -> bool:
        writes = self.pool.writes
        return writes is not None and any(is_write(args, writes) for args in commands)

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        """Send one command, followed by ``WAIT`` if it writes and ``wait_replicas`` is set."""
        if not self._confirms([args]):
            super().send_command(*args, **kwargs)
            return
        packed = super().pack_commands([args, self._wait])
        self._packed.append(1)
        self.send_packed_command(packed, check_health=kwargs.get("check_health", True))

    def pack_commands(self, commands: Any) -> Any:
        """Pack a pipeline, followed by ``WAIT`` if it writes and ``wait_replicas`` is set."""
        commands = list(commands)
        if not self._confirms(commands):
            return super().pack_commands(commands)
        self._packed.append(len(commands))
        return super().pack_commands([*commands, self._wait])

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; after the last reply of a confirmed batch, read and check its WAIT."""
        if not self._before_wait:
            return super().read_response(*args, **kwargs)
        try:
            reply = super().read_response(*args, **kwargs)
        except redis.ResponseError:
            self._after_reply()  # an error reply is still a reply of the batch
            raise
        self._after_reply()
        return reply

    def _after_reply(self) -> None:
        self._before_wait[0] -= 1
        if self._before_wait[0]:
            return
        self._before_wait.popleft()
        replicas = int(super().read_response())
        wanted = self.pool.config.wait_replicas
        if replicas < wanted:
            raise NotReplicatedError(
                f"write to {self.address} confirmed by {replicas} of {wanted} replicas "
                f"within {self.pool.config.wait_timeout:g} s (wait_replicas)",
                replicas=replicas,
                wanted=wanted,
            )

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        """Close the socket; replies still owed are gone with it."""
        self._before_wait.clear()
        super().disconnect(*args, **kwargs)


class _MasterConnection(_FollowsMaster):
    """A plain TCP connection to the master."""


class _MasterSSLConnection(_FollowsMaster, SSLConnection):
    """A TLS connection to the master."""


MasterPool.tcp_connection_class = _MasterConnection
MasterPool.tls_connection_class = _MasterSSLConnection
