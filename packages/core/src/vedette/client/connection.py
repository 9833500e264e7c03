"""What the master client and the replica client share.

- `SentinelConnection`: a redis-py connection that, on every connect, asks its `Hub` where
  to go and checks the server's role there (``HELLO``: see `vedette.servers.role`); that a
  master switch cuts; that keeps waiting for a late reply while its server is still in charge
  (so a slow or frozen master runs a command once, not twice); and that never lets a pop whose
  reply was lost be retried.
- `SentinelPool`: a ``redis.ConnectionPool`` of such connections, whose ``connection_kwargs``
  are plain redis-py keyword arguments (the current master's ``host`` and ``port`` included):
  picklable, printable, and enough for ``redis.Redis(**kwargs)``, which gives a plain client to
  that master (it does not follow a failover).
- `bound`: a connection class bound to one configuration, so that a plain
  ``redis.ConnectionPool(connection_class=cls, **pool.connection_kwargs)`` (RQ rebuilds its
  connections so) makes connections that follow the master too.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import logging
import os
import socket
import time
import weakref
from typing import Any, ClassVar, TypeVar

import redis
from redis.connection import Connection

from vedette.address import Address
from vedette.client.commands import FOREVER
from vedette.client.flight import (
    Flight,
    Verdict,
    describe,
    role_mismatch,
    seen_at_connect,
    unsent_error,
)
from vedette.client.hub import Hub
from vedette.client.options import check_client_options
from vedette.config.sentinel_config import SentinelConfig
from vedette.errors import ConfigurationError
from vedette.failures import translate
from vedette.process.reentry import OwnedLock, later
from vedette.process.state import state
from vedette.retry import FailoverRetry
from vedette.sentinel.watcher import FailoverWatcher
from vedette.servers.clients import redis_kwargs
from vedette.servers.role import role_from_handshake, server_role
from vedette.servers.tls import close_left_open

logger = logging.getLogger("vedette.client")

C = TypeVar("C", bound=type)

# What redis.Redis(**kwargs) dials before any master is known: it fails loudly, by name.
UNKNOWN_MASTER = Address("vedette-master-not-known-yet.invalid", 6379)

# How often a forked child's connection, waiting for a reply, looks for a master switch.
_CHILD_POLL = 0.05


class SentinelConnection(Connection):
    """A connection that finds its server through the Sentinels; see the module.

    Subclasses say where to go (`_resolve`); a class bound to a configuration (`bound`) has it
    as ``config``.
    """

    config: ClassVar[SentinelConfig]
    replica: ClassVar[bool] = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = type(self).config
        self.retry = FailoverRetry(config, retry_readonly=not self.replica, replaced=self.replaced)
        # redis-py calls it as redis_connect_func(connection), though it annotates no argument.
        self.redis_connect_func = _handshake  # type: ignore[assignment]
        self._hub: Hub | None = None
        self._holder: weakref.ref[SentinelPool] | None = None  # the Vedette pool it belongs to
        self._switches = -1  # the watcher's switch count when this connection resolved
        self._seen = -1  # the watcher's version when this connection last checked it
        self._expected = "master"  # the role the server must report (in ROLE's words)
        self.flight = Flight(config)
        self._cut_socket: socket.socket | None = None  # the socket a master switch cut
        self._handshaking = False

    def __del__(self) -> None:
        # A parent's connection freed in a forked child (redis-py drops them on first use there):
        # its socket object closes the child's copy of the descriptor by itself, and redis-py's
        # disconnect() would only add a millisecond's bookkeeping per connection to that use.
        if getattr(self, "pid", None) == os.getpid():
            super().__del__()

    # --- who and where ------------------------------------------------------------------------

    @property
    def address(self) -> Address:
        """The server this connection points at."""
        return Address(str(self.host), int(self.port))

    def attach(self, hub: Hub, pool: SentinelPool | None = None) -> None:
        """Belong to ``service`` and ``pool`` (a Vedette pool calls this; else, on first use)."""
        self._hub = hub
        self._holder = None if pool is None else weakref.ref(pool)
        hub.register(self, replica=self.replica)

    def _attached(self) -> Hub:
        hub = self._hub
        if hub is None:
            # Made by a plain redis.ConnectionPool (as RQ rebuilds its connections): it holds
            # the configuration's watcher for as long as it lives.
            hub = Hub.of(type(self).config)
            self.attach(hub)
            hub.hold()
            weakref.finalize(self, _release_soon, hub)
        elif self._holder is not None:
            holder = self._holder()
            if holder is not None:
                holder.hold_hub()  # again, if its pool was disconnected since
        hub.ensure_watching()
        return hub

    def replaced(self) -> bool:
        """Whether the master switched since this connection resolved its server."""
        hub = self._hub
        return hub is not None and hub.watcher.switches != self._switches

    def _resolve(self, hub: Hub) -> tuple[Address, str]:
        """Where to connect now, and the role the server must report there."""
        raise NotImplementedError

    def _unusable(self, address: Address) -> None:
        """Connecting to ``address`` failed, or it did not report the expected role."""

    def _ready(self) -> None:
        """The connection is open and its server checked out."""

    # --- connecting ---------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect where the Sentinels say, check the role, retrying through a failover."""
        if self._sock is None:
            self.retry.call_with_retry(super().connect, lambda error: self.disconnect())

    def _connect(self) -> socket.socket:
        hub = self._attached()
        # Before asking where to go: a switch meanwhile shows as a changed count or version.
        self._seen, self._switches = seen_at_connect(hub.watcher), hub.watcher.switches
        self._cut_socket = None
        target, self._expected = self._resolve(hub)
        self.host, self.port = target
        try:
            sock: socket.socket = super()._connect()
        except OSError as error:  # refused, unreachable, TLS
            close_left_open(error)  # a TLS socket ssl made before the server reset it
            translated = translate(error, server=target, role=self._describe())
            if translated is not error:
                raise translated from None
            self._unusable(target)
            raise
        self.flight.connected()  # a new session: nothing subscribed or watched on it yet
        return sock

    def _describe(self) -> str:
        return describe(type(self).config, self._expected)

    def open_socket(self) -> socket.socket | None:
        """The connection's socket, if it is connected."""
        sock: socket.socket | None = getattr(self, "_sock", None)  # redis-py annotates it None
        return sock

    def cut(self, *, before: int | None = None) -> None:
        """Shut the socket down, from any thread: the master switched away from its server.

        The command waiting on it fails and runs again on the new master; an idle connection
        reconnects before its next command.

        Args:
            before: Only if the connection was made before this many switches were counted.
        """
        sock = self.open_socket()  # first: a socket made after the check below is a new one
        if sock is None or self.pid != os.getpid():  # a parent's socket is not ours to cut
            return
        if before is not None and self._switches >= before:
            return  # made since the switch: its owner reconnected to the new master already
        self._cut_socket = sock  # this socket: its owner may have replaced it meanwhile
        with contextlib.suppress(OSError):  # already closed by its owner
            sock.shutdown(socket.SHUT_RDWR)

    # --- sending ------------------------------------------------------------------------------

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        """Send one command, remembering it until its reply is read."""
        self.flight.command(args)
        super().send_command(*args, **kwargs)

    def pack_commands(self, commands: Any) -> Any:
        """Pack a pipeline, remembering its commands until their replies are read."""
        if not isinstance(commands, list):
            commands = list(commands)
        self.flight.pipeline(commands)
        return super().pack_commands(commands)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send what was packed; from then on its replies are the ones being read.

        Taken before anything else may send (a reconnect's handshake, a health-check PING):
        what a lost reply is judged by is the caller's command, not those.
        """
        taken = self.flight.take()
        if self._sock is None:
            self.connect()
        self._before_send()  # sees the WATCH as it is before this command
        try:
            super().send_packed_command(command, check_health)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise unsent_error(error, taken[0], self.address) from None
        self.flight.written(taken)

    def _before_send(self) -> None:
        """Run before each command is written, on a connected socket."""

    # --- reading ------------------------------------------------------------------------------

    def read_response(
        self, disable_decoding: bool = False, *, disconnect_on_error: bool = True, **kwargs: Any
    ) -> Any:
        """Read a reply: wait on while the server is still in charge; say when it is lost."""
        sock: socket.socket | None = self._sock  # per reply: kept lean, pipelines read many
        try:
            if self._hub is not None and self._hub.watcher.follows_parent:
                self._await_reply(sock, kwargs)
            return super().read_response(disable_decoding, disconnect_on_error=False, **kwargs)
        except redis.ResponseError as error:
            raise self._refused(error) from None  # an error reply: the connection is fine
        except BaseException as error:
            return self._read_failed(error, sock, disable_decoding, disconnect_on_error, kwargs)

    def _await_reply(self, sock: socket.socket | None, read_options: dict[str, Any]) -> None:
        """In a forked child, wait for the reply in slices, looking for a master switch.

        Nothing cuts a child's sockets when the master switches (its parent's watcher cannot
        reach them), so a command waiting on a frozen or cut-off master would wait its whole
        ``socket_timeout`` before noticing. Raises as redis-py's read would after
        ``socket_timeout``; a switch ends the wait at once, as a cut does in the parent. Also
        while connecting: a child's new connection (every work horse makes its own) may reach a
        master frozen since, whose handshake would never be answered.
        """
        if isinstance(read_options.get("timeout"), int | float):
            return  # the caller's own read timeout
        end = time.monotonic() + (self.socket_timeout or FOREVER)
        while not self.can_read(timeout=_CHILD_POLL):
            if self.replaced():
                self._cut_socket = sock
                raise redis.ConnectionError(f"the master switched away from {self.address}")
            if time.monotonic() >= end:
                raise redis.TimeoutError("Timeout reading from socket")

    def _read_failed(
        self,
        error: BaseException,
        sock: socket.socket | None,
        disable_decoding: bool,
        disconnect_on_error: bool,
        read_options: dict[str, Any],
    ) -> Any:
        """No reply yet: read on while the server is still in charge, else raise what was lost."""
        waiting_since: float | None = None
        verdict: Verdict = "fail"
        while isinstance(error, redis.TimeoutError):
            if waiting_since is None:
                waiting_since = time.monotonic() - (self.socket_timeout or 0)
            verdict = self._late(waiting_since, read_options, sock)
            if verdict != "wait":
                break
            try:  # redis-py rewinds its buffer on errors: reading again is safe
                if self._hub is not None and self._hub.watcher.follows_parent:
                    self._await_reply(sock, read_options)
                return super().read_response(
                    disable_decoding, disconnect_on_error=False, **read_options
                )
            except redis.ResponseError as refused:
                raise self._refused(refused) from None
            except BaseException as again:
                error = again
        if disconnect_on_error:
            self.disconnect()
        if isinstance(error, redis.AuthenticationError | redis.BusyLoadingError):
            raise error  # error *replies* redis-py raises as connection errors: the reply came
        if not isinstance(error, redis.ConnectionError | redis.TimeoutError):
            raise error
        cut = sock is not None and sock is self._cut_socket
        raise self.flight.lost(error, cut=cut, gave_up=verdict == "give up", address=self.address)

    def _refused(self, error: redis.ResponseError) -> redis.ResponseError:
        """An error reply as it is raised: a ``NOPERM`` names the server, never the user."""
        if isinstance(error, redis.exceptions.NoPermissionError):
            denied = translate(error, server=self.address, role=self._describe())
            assert isinstance(denied, redis.ResponseError)
            return denied
        return error

    def _late(
        self, since: float, read_options: dict[str, Any], sock: socket.socket | None
    ) -> Verdict:
        """After ``socket_timeout`` without a reply: ``"wait"``, ``"give up"``, or ``"fail"``."""
        replaced = self.replaced()
        if replaced:
            self._cut_socket = sock  # the master switched: the command runs on the new one
        return self.flight.late(
            time.monotonic() - since,
            handshaking=self._handshaking,
            own_timeout=isinstance(read_options.get("timeout"), int | float),
            replaced=replaced,
            describe=self._describe(),
            address=self.address,
        )


def _release_soon(hub: Hub) -> None:
    """Release ``service`` for a pool the garbage collector freed, never in its own thread's way.

    The collector may run in the middle of any code, including code that holds the locks
    ``release()`` takes (`vedette.process.reentry.later`).
    """
    later(hub.release, "vedette-release")


def _handshake(connection: SentinelConnection) -> None:
    """Run as redis-py's ``redis_connect_func``: the usual handshake, then the role check."""
    connection._handshaking = True
    try:
        try:
            connection.on_connect()
        except redis.RedisError as error:
            translated = translate(error, server=connection.address, role=connection._describe())
            if translated is not error:
                raise translated from None
            raise
        role = _reported_role(connection)
        if role != connection._expected:
            connection._unusable(connection.address)
            raise role_mismatch(connection.address, connection._describe(), role)
        connection._ready()
    finally:
        connection._handshaking = False


