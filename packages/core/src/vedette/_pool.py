"""What the master pool (`vedette.client`) and the replica pool (`vedette.replicas`) share.

- `SentinelPool`: a ``redis.ConnectionPool`` whose connections find their server through the
  Sentinels each time they connect, with a `FailoverWatcher` whose events cut connections.
- `Resolving`: its connections. ``connect()`` asks the pool where to go, connects, and checks
  ``ROLE`` (`check_role`, run as redis-py's ``redis_connect_func``).
- `FailoverRetry`: redis-py's retry hook, answered by `vedette.retry.call_with_retries`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import redis
from redis.connection import Connection

from vedette._connections import redis_kwargs
from vedette.address import Address
from vedette.config import SentinelConfig
from vedette.discovery import Discovery
from vedette.errors import ConfigurationError, MasterNotFoundError, VedetteError
from vedette.events import FailoverEvent
from vedette.retry import Backoff, call_with_retries
from vedette.watcher import FailoverWatcher

T = TypeVar("T")

# redis.Redis keyword arguments that connect() passes through: they shape replies or the pool,
# not where or how to connect (that is the SentinelConfig's job).
PASSTHROUGH = frozenset(
    {
        "client_name",
        "decode_responses",
        "encoding",
        "encoding_errors",
        "health_check_interval",
        "lib_name",
        "lib_version",
        "max_connections",
        "protocol",
        "socket_keepalive",
        "socket_keepalive_options",
    }
)


def config_from(url_or_config: str | SentinelConfig) -> SentinelConfig:
    """The config given, or parsed from a ``redis+sentinel://`` URL."""
    if isinstance(url_or_config, SentinelConfig):
        return url_or_config
    if isinstance(url_or_config, str):
        return SentinelConfig.from_url(url_or_config)
    raise ConfigurationError(
        "url_or_config",
        f"expected a redis+sentinel:// URL or a SentinelConfig, got {type(url_or_config).__name__}",
    )


class SentinelPool(redis.ConnectionPool):
    """A pool whose connections find their server through the Sentinels.

    Subclasses set `tcp_connection_class` and `tls_connection_class`, say where a connection goes
    (`resolve`) and react to the watcher's events (`on_event`).
    """

    tcp_connection_class: ClassVar[type[Resolving]]
    tls_connection_class: ClassVar[type[Resolving]]

    def __init__(
        self,
        config: SentinelConfig,
        *,
        watcher: FailoverWatcher | None = None,
        retry_readonly: bool = True,
        **redis_options: Any,
    ) -> None:
        for name in redis_options:
            if name not in PASSTHROUGH:
                raise ConfigurationError(
                    name,
                    "is not accepted here: addresses, credentials, TLS and timeouts come from "
                    f"the SentinelConfig; accepted: {', '.join(sorted(PASSTHROUGH))}",
                )
        self.config = config
        self._retry = FailoverRetry(config, retry_readonly=retry_readonly)
        kwargs = redis_kwargs(config) | redis_options
        tls = kwargs.pop("ssl", False)  # for redis.Redis; a pool says it with its connection class
        kwargs.update(
            connection_class=self.tls_connection_class if tls else self.tcp_connection_class,
            vedette_pool=self,
            retry=self._retry,
            redis_connect_func=check_role,
        )
        self._shared_watcher = watcher
        self._watcher: FailoverWatcher | None = None
        self._watcher_pid = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._watcher_lock = threading.Lock()
        self.discovery = Discovery(config)
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config!r}>"

    @property
    def watcher(self) -> FailoverWatcher:
        """The watcher this pool reacts to (started on first use)."""
        watcher = self._watcher  # read on every command: no lock on the way
        if watcher is not None and self._watcher_pid == os.getpid():
            return watcher
        with self._watcher_lock:
            if self._watcher is None or self._watcher_pid != os.getpid():
                # After a fork the parent's watcher threads do not exist here: start new ones.
                watcher = self._shared_watcher or FailoverWatcher(self.config)
                self._watcher, self._watcher_pid = watcher.start(), os.getpid()
                self._unsubscribe = watcher.subscribe(self.on_event)
            return self._watcher

    def on_event(self, event: FailoverEvent) -> None:
        """React to the watcher's events (called on its dispatcher thread)."""

    def resolve(self, connection: Resolving) -> tuple[Address, str]:
        """Where ``connection`` should connect now, and the ``ROLE`` it must find there."""
        raise NotImplementedError

    def verified(self, connection: Resolving) -> None:
        """Called on each new connection once its ``ROLE`` checked out."""

    def drop_connections(self, cut: Callable[[Address], bool]) -> None:
        """Cut every connection, idle or in use, to a server for which ``cut`` is true.

        Idle ones are disconnected. In-use ones belong to another thread, whose reads would fail
        on a closed file: their socket is only shut down, so the command running on it fails
        with a connection error, is retried, and reconnects.
        """
        with self._lock:
            for connection in self._available_connections:
                if isinstance(connection, Resolving) and cut(connection.address):
                    connection.disconnect()
            for connection in self._in_use_connections:
                if isinstance(connection, Resolving) and cut(connection.address):
                    connection.interrupt()

    def disconnect(self, inuse_connections: bool = True) -> None:
        """Disconnect the connections and stop the pool's own watcher (restarted on next use)."""
        super().disconnect(inuse_connections)
        with self._watcher_lock:
            watcher, self._watcher = self._watcher, None
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        if watcher is not None and watcher is not self._shared_watcher:
            watcher.close()
        self.discovery.close()

    def connection_deadline(self) -> float:
        """Monotonic time until which a command may be held: its call's deadline, or a new one."""
        return self._retry.current_end() or time.monotonic() + self.config.retry_deadline


