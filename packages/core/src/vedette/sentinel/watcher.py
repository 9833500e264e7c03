"""`FailoverWatcher`: the Sentinels' failover notifications as one stream of typed events.

Sentinel publishes what it does on its own pub/sub channels (``+odown``, ``+try-failover``,
``+switch-master`` ...). The watcher subscribes to every Sentinel on a dedicated connection, so a
dead Sentinel, or a lost notification, costs nothing as long as one Sentinel is heard. Each
occurrence is published once however many Sentinels report it (the rules live in
`vedette.sentinel.failover_state`, apart from the threads).

Notifications can still be missed: all connections cut mid-failover, or a failover that ended
while the watcher was reconnecting. So the watcher *reconciles*: it asks the Sentinels who the
master is (`Discovery`) whenever a subscription is (re)established, every
``reconcile_interval`` seconds, and twice a second while a promotion is under way. A master that
differs from the last known one is published as `MasterSwitched` with ``via="reconciliation"``.

Sharing: `shared_watcher` gives the one watcher of a configuration in this process; every pool
of that configuration uses it. Each user calls `FailoverWatcher.start` once and
`FailoverWatcher.close` once; the threads run while at least one user holds the watcher, and
start again on the next `start`. After ``os.fork()`` a child starts no thread: it reads what
its parent's watcher knows (the master, the switches, a promotion under way) from a page of
shared memory (`vedette.sentinel.shared_view`), before each command. It starts threads of its
own when it needs the events themselves (`subscribe`, `events`) or the parent's watcher is gone.

Threads: a reconciler (the only one `start` waits for), which starts one listener per Sentinel
and a dispatcher that calls the callbacks in order (a slow callback delays other callbacks, never
the listeners). All are daemon threads named ``vedette-watcher-...``; `close` cuts their
connections and joins them, in milliseconds. A listener never dies silently: every error is
logged and followed by a reconnection with jittered backoff.

This module holds the watcher's lifecycle, its reconciler and dispatcher, what news does to its
`FailoverState`, and what users read; the listeners live in `vedette.sentinel.listeners`, the
following of a parent's watcher in `vedette.sentinel.parent_view`, and `EventStream` in
`vedette.sentinel.event_stream`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, TypeVar

from vedette.address import Address
from vedette.config.sentinel_config import SentinelConfig
from vedette.errors import VedetteError
from vedette.process.reentry import OwnedLock
from vedette.process.state import restart_after_fork, state
from vedette.process.wakers import Wakers
from vedette.sentinel.discovery import Discovery, Topology
from vedette.sentinel.event_stream import EventStream
from vedette.sentinel.events import FailoverEvent, MasterSwitched
from vedette.sentinel.failover_state import FailoverState, parse_notice
from vedette.sentinel.listeners import Listeners
from vedette.sentinel.parent_view import ParentView
from vedette.sentinel.reporting import EventReport
from vedette.sentinel.shared_view import SharedView, View

__all__ = ["EventStream", "FailoverWatcher", "shared_watcher"]

logger = logging.getLogger("vedette.watcher")

Callback = Callable[[FailoverEvent], object]
W = TypeVar("W", bound="FailoverWatcher")

# Reconciliation pace while a promotion is under way: its end must not depend on one message.
_PROMOTION_RECONCILE = 0.5
# How long close() waits for each thread; they are cut loose first, so this is a safety net.
_JOIN = 2.0


class FailoverWatcher:
    """Watches every Sentinel of a service and publishes failover events.

    Use it as a context manager, or call `start` and `close`. Receive events with `subscribe`
    (a callback, called on the watcher's dispatcher thread) or `events` (a blocking iterator).
    To share the watcher the pools of a configuration use, call `shared_watcher`.

    Examples:
        >>> with FailoverWatcher(config) as watcher:  # doctest: +SKIP
        ...     for event in watcher.events():
        ...         print(event.at, event.describe())

    Args:
        config: Which Sentinels and service to watch; ``reconcile_interval`` sets the periodic
            check (None: only on (re)subscription and during promotions).
    """

    def __init__(self, config: SentinelConfig) -> None:
        self.config = config
        self.discovery = Discovery(config)
        """The discovery this watcher reconciles with; pools sharing the watcher use it too, so
        what one lookup learns (a Sentinel gone, a master replaced) every other knows."""
        self._state = FailoverState(config.service_name)
        self._report = EventReport(config.service_name)
        self._callbacks: list[Callback] = []
        self._users = 0  # start() calls not yet matched by close()
        self._running_in = 0  # pid whose threads are running (0: none)
        self._view = SharedView()  # what this process's watcher knows, for its children
        self._parent = ParentView(self.discovery)  # in a forked child: the parent's watcher
        self._fresh_run()
        restart_after_fork(self)

    def _fresh_run(self) -> None:
        """New synchronisation objects and no threads: at creation, and in a forked child."""
        # An OwnedLock: a finalizer on a thread holding it must not wait for it. (Condition takes
        # any lock with acquire and release; typeshed knows only threading's.)
        self._lock = OwnedLock()
        self._changed = threading.Condition(self._lock)  # type: ignore[arg-type]
        self.wakers = Wakers()
        """Rung (on the watcher's threads) whenever `version` changes or the watcher stops: what
        wakes coroutines waiting for a promotion to end (`vedette.asyncio`)."""
        self._version = 0  # grows with every change the state reports
        self._streams: list[EventStream] = []
        self._outbox: queue.Queue[FailoverEvent | None] = queue.Queue()
        self._reconcile_now = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []  # the reconciler and the dispatcher
        self._listeners = Listeners(self.config, self._lock)

    def _after_fork(self) -> None:
        if self._running_in:  # it ran in the parent: follow what the parent knows
            self._parent.follow(self._view)
            self._state.forget_failover()  # the parent's page says whether one is under way
        self._view = SharedView()
        self._fresh_run()
        self._running_in = 0  # the parent's threads do not exist here
        if self._parent.page is not None:  # no thread here rings the retries' pauses: they read it
            state.switch_signal.follow(self)
            self.discovery.threadless = True  # and its lookups (replicas) start none either

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self: W) -> W:
        """Hold the watcher: its threads run until every `start` is matched by a `close`.

        Only the reconciler thread is started here (it starts the others), so this is cheap;
        the first master is known shortly after (`wait_for_master`).
        """
        with self._lock:
            self._users += 1
        self.ensure_running()
        return self

    def ensure_running(self) -> None:
        """Start the threads in this process if the watcher is held and they are not running.

        Cheap when they run. A forked child that follows its parent's watcher starts nothing.
        """
        pid = os.getpid()
        if self._running_in == pid or self._following() is not None:
            return
        if sys.is_finalizing():
            return  # a thread started at interpreter exit never runs: start() would wait forever
        with self._lock:
            if self._running_in == pid or self._users == 0:
                return
            self._running_in = pid
            self._publish_view(running=True)
            self._stopping = threading.Event()
            self._reconcile_now = threading.Event()
            self._reconcile_now.set()
            self._outbox = queue.Queue()
            reconciler = self._thread("reconciler", self._run)
        try:
            reconciler.start()
        except RuntimeError:  # at interpreter exit before sys.is_finalizing() (atexit, 3.12)
            with self._lock:
                self._running_in = 0
                self._publish_view(running=False)
                self._threads.remove(reconciler)

    def close(self) -> None:
        """Let go of the watcher; when nobody holds it, stop every thread and connection.

        Iterators from `events` end then. A later `start` runs it again, from what it knew.
        """
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users:
                return
            running, self._running_in = self._running_in == os.getpid(), 0
            if running:
                self._publish_view(running=False)
            self._stopping.set()
            self._reconcile_now.set()
            self._outbox.put(None)
            listeners, clients = self._listeners.forget()
            threads, self._threads = [*self._threads, *listeners], []
            streams, self._streams = self._streams, []
            self._changed.notify_all()
        self.wakers.ring()
        Listeners.cut(clients)
        self.discovery.close()
        if running:
            for thread in threads:
                if thread is not threading.current_thread() and thread.ident is not None:
                    thread.join(timeout=_JOIN)
        for stream in streams:
            stream._finish()

    def __enter__(self: W) -> W:
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
        """Whether nobody holds the watcher (every `start` was matched by a `close`)."""
        return self._users == 0

    # --- what users read ------------------------------------------------------------------------

    # Read on every command: no lock (one attribute read each), unless following a parent.

    @property
    def master(self) -> Address | None:
        """The last known master (None until the first answer from the Sentinels)."""
        view = self._following()
        return self._state.master if view is None else view.master

    @property
    def promoting(self) -> bool:
        """Whether a replica is being promoted: writes to the current master would be lost."""
        view = self._following()
        return self._state.promoting if view is None else view.promoting

    @property
    def switches(self) -> int:
        """How many master switches the watcher has seen (the first master learnt is not one)."""
        view = self._following()
        return self._state.switches if view is None else view.switches

    @property
    def version(self) -> int:
        """A number that changes whenever the master, the switches or a promotion change.

        What a connection compares before each command: one read when nothing happened.
        """
        if self._parent.page is None:
            return self._version
        view = self._following()
        if view is None:
            return self._version
        return view.switches * 2 + view.promoting

    @property
    def follows_parent(self) -> bool:
        """Whether this is a forked child that reads its parent's watcher (and runs no thread).

        Nothing cuts such a child's connections when the master switches: they look for the
        switch themselves while they wait (`vedette.client.master`).
        """
        return self._parent.page is not None

    @property
    def sentinels(self) -> tuple[Address, ...]:
        """Every Sentinel watched: the configured ones and those learnt from discovery."""
        with self._lock:
            return self._listeners.addresses

    def wait_for_master(self, timeout: float) -> Address | None:
        """Wait up to ``timeout`` seconds until a master is known; return it (or None)."""
        view = self._following()
        if view is not None and view.master is not None:
            return view.master
        self._stop_following()
        self.ensure_running()
        with self._changed:
            self._changed.wait_for(
                lambda: self._state.master is not None or self._users == 0, timeout
            )
            return self._state.master

    def wait_until_not_promoting(self, end: float) -> None:
        """Block while a promotion is under way, until the monotonic time ``end`` at most."""
        while self.promoting and time.monotonic() < end:
            if self._parent.page is not None:
                time.sleep(0.01)  # the parent's watcher changes the page: nothing to wait on
                continue
            with self._changed:
                if not self._state.promoting or not self._users:
                    return
                self._changed.wait(end - time.monotonic())

    def subscribe(self, callback: Callback, *, follow_parent: bool = False) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on; returns a function to stop.

        Callbacks run one at a time on the watcher's dispatcher thread, in event order. An
        exception in a callback is logged and does not stop the others. In a forked child, this
        starts the child's own watcher (if it is held): events are not shared across processes.

        Args:
            callback: Called with each event.
            follow_parent: In a forked child that follows its parent's watcher, keep following
                it (no thread, no connection of its own): ``callback`` is called only from when
                this process runs its own watcher. Vedette's clients subscribe so: in such a
                child their connections look for a switch themselves.
        """
        with self._lock:
            self._callbacks.append(callback)
        if self._parent.page is not None and not follow_parent:
            self._stop_following()
            self.ensure_running()

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
        self._stop_following()
        self.ensure_running()
        stream = EventStream(self, timeout)
        with self._lock:
            if self._users == 0:
                stream._finish()
            else:
                self._streams.append(stream)
        return stream

    # --- following a parent's watcher (in a forked child) ----------------------------------------

    def _following(self) -> View | None:
        """The parent's view, while this is a forked child following it; else None."""
        parent = self._parent
        if parent.page is None:
            return None
        view = parent.read()
        if view is None:  # the parent's watcher stopped, or the parent is gone
            self._stop_following()
        return view

    def _stop_following(self) -> None:
        """Carry on from the parent's last view, with this process's own watcher from now on."""
        last = self._parent.stop()
        self.discovery.threadless = False
        if last is not None:
            with self._lock:
                self._state.master, self._state.switches = last.master, last.switches
                # Past every version read from the parent: connections notice the change.
                self._version = max(self._version, last.switches * 2 + last.promoting) + 1

    def _publish_view(self, *, running: bool) -> None:
        """Write the state for the children this process forks (the lock is held)."""
        state = self._state
        self._view.write(
            running=running,
            master=state.master,
            switches=state.switches,
            promoting=state.promoting,
        )

    def _forget(self, stream: EventStream) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    def learn(self, topology: Topology, *, every_sentinel: bool = False) -> None:
        """Take in what a lookup found: a switch it shows is published (a reconciliation).

        A topology naming a master this watcher has since seen replaced is older news, ignored.

        Args:
            topology: What `Discovery.discover` returned.
            every_sentinel: Whether every Sentinel's answer went into it. Only then can it tell
                that a failover ended (the leader alone reports one under way) or that a master
                is no longer down; a lookup that stopped at a majority tells a switch only.
        """
        self._learn(topology, complete=every_sentinel)

    def _learn(self, topology: Topology, *, complete: bool, since: int | None = None) -> None:
        def change(now: datetime) -> FailoverEvent | None:
            # Under the lock, so that no notification lands between the checks and the change.
            if since is not None and since != self._version:
                self._reconcile_now.set()  # the state changed while asking: ask again
                return None
            if self.discovery.is_stale(topology.master, topology.config_epoch):
                return None
            return self._state.on_topology(topology, now, complete=complete)

        self._apply(change)

    # --- threads --------------------------------------------------------------------------------

    def _thread(self, role: str, target: Callable[..., None], *args: object) -> threading.Thread:
        """A named daemon thread, recorded for close(); the lock is held."""
        thread = threading.Thread(
            target=target,
            args=args,
            name=f"vedette-watcher-{self.config.service_name}-{role}",
            daemon=True,
        )
        self._threads.append(thread)
        return thread

    def _run(self) -> None:
        """The reconciler thread: start the others, then reconcile until stopped."""
        self._report.started()
        stopping, outbox = self._stopping, self._outbox
        with self._lock:
            if stopping.is_set():
                return
            dispatcher = self._thread("dispatcher", self._dispatch, outbox)
        dispatcher.start()
        for address in self.config.sentinels:
            self._watch(address, stopping)
        self._reconcile_loop(stopping)

    def _watch(self, address: Address, stopping: threading.Event) -> None:
        self._listeners.watch(address, stopping, _Heard(self))

    def _reconcile_loop(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            interval = _PROMOTION_RECONCILE if self.promoting else self.config.reconcile_interval
            self._reconcile_now.wait(interval)
            self._reconcile_now.clear()
            if stopping.is_set():
                return
            try:
                self._reconcile(stopping)
            except Exception:
                if stopping.is_set():
                    return  # closed meanwhile: what closing cut short is no failure
                logger.exception(
                    "service %r: reconciliation failed; trying again later",
                    self.config.service_name,
                )

    def _dispatch(self, outbox: queue.Queue[FailoverEvent | None]) -> None:
        while True:
            event = outbox.get()
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

    # --- news -----------------------------------------------------------------------------------

    def _on_notification(
        self, sentinel: Address, channel: str, payload: str
    ) -> FailoverEvent | None:
        notice = parse_notice(channel, payload, self.config.nat)
        if notice is None:
            return None
        return self._apply(lambda now: self._state.on_notice(sentinel, notice, now))

    def _sentinel_state(self, address: Address, *, up: bool, reason: str = "") -> None:
        before = self._all_lost()
        self._apply(lambda now: self._state.on_sentinel(address, up=up, reason=reason, now=now))
        after = self._all_lost()
        self._report.sentinels(self._reachable())
        service = self.config.service_name
        if after and not before:
            master = self._state.master
            fields = {
                "event": "sentinels_lost",
                "service": service,
                "master": master and str(master),
            }
            if master is None:
                logger.warning(
                    "service %r: no Sentinel is reachable, and no master was ever known: "
                    "clients cannot connect until one answers",
                    service,
                    extra=fields,
                )
            else:
                logger.warning(
                    "service %r: no Sentinel is reachable; clients keep using the last known "
                    "master %s until one answers (a failover meanwhile would go unnoticed)",
                    service,
                    master,
                    extra=fields,
                )
        elif before and not after:
            logger.warning(
                "service %r: Sentinels reachable again",
                service,
                extra={"event": "sentinels_back", "service": service},
            )

    def _reachable(self) -> int:
        """How many of the Sentinels watched this watcher is subscribed to."""
        with self._lock:
            watched = self._listeners.addresses
        return sum(self._state.sentinel_up(a) is True for a in watched)

    def _all_lost(self) -> bool:
        """Whether every Sentinel watched has been tried and is unreachable."""
        with self._lock:
            watched = self._listeners.addresses
        return bool(watched) and all(self._state.sentinel_up(a) is False for a in watched)

    def _apply(self, change: Callable[[datetime], FailoverEvent | None]) -> FailoverEvent | None:
        """Apply a change to the state under the lock; publish the event it makes, if any."""
        now = datetime.now(timezone.utc)
        with self._lock:
            before = (self._state.master, self._state.switches, self._state.promoting)
            event = change(now)
            if event is not None or before != (
                self._state.master,
                self._state.switches,
                self._state.promoting,
            ):
                self._version += 1
                self._changed.notify_all()
                changed = True
            else:
                changed = False
            if isinstance(event, MasterSwitched):
                # Before anyone hears of it: from now on a lookup refuses the old master.
                self.discovery.note_switch(event.old, event.new)
            if self._running_in == os.getpid():
                self._publish_view(running=True)
            first_master = before[0] is None and self._state.master is not None
        if changed:
            self.wakers.ring()
        if first_master:
            # Not a switch, but news all the same for a retry pausing in a process that started
            # while the master was down (a spawned work horse): it must not sleep its backoff out.
            state.switch_signal.notify()
        if event is not None:
            self._publish(event)
        return event

    def _publish(self, event: FailoverEvent) -> None:
        if isinstance(event, MasterSwitched):
            state.switch_signal.notify()
        self._outbox.put(event)
        self._report.published(event)  # told and counted once those waiting for it know

    def _reconcile(self, stopping: threading.Event) -> None:
        """Ask the Sentinels who the master is; publish a switch the notifications missed."""
        with self._lock:
            version = self._version
            failing_over = self._state.failing_over
        try:
            topology = self.discovery.discover(every_sentinel=failing_over)
        except VedetteError as error:
            logger.debug(
                "service %r: reconciliation found no master: %s", self.config.service_name, error
            )
            return
        for address in topology.sentinels:
            self._watch(address, stopping)
        # A notification that changed the state while the Sentinels were asked is newer news.
        self._learn(topology, complete=failing_over, since=version)


class _Heard:
    """The watcher as its listeners see it (a `vedette.sentinel.listeners.ListenerOwner`).

    One per listener, held by its thread while it runs (as the thread's bound method did): one
    kept by the watcher would make a reference cycle, and a watcher nobody uses would wait for
    the garbage collector to be freed.
    """

    __slots__ = ("_watcher",)

    def __init__(self, watcher: FailoverWatcher) -> None:
        self._watcher = watcher

    def on_notice(self, sentinel: Address, channel: str, payload: str) -> None:
        self._watcher._on_notification(sentinel, channel, payload)

    def on_sentinel(self, sentinel: Address, *, up: bool, reason: str = "") -> None:
        self._watcher._sentinel_state(sentinel, up=up, reason=reason)

    def reconcile_soon(self) -> None:
        self._watcher._reconcile_now.set()


# Settings that shape what a client does with the master, not how the service is watched: two
# configurations that differ only in these (a Celery broker on db 0, its results on db 1 with
# Celery's 120 s redis_socket_timeout) share one watcher, so that a forked child follows its
# parent's for both. The watcher's lookups check a master candidate with the default timeouts.
_NOT_WATCHED = (
    "db",
    "socket_timeout",
    "socket_connect_timeout",
    "wait_replicas",
    "wait_timeout",
    "retry_deadline",
)


def shared_watcher(config: SentinelConfig) -> FailoverWatcher:
    """The watcher every pool of ``config``'s service uses in this process.

    One per Sentinel service and way to reach it: configurations that differ only in what the
    clients do on the master (``db``, ``socket_timeout``, ``socket_connect_timeout``,
    ``wait_replicas``, ``wait_timeout``, ``retry_deadline``) share it. It is not started: hold
    it with `FailoverWatcher.start` (or ``with``) while you need its events, and let go with
    `FailoverWatcher.close`; it stops when nobody holds it.

    Examples:
        >>> watcher = vedette.shared_watcher(config)  # doctest: +SKIP
        >>> with watcher:
        ...     unsubscribe = watcher.subscribe(on_event)
    """
    key = _watched(config)
    watcher = state.watchers.get(key)
    if watcher is None:
        # setdefault is one atomic step: racing callers agree on one watcher, without a lock
        # (a lock here could be inherited held by a forked child).
        watcher = state.watchers.setdefault(key, FailoverWatcher(key))
    return watcher


def _watched(config: SentinelConfig) -> SentinelConfig:
    """``config`` with the settings a watcher does not use set to their defaults."""
    defaults: dict[str, Any] = {
        spec.name: spec.default for spec in dataclasses.fields(SentinelConfig)
    }
    return dataclasses.replace(config, **{name: defaults[name] for name in _NOT_WATCHED})