def _reported_role(connection: SentinelConnection) -> str:
    """The role the server reports: from a RESP3 handshake's ``HELLO``, else asked."""
    if str(connection.protocol) == "3":  # every RESP3 connect sends HELLO and keeps its reply
        role = role_from_handshake(getattr(connection, "handshake_metadata", None))
        if role is not None:
            return role

    def ask(*args: str) -> Any:
        connection.send_command(*args)
        return connection.read_response()

    return server_role(ask)


def bound(base: C, config: SentinelConfig) -> C:
    """``base`` bound to ``config``: the same class for the same configuration, each time."""
    cls = state.connection_classes.get((base, config))
    if cls is None:
        attributes = {
            "config": config,
            "__module__": base.__module__,
            # Not findable by name: pickling one fails loudly instead of giving the unbound base.
            "__qualname__": f"{base.__qualname__}[{config.service_name}]",
        }
        made = type(base.__name__, (base,), attributes)
        cls = state.connection_classes.setdefault((base, config), made)  # one atomic step: no lock
    return cls  # type: ignore[return-value]  # made from base: a subclass of it


def driver_info() -> dict[str, Any]:
    """Who is talking (``CLIENT SETINFO``), resolved once as redis.Redis does.

    Left to each connection, redis-py reads its package metadata (about a millisecond) every
    time one is made. Vedette names itself as redis-py's upstream driver where redis-py can.
    """
    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # redis-py < 8
        return {"lib_name": "redis-py", "lib_version": redis.__version__}
    info = DriverInfo(lib_version=redis.__version__).add_upstream_driver("vedette", _version())
    return {"driver_info": info}


