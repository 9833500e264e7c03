"""What the async master client and the async replica client share.

The async twin of `vedette.client.connection`, on ``redis.asyncio``: the same `Hub` (the
process's one watcher per configuration, the master it knows, the switch that cuts
connections), the same decisions (`vedette.client.flight`, `vedette.servers.role`,
`vedette.failures`), awaited instead of blocked on:

- where to connect is known without I/O most of the time (`Hub.known_master`); when the
  Sentinels must be asked, the lookup (`Hub.master_address`, shared with the threads that ask
  too) runs in a worker thread: the event loop goes on meanwhile;
- a master switch, seen on the watcher's thread, aborts the connection through its own event
  loop (``call_soon_threadsafe``): the read waiting on it ends at once;
- holds (a promotion under way) and retry pauses are awaited on `vedette.process.wakers.Wakers`
  the watcher's threads ring, never slept;
- an event loop makes at most `CONCURRENT_CONNECTS` connects at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import threading
import time
import weakref
from collections.abc import Coroutine
from typing import Any, ClassVar

import redis
import redis.asyncio
from redis.asyncio.connection import Connection, SSLConnection

from vedette.address import Address
from vedette.asyncio.retry import AsyncFailoverRetry
from vedette.client.connection import ServicePool, bound, without_maintenance_notifications
from vedette.client.flight import (
    Flight,
    Verdict,
    describe,
    role_mismatch,
    seen_at_connect,
    unsent_error,
)
from vedette.client.hub import Hub
from vedette.config.sentinel_config import SentinelConfig
from vedette.errors import ConfigurationError
from vedette.failures import translate
from vedette.process.reentry import later
from vedette.sentinel.watcher import FailoverWatcher
from vedette.servers.role import role_dialogue, role_from_handshake

__all__ = ["AsyncSentinelConnection", "AsyncSentinelPool", "SharedContextSSLConnection"]

# How often a forked child's connection, waiting for a reply, looks for a master switch.
_CHILD_POLL = 0.05
# Connections an event loop opens at once (socket, TLS and handshake; not redis-py's callbacks
# after it, such as a subscriber's SUBSCRIBE), per configuration. A switch makes every command in
# flight reconnect at the same moment: a few hundred handshakes in one loop would hold it for
# tens of milliseconds at a time and delay every one of them; a few at a time, the first
# commands go through at once and the loop stays responsive. A TCP connect that hangs holds its
# turn for socket_connect_timeout at most; a handshake that hangs (a frozen master) is cut by
# the switch like any connection to the old master.
CONCURRENT_CONNECTS = 8
_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _gate(hub: Hub) -> asyncio.Semaphore:
    """The running loop's connect gate for ``hub``'s configuration (`CONCURRENT_CONNECTS`)."""
    gates = _GATES.setdefault(asyncio.get_running_loop(), {})
    gate = gates.get(id(hub))  # hubs live as long as the process (vedette.process.state)
    if gate is None:
        gate = gates[id(hub)] = asyncio.Semaphore(CONCURRENT_CONNECTS)
    return gate


class AsyncSentinelConnection(Connection):
    """An async connection that finds its server through the Sentinels; see the module.

    Subclasses say where to go (`_resolve`); a class bound to a configuration has it as
    ``config``.
    """

    config: ClassVar[SentinelConfig]
    replica: ClassVar[bool] = False
    follows_switches: ClassVar[bool] = False
    """Whether each command first looks for a switch or a promotion (`_catch_up`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = type(self).config
        self.retry = AsyncFailoverRetry(
            config, retry_readonly=not self.replica, replaced=self.replaced
        )
        # redis-py awaits redis_connect_func(connection); its protocol names no argument.
        self.redis_connect_func = _handshake  # type: ignore[assignment]
        self._hub: Hub | None = None
        self._switches = -1  # the watcher's switch count when this connection resolved
        self._seen = -1  # the watcher's version when this connection last checked it
        self._expected = "master"  # the role the server must report (in ROLE's words)
        self.flight = Flight(config)
        self._cut_writer: object | None = None  # the stream a master switch cut
        self._handshaking = False
        self._packing_in: int | None = None  # the thread packing a pipeline, meanwhile
        # The batch last packed: (its packed form, what it sends as the flight notes it: a
        # command's tuple or a pipeline's list, replies a WAIT after it follows or None).
        self._batch: tuple[Any, Any, int | None] | None = None
        self._in_gate: asyncio.Semaphore | None = None  # the connect gate, while connecting
        self._holder: weakref.ref[AsyncSentinelPool] | None = None
        self._pid = os.getpid()
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop its streams belong to

    # --- who and where ------------------------------------------------------------------------

    @property
    def address(self) -> Address:
        """The server this connection points at."""
        return Address(str(self.host), int(self.port))

    def attach(self, hub: Hub, pool: AsyncSentinelPool) -> None:
        """Belong to ``hub`` and ``pool`` (the pool calls this when it makes the connection)."""
        self._hub = hub
        self._holder = weakref.ref(pool)
        hub.register(self, replica=self.replica)

    def _attached(self) -> Hub:
        hub = self._hub
        if hub is None:
            raise ConfigurationError(
                "connection_class",
                "a Vedette async connection is made by its pool (vedette.asyncio.connect)",
            )
        holder = self._holder() if self._holder is not None else None
        if holder is not None:
            holder._hold_hub()  # again, if its pool was disconnected since
        hub.ensure_watching()
        return hub

    def replaced(self) -> bool:
        """Whether the master switched since this connection resolved its server."""
        hub = self._hub
        return hub is not None and hub.watcher.switches != self._switches

    async def _resolve(self, hub: Hub) -> tuple[Address, str]:
        """Where to connect now, and the role the server must report there."""
        raise NotImplementedError

    def _unusable(self, address: Address) -> None:
        """Connecting to ``address`` failed, or it did not report the expected role."""

    async def _ready(self) -> None:
        """The connection is open and its server checked out."""

    def _describe(self) -> str:
        return describe(type(self).config, self._expected)

    # --- connecting ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect where the Sentinels say, check the role, retrying through a failover."""
        if not self.is_connected:
            await self.retry.call_with_retry(self._connect_once, self._disconnect_after)

    async def _connect_once(self) -> None:
        if not self.is_connected:  # another task using this connection got there first
            await super().connect()  # type: ignore[no-untyped-call]  # redis-py leaves it so

    def _leave_gate(self) -> None:
        """The socket and handshake are done (or failed): the next connect may go."""
        gate, self._in_gate = self._in_gate, None
        if gate is not None:
            gate.release()

    async def _disconnect_after(self, error: Exception, *failures: int) -> None:
        await self.disconnect()

    async def _connect(self) -> None:
        hub = self._attached()
        gate = _gate(hub)
        await gate.acquire()  # released when the handshake ends (_handshake), or below
        self._in_gate = gate
        try:
            await self._open(hub)
        except BaseException:
            self._leave_gate()
            raise

    async def _open(self, hub: Hub) -> None:
        # Before asking where to go: a switch meanwhile shows as a changed count or version.
        self._seen, self._switches = seen_at_connect(hub.watcher), hub.watcher.switches
        self._cut_writer = None
        target, self._expected = await self._resolve(hub)
        self.host, self.port = target
        try:
            await super()._connect()  # type: ignore[no-untyped-call]  # redis-py leaves it so
        except (OSError, asyncio.TimeoutError) as error:  # refused, unreachable, TLS, timeout
            translated = translate(error, server=target, role=self._describe())
            if translated is not error:
                raise translated from None
            self._unusable(target)
            raise
        self._pid = os.getpid()
        self._loop = asyncio.get_running_loop()
        self.flight.connected()  # a new session: nothing subscribed or watched on it yet

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        """Close the socket (and give up its turn to connect, if it had one)."""
        self._leave_gate()
        await super().disconnect(*args, **kwargs)

    def cut(self, *, before: int | None = None) -> None:
        """Abort the connection, from any thread: the master switched away from its server.

        The read waiting on it ends at once and the command runs again on the new master; an
        idle connection reconnects before its next command. The abort is scheduled on the
        connection's event loop (any loop implementation: uvloop's sockets cannot be shut down
        from outside), and done there only if the connection was made before the switch.

        Args:
            before: The switch count of the switch (default: the watcher's now).
        """
        loop, hub = self._loop, self._hub
        if loop is None or hub is None or self._pid != os.getpid():  # a parent's: not ours
            return
        switches = hub.watcher.switches if before is None else before
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits on it
            loop.call_soon_threadsafe(self._cut_if_older, switches)

    def _cut_if_older(self, switches: int) -> None:
        """On the loop: abort the connection if it was made before the switch ``switches``.

        One made since (a command reconnected to the new master before the switch reached the
        hub) is where it should be: cutting it would lose what it was sent.
        """
        writer = self._writer
        if writer is not None and self._switches < switches:
            self._cut_writer = writer
            writer.transport.abort()

    # --- sending ------------------------------------------------------------------------------

    # A command is noted where it is packed, not in send_command: one coroutine less per command.
    # A pipeline is noted when it is sent: redis-py 8.2 packs a large one in a worker thread, and
    # one packed for a pipeline cancelled meanwhile is never sent, so never noted.

    def pack_command(self, *args: Any) -> Any:
        """Pack one command, remembering it until its reply is read."""
        if self._packing_in != threading.get_ident():  # not one of a pipeline being packed
            self.flight.command(args)
        return super().pack_command(*args)

    def pack_commands(self, commands: Any) -> Any:
        """Pack a pipeline; it is remembered once it is sent, until its replies are read."""
        if not isinstance(commands, list):
            commands = list(commands)
        self._packing_in = threading.get_ident()  # redis-py packs each command with pack_command
        try:
            packed = super().pack_commands(commands)
        finally:
            self._packing_in = None
        self._batch = (packed, commands, None)
        return packed

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send what was packed; from then on its replies are the ones being read."""
        batch, self._batch = self._batch, None
        if batch is not None and batch[0] is command:  # a batch packed for this very send
            sent = batch[1]
            if isinstance(sent, list):
                self.flight.pipeline(sent)
            else:
                self.flight.command(sent)
        taken = self.flight.take()  # before a reconnect's handshake sends anything
        if not self.is_connected:
            await self.connect()
        hub = self._hub
        if self.follows_switches and hub is not None and hub.watcher.version != self._seen:
            await self._catch_up(hub)  # the master changed, or a promotion began, since
        try:
            await super().send_packed_command(command, check_health)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise unsent_error(error, taken[0], self.address) from None
        self.flight.written(taken)

    async def _catch_up(self, hub: Hub) -> None:
        """Something changed since this connection last looked (`follows_switches` only)."""
        raise NotImplementedError

    # --- reading ------------------------------------------------------------------------------

    async def read_response(
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,
        *,
        disconnect_on_error: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Read a reply: wait on while the server is still in charge; say when it is lost."""
        if self._writer is None and self.flight.subscribed:
            # A subscription lives on the connection: reading it again means subscribing again
            # (redis-py's PubSub does so on connect). redis-py 5.0's async PubSub retries a read
            # without reconnecting first; its sync one, and later versions, reconnect.
            await self.connect()
        writer = self._writer  # per reply: kept lean, pipelines read many
        try:
            hub = self._hub
            if timeout is None and hub is not None and hub.watcher.follows_parent:
                return await self._watching_for_a_switch(
                    super().read_response(
                        disable_decoding, timeout, disconnect_on_error=False, **kwargs
                    )
                )
            return await super().read_response(
                disable_decoding, timeout, disconnect_on_error=False, **kwargs
            )
        except redis.ResponseError as refused:
            raise self._refused(refused) from None  # an error reply: the connection is fine
        except Exception as failure:
            return await self._read_failed(
                failure, writer, disable_decoding, timeout, disconnect_on_error, kwargs
            )
        except BaseException:  # cancelled: the reply would be read by the next command
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            raise

    async def _read_failed(
        self,
        error: Exception,
        writer: object | None,
        disable_decoding: bool,
        timeout: float | None,
        disconnect_on_error: bool,
        options: Any,
    ) -> Any:
        """No reply yet: read on while the server is still in charge, else raise what was lost."""
        try:
            verdict: Verdict = "fail"
            since = time.monotonic() - (self.socket_timeout or 0)  # when the read began
            while isinstance(error, redis.TimeoutError):
                verdict = self._late(since, timeout is not None, writer)
                if verdict != "wait":
                    break
                try:
                    return await self._read(disable_decoding, timeout, options)
                except redis.ResponseError as refused:
                    raise self._refused(refused) from None
                except Exception as again:
                    error = again
                except BaseException:
                    if disconnect_on_error:
                        await self.disconnect(nowait=True)
                    raise
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            if isinstance(error, redis.AuthenticationError | redis.BusyLoadingError):
                raise error  # error *replies* redis-py raises as connection errors: the reply came
            if not isinstance(error, redis.ConnectionError | redis.TimeoutError):
                raise error
            cut = writer is not None and writer is self._cut_writer
            lost = self.flight.lost(
                error, cut=cut, gave_up=verdict == "give up", address=self.address
            )
            raise lost
        finally:
            del error  # frame -> error -> traceback -> frame: freed now, not by the collector

    async def _read(self, disable_decoding: bool, timeout: float | None, options: Any) -> Any:
        reading = super().read_response(
            disable_decoding, timeout, disconnect_on_error=False, **options
        )
        hub = self._hub
        if timeout is not None or hub is None or not hub.watcher.follows_parent:
            return await reading
        return await self._watching_for_a_switch(reading)

    async def _watching_for_a_switch(self, reading: Coroutine[Any, Any, Any]) -> Any:
        """In a forked child, read while looking for a master switch every few milliseconds.

        Nothing cuts a child's sockets when the master switches (its parent's watcher cannot
        reach them), as for the sync connection (`vedette.client.connection`).
        """
        task = asyncio.ensure_future(reading)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=_CHILD_POLL)
                if done:
                    return task.result()
                if self.replaced():
                    self._cut_writer = self._writer
                    raise redis.ConnectionError(f"the master switched away from {self.address}")
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    def _late(self, since: float, own_timeout: bool, writer: object | None) -> Verdict:
        replaced = self.replaced()
        if replaced:
            self._cut_writer = writer  # the master switched: the command runs on the new one
        return self.flight.late(
            time.monotonic() - since,
            handshaking=self._handshaking,
            own_timeout=own_timeout,
            replaced=replaced,
            describe=self._describe(),
            address=self.address,
        )

    def _refused(self, error: redis.ResponseError) -> redis.ResponseError:
        """An error reply as it is raised: a ``NOPERM`` names the server, never the user."""
        if isinstance(error, redis.exceptions.NoPermissionError):
            denied = translate(error, server=self.address, role=self._describe())
            assert isinstance(denied, redis.ResponseError)
            return denied
        return error


