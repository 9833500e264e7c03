"""The watcher's listeners: one thread per Sentinel, hearing everything it publishes.

Each listener holds a dedicated connection to its Sentinel, subscribed to every channel
(``PSUBSCRIBE *``). When it has heard nothing for a second it PINGs the Sentinel, and it gives
the connection up when not even the answer came within the Sentinel socket timeout on top: a
frozen Sentinel counts as a lost one. Every error is reported (the Sentinel is lost, and why)
and followed by a new connection after a jittered backoff (`vedette.retry.Backoff`), started
afresh once the Sentinel was heard again. So a listener never dies silently, and runs until
its watcher stops: `Listeners.cut` then shuts its connection down, in a handshake too.

A listener only reports, to the `ListenerOwner` it was given (the watcher), on its own
thread: a notification heard, its subscription confirmed or broken, and that the Sentinels
should be asked who the master is now. What the news means is the watcher's business.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import redis

from vedette.address import Address
from vedette.config.sentinel_config import SentinelConfig
from vedette.failures import classify
from vedette.process.reentry import OwnedLock
from vedette.retry import Backoff
from vedette.servers.clients import sentinel_client

__all__ = ["ListenerOwner", "Listeners"]

# A listener PINGs its Sentinel when it heard nothing for this long, and gives the connection up
# when the answer takes longer than the Sentinel socket timeout on top.
_HEARTBEAT = 1.0
# How long a listener blocks waiting for a message between checks that it should stop.
_POLL = 0.5


class ListenerOwner(Protocol):
    """What the listeners tell the watcher that runs them (called on the listeners' threads)."""

    def on_notice(self, sentinel: Address, channel: str, payload: str) -> None:
        """``sentinel`` published ``payload`` on ``channel`` (as received, not parsed)."""

    def on_sentinel(self, sentinel: Address, *, up: bool, reason: str = "") -> None:
        """The subscription to ``sentinel`` was confirmed (``up``), or broke for ``reason``."""

    def reconcile_soon(self) -> None:
        """Ask the Sentinels who the master is now, not at the next interval."""


class Listeners:
    """The listener threads of one watcher, one per Sentinel, and their connections.

    Args:
        config: The service, and how to reach its Sentinels (timeouts, backoff, TLS ...).
        lock: The watcher's lock. The watcher sets a run's ``stopping`` event while holding it,
            and `forget` is called under it: so a listener either registers its connection
            before `forget` (and is cut) or sees the stop and gives up.
    """

    def __init__(self, config: SentinelConfig, lock: OwnedLock) -> None:
        self._config = config
        self._lock = lock
        self._threads: dict[Address, threading.Thread] = {}
        # Each listener's client and subscription, to cut.
        self._subscribers: dict[Address, tuple[redis.Redis, redis.client.PubSub]] = {}

    @property
    def addresses(self) -> tuple[Address, ...]:
        """The Sentinels listened to since the watcher started (the lock is held)."""
        return tuple(self._threads)

    def watch(self, address: Address, stopping: threading.Event, owner: ListenerOwner) -> None:
        """Listen to ``address`` until ``stopping`` is set, unless a listener already does.

        The thread is a daemon named ``vedette-watcher-<service>-listener-<address>``.
        """
        with self._lock:
            if address in self._threads or stopping.is_set():
                return
            listener = _Listener(self, address, stopping, owner)
            thread = self._threads[address] = threading.Thread(
                target=listener.run,
                name=f"vedette-watcher-{self._config.service_name}-listener-{address}",
                daemon=True,
            )
        thread.start()

    def forget(self) -> tuple[list[threading.Thread], list[redis.Redis]]:
        """Forget every listener, once their ``stopping`` is set (the lock is held).

        Returns:
            Their threads, to join, and their clients, to `cut` once the lock is released.
        """
        clients = [client for client, _ in self._subscribers.values()]
        threads, self._threads = list(self._threads.values()), {}
        return threads, clients

    @staticmethod
    def cut(clients: list[redis.Redis]) -> None:
        """Shut down the connections of ``clients`` (from `forget`): their listeners end now."""
        for client in clients:
            # Also reaches a connection in its handshake (to a frozen Sentinel, say): redis-py
            # shuts down the sockets of in-use connections too. A listener dialling again
            # (redis-py 8.2's PubSub does after a read error) gives up before its handshake.
            client.connection_pool.disconnect()

    def _hold(
        self,
        address: Address,
        client: redis.Redis,
        pubsub: redis.client.PubSub,
        stopping: threading.Event,
    ) -> bool:
        """Register a listener's connection, to cut; False if its watcher is stopping."""
        with self._lock:
            if stopping.is_set():
                return False
            self._subscribers[address] = (client, pubsub)
            return True

    def _release(self, address: Address, client: redis.Redis) -> None:
        """Forget a listener's connection (unless a newer listener's replaced it)."""
        with self._lock:
            held = self._subscribers.get(address)
            if held is not None and held[0] is client:
                del self._subscribers[address]


class _Listener:
    """The work of one listener thread: one Sentinel's notifications, while the watcher runs."""

    def __init__(
        self,
        listeners: Listeners,
        address: Address,
        stopping: threading.Event,
        owner: ListenerOwner,
    ) -> None:
        self._listeners = listeners
        self._config = listeners._config
        self._address = address
        self._stopping = stopping
        self._owner = owner
        self._listening = False  # subscription confirmed since the last error

    def run(self) -> None:
        """Subscribe and hear, and again after each error, until the watcher stops."""
        config, address, stopping = self._config, self._address, self._stopping
        pauses = Backoff.from_config(config).delays()

        def handshake_unless_stopping(connection: Any) -> None:
            # Runs once the socket is in place, where `close` can shut it down: a handshake
            # begun before the stop is cut short, and none begins after it (one to a frozen
            # Sentinel would hold the listener, and `close`, for its socket timeout).
            if stopping.is_set():
                raise redis.ConnectionError("the watcher is closed")
            connection.on_connect()

        while not stopping.is_set():
            client = sentinel_client(
                config,
                address,
                socket_keepalive=True,
                redis_connect_func=handshake_unless_stopping,
            )
            pubsub = client.pubsub()  # type: ignore[no-untyped-call, unused-ignore]
            if not self._listeners._hold(address, client, pubsub, stopping):
                break
            try:
                pubsub.psubscribe("*")
                self._receive(pubsub)
            except Exception as error:
                if stopping.is_set():
                    break
                if self._listening:  # it was listening: back off from the start
                    self._listening = False
                    pauses = Backoff.from_config(config).delays()
                reason = classify(error)[1] if isinstance(error, redis.RedisError) else repr(error)
                self._owner.on_sentinel(address, up=False, reason=reason)
                stopping.wait(next(pauses))
            finally:
                self._listeners._release(address, client)
                pubsub.close()
                client.close()

    def _receive(self, pubsub: redis.client.PubSub) -> None:
        address, stopping, owner = self._address, self._stopping, self._owner
        heard = pinged = time.monotonic()
        silence_limit = _HEARTBEAT + self._config.sentinel_socket_timeout
        while not stopping.is_set():
            message = pubsub.get_message(timeout=min(_POLL, _HEARTBEAT))
            now = time.monotonic()
            if message is not None:
                heard = now
                if message["type"] == "pmessage":
                    owner.on_notice(address, message["channel"], message["data"])
                elif message["type"] == "psubscribe":  # confirmed: only now is it listening
                    self._listening = True
                    owner.on_sentinel(address, up=True)
                    owner.reconcile_soon()
            elif now - heard > silence_limit:
                raise redis.TimeoutError(f"no reply to PING in {silence_limit:g} s")
            if now - max(heard, pinged) >= _HEARTBEAT:
                pubsub.ping()
                pinged = now
