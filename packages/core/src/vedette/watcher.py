"""`FailoverWatcher`: the Sentinels' failover notifications as one stream of typed events.

Sentinel publishes what it does on its own pub/sub channels (``+odown``, ``+try-failover``,
``+switch-master`` ...). The watcher subscribes to every Sentinel on a dedicated connection, so a
dead Sentinel, or a lost notification, costs nothing as long as one Sentinel is heard. Each
occurrence is published once however many Sentinels report it.

Notifications can still be missed: all connections cut mid-failover, or a failover that ended
while the watcher was reconnecting. So the watcher *reconciles*: it asks the Sentinels who the
master is (`Discovery`) whenever a subscription is (re)established, every
``reconcile_interval`` seconds, and twice a second while a promotion is under way. A master that
differs from the last known one is published as `MasterSwitched` with ``via="reconciliation"``.

Threads: one listener per Sentinel, one reconciler, one dispatcher that calls the callbacks in
order (a slow callback delays other callbacks, never the listeners). All are daemon threads,
named ``vedette-watcher-...``, stopped by `close`. A listener never dies silently: every error is
logged and followed by a reconnection with jittered backoff.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import Literal

import redis

from vedette._connections import sentinel_client
from vedette._redis_errors import classify
from vedette._wakeup import master_switched
from vedette.address import Address
from vedette.config import SentinelConfig
from vedette.discovery import Discovery
from vedette.errors import VedetteError
from vedette.events import (
    FailoverAborted,
    FailoverEvent,
    FailoverStarted,
    MasterDown,
    MasterSwitched,
    MasterUp,
    PromotionStarted,
    SentinelLost,
    SentinelRecovered,
)
from vedette.retry import Backoff

__all__ = ["EventStream", "FailoverWatcher"]

logger = logging.getLogger(__name__)

Callback = Callable[[FailoverEvent], object]

# A listener PINGs its Sentinel when it heard nothing for this long, and gives the connection up
# when the answer takes longer than the Sentinel socket timeout on top.
_HEARTBEAT = 1.0
# How long a listener blocks waiting for a message: bounds how long `close` waits for it.
_POLL = 0.2
# Reconciliation pace while a promotion is under way: its end must not depend on one message.
_PROMOTION_RECONCILE = 0.5


@dataclass(slots=True)
class _Failover:
    """What the watcher knows of the failover under way, if any."""

    master: Address
    trying: set[Address] = field(default_factory=set)  # Sentinels that announced +try-failover
    leader: Address | None = None
    promoting: bool = False


class FailoverWatcher:
    """Watches every Sentinel of a service and publishes failover events.

    Use it as a context manager, or call `start` and `close`. Receive events with `subscribe`
    (a callback, called on the watcher's dispatcher thread) or `events` (a blocking iterator).

    Example:
        >>> with FailoverWatcher(config) as watcher:  # doctest: +SKIP
        ...     for event in watcher.events():
        ...         print(event.at, event.describe())

    Args:
        config: Which Sentinels and service to watch; ``reconcile_interval`` sets the periodic
            check (None: only on (re)subscription and during promotions).
    """

    def __init__(self, config: SentinelConfig) -> None:
        self.config = config
        self._discovery = Discovery(config)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0  # grows with every change of master or failover state
        self._switches = 0
        self._master: Address | None = None
        self._failover: _Failover | None = None
        self._down: set[Address] = set()  # masters reported +odown
        self._sentinel_up: dict[Address, bool] = {}
        self._listeners: dict[Address, threading.Thread] = {}
        self._callbacks: list[Callback] = []
        self._streams: list[EventStream] = []
        self._outbox: queue.Queue[FailoverEvent | None] = queue.Queue()
        self._reconcile_now = threading.Event()
        self._closed = threading.Event()
        self._started = False
        self._threads: list[threading.Thread] = []

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FailoverWatcher:
        """Start the listener, reconciler and dispatcher threads (once; later calls do nothing)."""
        with self._lock:
            if self._started:
                return self
            if self._closed.is_set():
                raise VedetteError("this FailoverWatcher is closed; create a new one")
            self._started = True
        with self._lock:
            threads = [
                self._thread("dispatcher", self._dispatch),
                self._thread("reconciler", self._reconcile_loop),
            ]
        for thread in threads:
            thread.start()
        for address in self.config.sentinels:
            self._watch(address)
        self._reconcile_now.set()
        return self

    def close(self) -> None:
        """Stop every thread and close every connection; iterators from `events` end."""
        self._closed.set()
        self._reconcile_now.set()
        self._outbox.put(None)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread() and thread.ident is not None:
                thread.join(timeout=5)
        self._discovery.close()
        with self._lock:
            streams, self._streams = self._streams, []
            self._changed.notify_all()
        for stream in streams:
            stream._finish()

    def __enter__(self) -> FailoverWatcher:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed.is_set()

    # --- what users read ------------------------------------------------------------------------

    @property
    def master(self) -> Address | None:
        """The last known master (None until the first answer from the Sentinels)."""
        with self._lock:
            return self._master

    @property
    def promoting(self) -> bool:
        """Whether a replica is being promoted: writes to the current master would be lost."""
        with self._lock:
            return self._failover is not None and self._failover.promoting

    @property
    def switches(self) -> int:
        """How many master switches the watcher has seen (the first master learnt is not one)."""
        with self._lock:
            return self._switches

    @property
    def sentinels(self) -> tuple[Address, ...]:
        """Every Sentinel watched: the configured ones and those learnt from discovery."""
        with self._lock:
            return tuple(self._listeners)

    def wait_for_master(self, timeout: float) -> Address | None:
        """Wait up to ``timeout`` seconds until a master is known; return it (or None)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._master is not None or self._closed.is_set(), timeout
            )
            return self._master

    def wait_until_not_promoting(self, end: float) -> None:
        """Block while a promotion is under way, until the monotonic time ``end`` at most."""
        with self._changed:
            while self._failover is not None and self._failover.promoting:
                remaining = end - time.monotonic()
                if remaining <= 0 or self._closed.is_set():
                    return
                self._changed.wait(remaining)

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on; returns a function to stop.

        Callbacks run one at a time on the watcher's dispatcher thread, in event order. An
        exception in a callback is logged and does not stop the others.
        """
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def events(self, *, timeout: float | None = None) -> EventStream:
        """A blocking iterator over the events from now on.

        Args:
            timeout: End the iteration after this many seconds without an event; None waits
                for as long as the watcher runs.
        """
        stream = EventStream(self, timeout)
        with self._lock:
            if self._closed.is_set():
                stream._finish()
            else:
                self._streams.append(stream)
        return stream

    def _forget(self, stream: EventStream) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    # --- threads --------------------------------------------------------------------------------

    def _thread(self, role: str, target: Callable[..., None], *args: object) -> threading.Thread:
        thread = threading.Thread(
            target=target,
            args=args,
            name=f"vedette-watcher-{self.config.service_name}-{role}",
            daemon=True,
        )
        self._threads.append(thread)
        return thread

    def _watch(self, address: Address) -> None:
        with self._lock:
            if address in self._listeners or self._closed.is_set():
                return
            thread = self._listeners[address] = self._thread(
                f"listener-{address}", self._listen, address
            )
        thread.start()

    def _listen(self, address: Address) -> None:
        """One Sentinel's notifications, for as long as the watcher runs."""
        pauses = Backoff.from_config(self.config).delays()
        while not self._closed.is_set():
            client = sentinel_client(self.config, address, socket_keepalive=True)
            pubsub = client.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.psubscribe("*")
                self._sentinel_state(address, up=True)
                self._reconcile_now.set()
                pauses = Backoff.from_config(self.config).delays()
                self._receive(address, pubsub)
            except Exception as error:
                if self._closed.is_set():
                    break
                reason = classify(error)[1] if isinstance(error, redis.RedisError) else repr(error)
                self._sentinel_state(address, up=False, reason=reason)
                self._closed.wait(next(pauses))
            finally:
                pubsub.close()
                client.close()

    def _receive(self, address: Address, pubsub: redis.client.PubSub) -> None:
        heard = pinged = time.monotonic()
        silence_limit = _HEARTBEAT + self.config.sentinel_socket_timeout
        while not self._closed.is_set():
            message = pubsub.get_message(timeout=_POLL)
            now = time.monotonic()
            if message is not None:
                heard = now
                if message["type"] == "pmessage":
                    self._on_notification(address, message["channel"], message["data"])
            elif now - heard > silence_limit:
                raise redis.TimeoutError(f"no reply to PING in {silence_limit:g} s")
            if now - max(heard, pinged) >= _HEARTBEAT:
                pubsub.ping()
                pinged = now

    def _reconcile_loop(self) -> None:
        while not self._closed.is_set():
            with self._lock:
                promoting = self._failover is not None and self._failover.promoting
            interval = _PROMOTION_RECONCILE if promoting else self.config.reconcile_interval
            self._reconcile_now.wait(interval)
            self._reconcile_now.clear()
            if self._closed.is_set():
                return
            try:
                self._reconcile()
            except Exception:
                logger.exception(
                    "service %r: reconciliation failed; trying again later",
                    self.config.service_name,
                )

    def _dispatch(self) -> None:
        while True:
            event = self._outbox.get()
            if event is None:
                return
            with self._lock:
                callbacks, streams = list(self._callbacks), list(self._streams)
            for stream in streams:
                stream._put(event)
            for callback in callbacks:
                try:
                    callback(event)
                except Exception:
                    logger.exception("failover event callback %r failed on %r", callback, event)

    # --- turning notifications into events ------------------------------------------------------

    def _on_notification(self, sentinel: Address, channel: str, payload: str) -> None:
        notice = _parse(channel, payload, self.config)
        if notice is None or notice.service != self.config.service_name:
            return
        now = datetime.now(timezone.utc)
        service = self.config.service_name
        with self._lock:
            event = self._apply(sentinel, notice, now, service)
        if event is not None:
            self._publish(event)

    def _apply(
        self, sentinel: Address, notice: _Notice, now: datetime, service: str
    ) -> FailoverEvent | None:
        """Update the state for one notification; the event to publish, if it is news."""
        kind, master = notice.kind, notice.master
        failover = self._failover
        if kind == "+switch-master":
            assert notice.new_master is not None
            return self._switch(notice.new_master, now, via="event")
        if kind == "+odown" and master not in self._down:
            self._down.add(master)
            return MasterDown(service=service, at=now, master=master)
        if kind == "-odown" and master in self._down:
            self._down.discard(master)
            return MasterUp(service=service, at=now, master=master)
        if kind in ("+try-failover", "+elected-leader"):
            started = failover is None
            if failover is None:
                failover = self._failover = _Failover(master)
                self._changed_locked()
            if kind == "+try-failover":
                failover.trying.add(sentinel)
            else:
                failover.leader = sentinel
            return FailoverStarted(service=service, at=now, master=master) if started else None
        if kind == "+failover-state-send-slaveof-noone" and notice.instance is not None:
            if failover is None:
                failover = self._failover = _Failover(master, leader=sentinel)
            if failover.promoting:
                return None
            failover.promoting = True
            self._changed_locked()
            return PromotionStarted(service=service, at=now, master=master, replica=notice.instance)
        if kind.startswith("-failover-abort-") and failover is not None:
            if failover.leader is not None and sentinel != failover.leader:
                return None  # a Sentinel that lost the election; the leader goes on
            failover.trying.discard(sentinel)
            if failover.leader is None and failover.trying:
                return None  # other candidates are still trying
            self._failover = None
            self._changed_locked()
            reason = kind.removeprefix("-failover-abort-")
            return FailoverAborted(service=service, at=now, master=master, reason=reason)
        return None

    def _switch(
        self, new: Address, now: datetime, *, via: Literal["event", "reconciliation"]
    ) -> MasterSwitched | None:
        """Record ``new`` as the master (lock held); the event, unless it was known already."""
        old = self._master
        self._failover = None
        self._down.discard(new)
        if new == old:
            self._changed_locked()
            return None
        self._master = new
        self._changed_locked()
        if old is None:
            return None  # the first master learnt: nothing switched
        self._switches += 1
        return MasterSwitched(
            service=self.config.service_name,
            at=now,
            old=old,
            new=new,
            via=via,
        )

    def _changed_locked(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def _publish(self, event: FailoverEvent) -> None:
        level = logging.WARNING if isinstance(event, MasterDown | SentinelLost) else logging.INFO
        logger.log(level, "service %r: %s", event.service, event.describe())
        if isinstance(event, MasterSwitched):
            master_switched.notify()
        self._outbox.put(event)

    def _sentinel_state(self, address: Address, *, up: bool, reason: str = "") -> None:
        now = datetime.now(timezone.utc)
        service = self.config.service_name
        with self._lock:
            was = self._sentinel_up.get(address)
            self._sentinel_up[address] = up
        if up and was is False:
            self._publish(SentinelRecovered(service=service, at=now, sentinel=address))
        elif not up and was is not False:
            self._publish(SentinelLost(service=service, at=now, sentinel=address, reason=reason))

    # --- reconciliation -------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Ask the Sentinels who the master is; publish a switch the notifications missed."""
        with self._lock:
            version = self._version
            failover_known = self._failover is not None
        try:
            topology = self._discovery.discover(every_sentinel=failover_known)
        except VedetteError as error:
            logger.debug(
                "service %r: reconciliation found no master: %s", self.config.service_name, error
            )
            return
        for address in topology.sentinels:
            self._watch(address)
        now = datetime.now(timezone.utc)
        with self._lock:
            if version != self._version:
                # A notification changed the state while the Sentinels were asked: it is newer.
                self._reconcile_now.set()
                return
            event: FailoverEvent | None = None
            failover = self._failover
            if topology.master != self._master:
                event = self._switch(topology.master, now, via="reconciliation")
            elif failover is not None and not topology.failover_in_progress:
                # The failover ended without a switch and its abort notice was missed.
                self._failover = None
                self._changed_locked()
                event = FailoverAborted(
                    service=self.config.service_name,
                    at=now,
                    master=failover.master,
                    reason="ended without a switch (reconciliation)",
                )
        if event is not None:
            self._publish(event)


class EventStream(Iterator[FailoverEvent]):
    """A blocking iterator over a watcher's events; see `FailoverWatcher.events`.

    It ends when the watcher closes, when `close` is called, or after ``timeout`` seconds
    without an event.
    """

    def __init__(self, watcher: FailoverWatcher, timeout: float | None) -> None:
        self._watcher = watcher
        self._timeout = timeout
        self._inbox: queue.Queue[FailoverEvent | None] = queue.Queue()

    def _put(self, event: FailoverEvent) -> None:
        self._inbox.put(event)

    def _finish(self) -> None:
        self._inbox.put(None)

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> FailoverEvent:
        try:
            event = self._inbox.get(timeout=self._timeout)
        except queue.Empty:
            event = None
        if event is None:
            self.close()
            raise StopIteration
        return event

    def close(self) -> None:
        """Stop receiving events."""
        self._watcher._forget(self)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class _Notice:
    """One Sentinel notification about a master, addresses after NAT."""

    kind: str
    service: str
    master: Address
    instance: Address | None = None  # the replica or Sentinel the notification is about
    new_master: Address | None = None  # +switch-master only


def _parse(channel: str, payload: str, config: SentinelConfig) -> _Notice | None:
    """Read a notification; None for those that are not about a master's failover.

    Payloads: ``+switch-master`` is ``<name> <old-ip> <old-port> <new-ip> <new-port>``; the others
    describe an instance: ``master <name> <ip> <port>`` or
    ``<type> <name> <ip> <port> @ <master-name> <master-ip> <master-port>``, then maybe details.
    """
    words = payload.split()
    translate = config.nat.translate
    try:
        if channel == "+switch-master":
            name, old_host, old_port, new_host, new_port = words[:5]
            old = translate(Address(old_host, int(old_port)))
            new = translate(Address(new_host, int(new_port)))
            return _Notice(channel, name, old, new_master=new)
        if words[0] == "master":
            return _Notice(channel, words[1], translate(Address(words[2], int(words[3]))))
        if len(words) >= 8 and words[4] == "@":
            instance = translate(Address(words[2], int(words[3])))
            master = translate(Address(words[6], int(words[7])))
            return _Notice(channel, words[5], master, instance=instance)
    except (IndexError, ValueError):
        logger.debug("ignored unreadable Sentinel notification %r: %r", channel, payload)
    except VedetteError as error:  # an unmapped address, in strict NAT mode
        logger.error("ignored Sentinel notification %r: %s", channel, error)
    return None
