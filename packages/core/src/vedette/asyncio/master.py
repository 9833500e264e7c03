"""`vedette.asyncio.connect()`: a ``redis.asyncio.Redis`` that follows the master.

Everything `vedette.connect` promises, for async code, on the same decisions and the same
watcher (see `vedette.client.master` for the list): the master the Sentinels' majority names,
checked before use; connections to a demoted master cut the moment the switch is known; commands
held while a replica is promoted; late replies waited for, never a command run twice; pops whose
reply was lost raised as `OutcomeUnknownError`; pub/sub re-subscribed; ``wait_replicas``. No
call blocks the event loop: lookups run in a worker thread, holds and pauses are awaited.

Examples:
    >>> import vedette.asyncio
    >>> client = vedette.asyncio.connect("redis+sentinel://10.0.0.1,10.0.0.2/mymaster")
    >>> await client.lpush("jobs", "payload")  # doctest: +SKIP
    1
    >>> await client.aclose()  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import redis
import redis.asyncio

from vedette.address import Address
from vedette.asyncio.connection import (
    AsyncSentinelConnection,
    AsyncSentinelPool,
    SharedContextSSLConnection,
)
from vedette.client.durability import WaitLedger, command_refused, write_commands
from vedette.client.flight import on_switch, promotion_timeout, switched_while_watching
from vedette.client.hub import Hub
from vedette.config.sentinel_config import SentinelConfig, config_from
from vedette.metrics.pauses import held
from vedette.retry import deadline_for
from vedette.sentinel.watcher import FailoverWatcher

__all__ = ["AsyncMasterConnection", "AsyncMasterPool", "connect"]

# How often a hold reads a parent's watcher (in a forked child, where nothing rings).
_FOLLOW_POLL = 0.01


def connect(
    url_or_config: str | SentinelConfig,
    *,
    watcher: FailoverWatcher | None = None,
    **redis_options: Any,
) -> redis.asyncio.Redis:
    """A ``redis.asyncio.Redis`` client for the master, that follows it through failovers.

    Args:
        url_or_config: A ``redis+sentinel://`` URL or a `vedette.SentinelConfig`.
        watcher: The watcher to react to; default the configuration's shared one (the same one
            the sync clients of the configuration use).
        **redis_options: ``redis.asyncio.Redis`` options that do not say where or how to
            connect, as for `vedette.connect`.

    Returns:
        A client whose pool is an `AsyncMasterPool`. ``await client.aclose()`` it (or use
        ``async with``): the shared watcher stops once no client of the configuration runs.

    Raises:
        ConfigurationError: The URL or an option is invalid. Nothing is connected yet.
    """
    pool = AsyncMasterPool(config_from(url_or_config), watcher=watcher, **redis_options)
    client = redis.asyncio.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # aclose() closes the pool and its watcher
    return client


class AsyncMasterConnection(AsyncSentinelConnection):
    """An async connection to the master: held during a promotion, moved on a switch."""

    follows_switches = True

    async def _resolve(self, hub: Hub) -> tuple[Address, str]:
        master = hub.known_master()
        if master is None:  # ask the Sentinels, off the loop (lookups are shared with threads)
            master = await asyncio.to_thread(hub.master_address)
        return master, "master"

    def _unusable(self, address: Address) -> None:
        if self._hub is not None:
            self._hub.failed(address)

    async def _ready(self) -> None:
        await super()._ready()
        if self._hub is not None and not self.replaced():  # not an old master, just demoted
            self._hub.master_is(self.address)

    async def _catch_up(self, hub: Hub) -> None:
        """As `vedette.MasterConnection._catch_up`: hold, or move, as the watcher says."""
        if self._handshaking:
            return
        watcher, deadline = hub.watcher, deadline_for(type(self).config)
        version = watcher.version  # read first: a change after it is caught next time
        if watcher.promoting:
            poll = _FOLLOW_POLL if watcher.follows_parent else None
            with held(self.config.service_name):
                await watcher.wakers.until(
                    lambda: not watcher.promoting or watcher.closed, deadline, poll=poll
                )
                if watcher.promoting:
                    raise promotion_timeout(self.config, deadline)
        if watcher.switches != self._switches and self.is_connected:
            action = on_switch(self.address, watcher.master, watching=self.flight.watching)
            if action == "stay":
                self._switches = watcher.switches
                self._seen = version
                return
            await self.disconnect()
            if action == "restart":  # redis-py makes this a WatchError
                raise switched_while_watching(self.config)
            await self.connect()
            return
        self._seen = version


class AsyncMasterSSLConnection(AsyncMasterConnection, SharedContextSSLConnection):
    """An async TLS connection to the master."""


class AsyncConfirmsWrites(AsyncMasterConnection):
    """An async master connection whose writes are confirmed with ``WAIT`` (`WaitLedger`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ledger = WaitLedger(type(self).config)

    async def _ready(self) -> None:
        await super()._ready()
        hub = self._hub
        if hub is None or _knows_writes(hub):
            return
        # The connections a burst of commands opens at once learn it once, not each (a COMMAND
        # reply takes milliseconds to parse): the others wait for the first, on this loop.
        async with _learning(asyncio.get_running_loop()):
            if _knows_writes(hub):  # another connection learnt them meanwhile
                return
            await self.send_command("COMMAND")  # while handshaking: sent as is, no WAIT after it
            try:
                hub.writes = write_commands(await self.read_response())
            except redis.ResponseError as error:
                raise command_refused(error) from None

    def _confirms(self, commands: list[Any]) -> bool:
        return self._ledger.confirms(commands, self._hub.writes if self._hub else None)

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send; a batch that carries a WAIT counts as owed once it is on its way."""
        batch = self._batch
        confirmed = batch[2] if batch is not None and batch[0] is command else None
        await super().send_packed_command(command, check_health)
        if confirmed is not None:
            self._ledger.sent([confirmed])

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        """Send one command, followed by ``WAIT`` if it writes."""
        if self._handshaking or not self._confirms([args]):
            await super().send_command(*args, **kwargs)
            return
        packed = super().pack_commands([args, self._ledger.wait])
        self._batch = (packed, args, 1)
        await self.send_packed_command(packed, check_health=kwargs.get("check_health", True))

    def pack_commands(self, commands: Any) -> Any:
        """Pack a pipeline, followed by ``WAIT`` if it writes."""
        commands = list(commands)
        if not self._confirms(commands):
            return super().pack_commands(commands)
        packed = super().pack_commands([*commands, self._ledger.wait])
        self._batch = (packed, commands, len(commands))  # what the WAIT follows
        return packed

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; after the last reply of a confirmed batch, read and check its WAIT."""
        if not self._ledger.owed:
            return await super().read_response(*args, **kwargs)
        try:
            reply = await super().read_response(*args, **kwargs)
        except redis.ResponseError:
            await self._after_reply()  # an error reply is still a reply of the batch
            raise
        await self._after_reply()
        return reply

    async def _after_reply(self) -> None:
        if self._ledger.replied():
            self._ledger.check(int(await super().read_response()), self.address)

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        """Close the socket; replies still owed are gone with it."""
        self._ledger.clear()
        await super().disconnect(*args, **kwargs)


_LEARNING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _knows_writes(hub: Hub) -> bool:
    return hub.writes is not None


def _learning(loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
    """The lock under which a connection of ``loop`` learns which commands write."""
    lock = _LEARNING.get(loop)
    if lock is None:
        lock = _LEARNING[loop] = asyncio.Lock()
    return lock


class AsyncConfirmedMasterSSLConnection(AsyncConfirmsWrites, SharedContextSSLConnection):
    """An async TLS connection to the master whose writes are confirmed with ``WAIT``."""


class AsyncMasterPool(AsyncSentinelPool):
    """An async pool whose connections always reach the current master; see the module.

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

    def connection_base(self, *, tls: bool) -> type[AsyncSentinelConnection]:
        """A master connection, TLS or not, confirming writes if ``wait_replicas`` is set."""
        if self.config.wait_replicas:
            return AsyncConfirmedMasterSSLConnection if tls else AsyncConfirmsWrites
        return AsyncMasterSSLConnection if tls else AsyncMasterConnection
