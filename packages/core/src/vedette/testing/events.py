"""Failover events in tests: record them (`capture_events`), or play them (`ScriptedWatcher`).

`capture_events` records what a watcher (or a Vedette client's watcher) publishes, and waits for
the one a test expects. `ScriptedWatcher` is a `FailoverWatcher` that hears no Sentinel: the
test feeds it Sentinel notifications, which go through the same rules as real ones, and its
events reach subscribers at once, on the test's thread. Give it to `vedette.connect(...,
watcher=...)` to see what a client (or an adapter built on one) does through a failover, step by
step, without making one happen.

Examples:
    >>> with capture_events(client) as events:  # doctest: +SKIP
    ...     cluster.failover()
    ...     switched = events.wait_for(MasterSwitched, timeout=30)

    >>> watcher = ScriptedWatcher(config, master="10.0.0.5:6379")  # doctest: +SKIP
    >>> watcher.play("+switch-master mymaster 10.0.0.5 6379 10.0.0.6 6379")
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import redis

from vedette.address import Address, AddressLike
from vedette.client.connection import SentinelPool
from vedette.config.sentinel_config import SentinelConfig
from vedette.process.state import state
from vedette.sentinel.events import FailoverEvent, MasterSwitched
from vedette.sentinel.watcher import FailoverWatcher
from vedette.testing._waiting import wait_until

__all__ = ["EventLog", "ScriptedWatcher", "capture_events"]

E = TypeVar("E", bound=FailoverEvent)


class EventLog(list[FailoverEvent]):
    """The events captured so far, in order; `wait_for` waits for the next of a kind."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def _add(self, event: FailoverEvent) -> None:
        with self._lock:
            self.append(event)

    def of(self, kind: type[E]) -> list[E]:
        """The events of ``kind`` captured so far."""
        with self._lock:
            return [event for event in self if isinstance(event, kind)]

    def wait_for(self, kind: type[E], timeout: float, *, count: int = 1) -> E:
        """Wait until ``count`` events of ``kind`` were captured; the last of them.

        Raises:
            WaitTimeout: Fewer within ``timeout`` seconds.
        """
        wait_until(lambda: len(self.of(kind)) >= count, timeout, f"{count} {kind.__name__}")
        return self.of(kind)[count - 1]


@contextmanager
def capture_events(source: FailoverWatcher | redis.Redis) -> Iterator[EventLog]:
    """Record the events of ``source`` (a watcher, or a Vedette client) while in the block.

    A client's watcher is the one its pool reacts to, held (started) for the block.
    """
    if isinstance(source, FailoverWatcher):
        watcher = source
    elif isinstance(source.connection_pool, SentinelPool):
        watcher = source.connection_pool.watcher
    else:
        raise TypeError(f"capture_events needs a watcher or a Vedette client, not {source!r}")
    log = EventLog()
    with watcher:
        unsubscribe = watcher.subscribe(log._add)
        try:
            yield log
        finally:
            unsubscribe()


class ScriptedWatcher(FailoverWatcher):
    """A `FailoverWatcher` fed by the test instead of by Sentinels; see the module.

    It starts no thread and asks no Sentinel on its own: events are published, and callbacks
    called, on the thread that calls `notify` or `play`.

    Args:
        config: The configuration (its service name filters the notifications).
        master: The master already known, as ``"host:port"`` or ``(host, port)``.
    """

    def __init__(self, config: SentinelConfig, *, master: AddressLike | None = None) -> None:
        super().__init__(config)
        if master is not None:
            self._state.master = Address.parse(master, setting="master")

    def ensure_running(self) -> None:
        """Nothing to run: the test plays the Sentinels."""

    def notify(
        self, channel: str, payload: str, *, sentinel: AddressLike | None = None
    ) -> FailoverEvent | None:
        """One Sentinel notification, as a Sentinel would publish it; the event it made.

        Args:
            channel: The notification, e.g. ``"+switch-master"``.
            payload: Its text, e.g. ``"mymaster 10.0.0.5 6379 10.0.0.6 6379"``.
            sentinel: Which Sentinel says it; default the first configured.
        """
        said_by = (
            self.config.sentinels[0]
            if sentinel is None
            else Address.parse(sentinel, setting="sentinel", default_port=26379)
        )
        return self._on_notification(said_by, channel, payload)

    def play(self, *lines: str) -> list[FailoverEvent]:
        """Several notifications, each ``"<channel> <payload>"``; the events they made."""
        made = []
        for line in lines:
            channel, _, payload = line.partition(" ")
            event = self.notify(channel, payload)
            if event is not None:
                made.append(event)
        return made

    def _publish(self, event: FailoverEvent) -> None:
        if isinstance(event, MasterSwitched):
            state.switch_signal.notify()
        with self._lock:
            callbacks, streams = list(self._callbacks), list(self._streams)
        for stream in streams:
            stream._put(event)
        for callback in callbacks:
            callback(event)