class SharedContextSSLConnection(SSLConnection):
    """A TLS connection that shares one SSL context with every other of its class.

    Vedette binds a connection class to each configuration, so that is one context per
    configuration. redis-py before 8.2 builds a context for each connection, loading the
    system's certificate store each time (about 10 ms on the event loop, per connection: a
    switch that reconnects two hundred of them would hold the loop for seconds).
    """

    _shared_context: ClassVar[Any] = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cls = type(self)
        if cls.__dict__.get("_shared_context") is None:
            cls._shared_context = self.ssl_context  # built on first use, then reused
        else:
            self.ssl_context = cls._shared_context


async def _handshake(connection: AsyncSentinelConnection) -> None:
    """Run as redis-py's ``redis_connect_func``: the usual handshake, then the role check."""
    connection._handshaking = True
    try:
        try:
            await connection.on_connect()
        except redis.RedisError as error:
            translated = translate(error, server=connection.address, role=connection._describe())
            if translated is not error:
                raise translated from None
            raise
        role = await _reported_role(connection)
        if role != connection._expected:
            connection._unusable(connection.address)
            raise role_mismatch(connection.address, connection._describe(), role)
        await connection._ready()
    finally:
        connection._handshaking = False
        connection._leave_gate()


async def _reported_role(connection: AsyncSentinelConnection) -> str:
    """The role the server reports: from a RESP3 handshake's ``HELLO``, else asked."""
    if str(connection.protocol) == "3":
        role = role_from_handshake(getattr(connection, "handshake_metadata", None))
        if role is not None:
            return role
    dialogue = role_dialogue()
    question = next(dialogue)
    try:
        while True:
            try:
                await connection.send_command(*question)
                reply = await connection.read_response()
            except redis.ResponseError as error:
                question = dialogue.throw(error)
            else:
                question = dialogue.send(reply)
    except StopIteration as done:
        found: str = done.value
        return found