@functools.cache
def _version() -> str:
    return importlib.metadata.version("vedette")


def keepalive_options() -> dict[str, Any]:
    """TCP keepalive that notices a vanished host (no RST) in about 30 s, where the OS can."""
    names = ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT")
    if not all(hasattr(socket, name) for name in names):
        return {"socket_keepalive": True}
    idle, interval, count = (getattr(socket, name) for name in names)
    return {"socket_keepalive": True, "socket_keepalive_options": {idle: 10, interval: 5, count: 4}}


def without_maintenance_notifications() -> dict[str, Any]:
    """redis-py 7+ follows Redis Cloud "maintenance" notices to other endpoints (with RESP3).

    Here the Sentinels say where the master is; the feature would also cost a round trip per
    connect (``CLIENT MAINT_NOTIFICATIONS``). Switched off where redis-py has it.
    """
    try:
        from redis.maint_notifications import MaintNotificationsConfig
    except ImportError:  # redis-py < 7
        return {}
    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}


def pool_arguments(
    config: SentinelConfig, hub: Hub, redis_options: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """What a Vedette pool (sync or async) gives its connections, and whether they use TLS.

    Plain redis-py keyword arguments, the master's address included; TLS is said by the
    connection class, not by ``ssl`` (which only ``redis.Redis`` takes).

    Raises:
        ConfigurationError: An option a Vedette client does not take.
    """
    check_client_options(redis_options)
    kwargs = redis_kwargs(config) | keepalive_options() | driver_info() | redis_options
    tls = bool(kwargs.pop("ssl", False))
    kwargs["host"], kwargs["port"] = hub.last_master or UNKNOWN_MASTER
    return kwargs, tls


class ServicePool:
    """What a Vedette pool is, sync (`SentinelPool`) or async: one configuration's, its hub's.

    A mixin, before redis-py's pool class.
    """

    config: SentinelConfig
    hub: Hub

    def _serve(
        self, config: SentinelConfig, watcher: FailoverWatcher | None, options: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Belong to ``config``'s hub; the connections' keyword arguments, and whether TLS."""
        self.config = config
        self.hub = Hub.of(config, watcher)
        self._holding = False  # whether this pool holds the hub's watcher
        self._release_when_dropped: weakref.finalize[Any, Any] | None = None
        return pool_arguments(config, self.hub, options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config!r}>"

    @property
    def watcher(self) -> FailoverWatcher:
        """The watcher this pool's connections react to (the configuration's, sync or async)."""
        return self.hub.watcher

    def set_retry(self, retry: Any) -> None:
        """Refused: retries are Vedette's (``retry_deadline``, ``min_backoff`` ...)."""
        raise ConfigurationError(
            "retry", "a Vedette pool retries through failovers itself; set retry_deadline"
        )


class SentinelPool(ServicePool, redis.ConnectionPool):
    """A pool of `SentinelConnection` whose connection keyword arguments stay plain.

    Subclasses say which connection class to bind (`connection_base`).
    """

    def __init__(
        self,
        config: SentinelConfig,
        *,
        watcher: FailoverWatcher | None = None,
        **redis_options: Any,
    ) -> None:
        kwargs, tls = self._serve(config, watcher, redis_options)
        super().__init__(
            connection_class=bound(self.connection_base(tls=tls), config),
            **without_maintenance_notifications(),
            **kwargs,
        )
        # connection_kwargs stays a plain dict (redis-py reads it on every command): the hub
        # writes the master's host and port into it whenever the master it knows changes.
        self.hub.add_pool(self)

    def connection_base(self, *, tls: bool) -> type[SentinelConnection]:
        """The connection class this pool binds to its configuration."""
        raise NotImplementedError

    def make_connection(self) -> Any:
        """A new connection of this pool's service; the first one starts the watcher."""
        self.hold_hub()
        connection = super().make_connection()
        if isinstance(connection, SentinelConnection):
            connection.attach(self.hub, self)
        return connection

    def reset(self) -> None:
        """Forget connections (redis-py calls this at start and in a forked child)."""
        # Its own lock: redis-py's pool lock is not reentrant in every supported version, and
        # make_connection runs under it there.
        self._holding_lock = OwnedLock()
        super().reset()

    def hold_hub(self) -> None:
        """Hold the service's watcher, once, until `disconnect` (connections call it on connect).

        A pool dropped without `disconnect` (kombu's and Celery's often are, to the garbage
        collector) lets go when it is collected: it never keeps the watcher running for ever.
        """
        with self._holding_lock:
            if self._holding:
                return
            self._holding = True
        self.hub.hold()
        dropped = weakref.finalize(self, _release_soon, self.hub)
        dropped.atexit = False  # at exit the watcher's daemon threads just end
        self._release_when_dropped = dropped

    def drop_connections(self, cut: Any) -> None:
        """Cut every connection, idle or in use, to a server for which ``cut(address)`` is true."""
        with self._lock:
            connections = [*self._available_connections, *self._in_use_connections]
        for connection in connections:
            if isinstance(connection, SentinelConnection) and cut(connection.address):
                connection.cut()

    def disconnect(self, inuse_connections: bool = True) -> None:
        """Disconnect; the watcher stops when no other pool of the configuration runs."""
        super().disconnect(inuse_connections)
        with self._holding_lock:
            holding, self._holding = self._holding, False
        if holding:
            if self._release_when_dropped is not None:
                self._release_when_dropped.detach()
            self.hub.release()