def check_role(connection: Resolving) -> None:
    """Run as redis-py's ``redis_connect_func``: the usual handshake, then ``ROLE``."""
    connection.on_connect()
    connection.send_command("ROLE")
    reply = connection.read_response()
    role = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
    if role != connection.expected_role:
        raise redis.ConnectionError(
            f"{connection.address} is not a {connection.expected_role} of "
            f"{connection.pool.config.service_name!r} (ROLE says {role}); asking the Sentinels "
            "again"
        )
    connection.pool.verified(connection)


class Resolving(Connection):
    """A connection that asks its pool where to connect on every connect; see the module."""

    def __init__(self, *, vedette_pool: SentinelPool, **kwargs: Any) -> None:
        self.pool = vedette_pool
        self.expected_role = "master"
        self.switches = 0  # the watcher's switch count when the connection was last resolved
        self._target: Address | None = None  # what connect() resolved, for _connect()
        super().__init__(**kwargs)

    @property
    def is_connected(self) -> bool:
        """Whether the connection has a socket."""
        return getattr(self, "_sock", None) is not None

    @property
    def address(self) -> Address:
        """The server this connection points at."""
        return Address(str(self.host), int(self.port))

    def interrupt(self) -> None:
        """Shut the socket down, from any thread: its owner's next read or write fails."""
        sock = getattr(self, "_sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by its owner
                sock.shutdown(socket.SHUT_RDWR)

    def connect(self) -> None:
        """Ask the pool (so the Sentinels) where to go, then connect and check ``ROLE``.

        Each attempt of the retry asks again. Vedette's errors are raised here, before
        redis-py's connect() would rewrap them as a ``ConnectionError`` about no address.
        """
        if self.is_connected:
            return

        def attempt() -> None:
            self._target = self._resolve()
            super(Resolving, self).connect()

        self.retry.call_with_retry(attempt, lambda error: self.disconnect())

    def _resolve(self) -> Address:
        self.switches = self.pool.watcher.switches  # also starts the watcher on first use
        address, self.expected_role = self.pool.resolve(self)
        return address

    def _connect(self) -> Any:
        target, self._target = self._target, None
        if target is None:  # redis-py 8 reconnects from send_packed_command, not connect()
            try:
                target = self._resolve()
            except VedetteError as error:
                raise _Unresolved(error) from None
        self.host, self.port = target
        return super()._connect()


class _Unresolved(Exception):
    """Carries a Vedette error out of `Resolving._connect` past redis-py's connect code.

    Vedette's errors derive from OSError (``ConnectionError``, ``PermissionError``), which
    redis-py rewraps as a generic ``redis.ConnectionError`` about the address it did not have
    yet: a wrong password would then look retryable. `FailoverRetry` unwraps it.
    """

    def __init__(self, error: VedetteError) -> None:
        super().__init__(error)
        self.error = error


def _unwrapped(do: Callable[[], T]) -> T:
    try:
        return do()
    except _Unresolved as carrier:
        raise carrier.error from None


class FailoverRetry(redis.retry.Retry):
    """redis-py's retry hook, answered by `call_with_retries` under the config's deadline.

    redis-py also wraps each *connect* in the connection's retry; inside a command's retry that
    inner call makes a single attempt, so one deadline covers the whole call.

    Args:
        config: Gives the deadline and the backoff.
        retry_readonly: Whether ``READONLY`` is retried (a write reached a demoted master). Not
            for a replica client, where it means the caller wrote to a replica.
    """

    def __init__(self, config: SentinelConfig, *, retry_readonly: bool = True) -> None:
        super().__init__(redis.backoff.NoBackoff(), -1)
        self._config = config
        self._retry_readonly = retry_readonly
        self._pauses = Backoff.from_config(config)
        self._local = threading.local()

    def __deepcopy__(self, memo: dict[int, Any]) -> FailoverRetry:
        return self  # redis-py copies the retry into each connection; this one is shared

    def current_end(self) -> float | None:
        """The monotonic deadline of the call running on this thread, if any."""
        end: float | None = getattr(self._local, "end", None)
        return end

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Run ``do``, retrying through a failover; ``fail(error)`` cleans up after each error."""
        if self.current_end() is not None:
            return do()  # the call around it retries
        failures = 0

        def after_failure(error: Exception) -> None:
            nonlocal failures
            failures += 1
            try:
                fail(error, failures) if with_failure_count else fail(error)
            except Exception as raised:
                if raised is not error:  # e.g. WatchError: the transaction must not be retried
                    raise
            if is_retryable is not None and not is_retryable(error):
                raise error
            if isinstance(error, redis.ReadOnlyError) and not self._retry_readonly:
                raise error

        self._local.end = time.monotonic() + self._config.retry_deadline
        try:
            return call_with_retries(
                lambda: _unwrapped(do),
                deadline=self._config.retry_deadline,
                backoff=self._pauses,
                what=f"command on {self._config.service_name!r}",
                after_failure=after_failure,
                timeout_error=False,
            )
        except MasterNotFoundError as error:
            # What redis-py users catch: the frameworks react to redis-py's ConnectionError.
            raise redis.ConnectionError(str(error)) from error
        finally:
            self._local.end = None