class AsyncSentinelPool(ServicePool, redis.asyncio.ConnectionPool):
    """A ``redis.asyncio.ConnectionPool`` of `AsyncSentinelConnection`; see the module.

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
        if "maint_notifications_config" in _pool_parameters():
            kwargs |= without_maintenance_notifications()
        super().__init__(connection_class=bound(self.connection_base(tls=tls), config), **kwargs)

    def connection_base(self, *, tls: bool) -> type[AsyncSentinelConnection]:
        """The connection class this pool binds to its configuration."""
        raise NotImplementedError

    def make_connection(self) -> Any:
        """A new connection of this pool's service; the first one starts the watcher."""
        self._hold_hub()
        connection = super().make_connection()  # type: ignore[no-untyped-call]
        if isinstance(connection, AsyncSentinelConnection):
            connection.attach(self.hub, self)
        return connection

    def _hold_hub(self) -> None:
        """Hold the watcher until `disconnect` (or until the pool is collected)."""
        if self._holding:
            return
        self._holding = True
        self.hub.hold()  # starts a thread at most: no waiting
        dropped = weakref.finalize(self, _release_soon, self.hub)
        dropped.atexit = False  # at exit the watcher's daemon threads just end
        self._release_when_dropped = dropped

    async def disconnect(self, inuse_connections: bool = True) -> None:
        """Disconnect; the watcher stops when no other pool of the configuration runs."""
        await super().disconnect(inuse_connections)
        holding, self._holding = self._holding, False
        if holding:
            if self._release_when_dropped is not None:
                self._release_when_dropped.detach()
            # Stopping the watcher joins its threads: in a worker thread, not on the loop.
            await asyncio.to_thread(self.hub.release)


def _release_soon(hub: Hub) -> None:
    """Release ``hub`` for a pool the garbage collector freed, off the loop's thread."""
    later(hub.release, "vedette-release")


@functools.cache
def _pool_parameters() -> frozenset[str]:
    names: set[str] = set()
    for cls in redis.asyncio.ConnectionPool.__mro__:
        init = cls.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return frozenset(names)
