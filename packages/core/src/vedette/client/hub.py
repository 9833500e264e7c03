"""`Hub`: what one process shares for one Sentinel configuration.

Every pool and connection of a configuration in a process uses the same `Hub`: one watcher
(its events, its discovery), the master as last verified, and the live connections, so that a
switch reaches all of them at once. Connections built by a plain ``redis.ConnectionPool`` from a
Vedette connection class (as RQ rebuilds its scheduler's and its pool workers' connections) find
it too, by their configuration.

The master is known without asking the Sentinels most of the time: from the watcher (its first
reconciliation, then ``+switch-master``). The Sentinels are asked when it is not known, or when
connecting to it just failed, and concurrent callers share that one lookup. No lock is held
while asking: a forked child never inherits one held. Code called back on a thread inside
Vedette (a finalizer: `vedette.process.reentry`) never waits for that lookup, which may be its own
thread's: it asks on its own.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Protocol

from vedette.address import Address
from vedette.config.sentinel_config import SentinelConfig
from vedette.errors import SentinelsUnreachableError
from vedette.metrics.pauses import pause_clock
from vedette.process.reentry import OwnedLock, called_back, later
from vedette.process.state import restart_after_fork, state
from vedette.sentinel.events import FailoverEvent, MasterSwitched
from vedette.sentinel.watcher import FailoverWatcher, shared_watcher

if TYPE_CHECKING:
    from vedette.sentinel.discovery import Topology

__all__ = ["Hub"]

logger = logging.getLogger("vedette.client")


class Cuttable(Protocol):
    """A connection the hub can cut when the master switches."""

    @property
    def address(self) -> Address: ...

    def cut(self, *, before: int | None = None) -> None: ...


class PoolLike(Protocol):
    """A pool whose connection keyword arguments name the master."""

    @property
    def connection_kwargs(self) -> dict[str, object]: ...


class Hub:
    """The watcher, the master and the live connections of one configuration in this process.

    Use `Hub.of` to get it; see the module.
    """

    def __init__(self, config: SentinelConfig, watcher: FailoverWatcher) -> None:
        self.config = config
        self.watcher = watcher
        self.discovery = watcher.discovery
        self.writes: frozenset[str] | None = None
        """Names of the write commands (learnt with ``COMMAND`` when ``wait_replicas`` is set)."""
        self._holders = 0  # pools (and connections made without one) holding the watcher
        self._failed: Address | None = None  # a master connecting to which just failed
        self._sentinels_gone = False
        self._on_master = False  # replica connections fell back to the master
        self._turn = itertools.count()
        self._pools: weakref.WeakSet[PoolLike] = weakref.WeakSet()
        self.last_master: Address | None = None
        """The master as last verified or announced: written into the pools' keyword arguments."""
        self._fresh_locks()
        watcher.subscribe(self._on_event, follow_parent=True)
        pause_clock(config.service_name).follow(watcher)
        restart_after_fork(self)

    def _fresh_locks(self) -> None:
        self._lock = OwnedLock()  # a finalizer on a thread holding it must not wait for it
        self._looked_up = threading.Condition(self._lock)  # type: ignore[arg-type]  # as watcher
        self._looking = False
        self._finished = 0  # lookups finished
        self._failure: tuple[int, float, Exception] | None = None  # (number, when, error)
        self._masters: weakref.WeakSet[Cuttable] = weakref.WeakSet()
        self._replicas: weakref.WeakSet[Cuttable] = weakref.WeakSet()

    def _after_fork(self) -> None:
        # The connections registered are the parent's (its sockets): not ours to cut.
        self._fresh_locks()

    @classmethod
    def of(cls, config: SentinelConfig, watcher: FailoverWatcher | None = None) -> Hub:
        """The hub of ``config`` (with ``watcher``, default the shared one) in this process."""
        watcher = watcher or shared_watcher(config)
        key = (config, id(watcher))
        with state.hubs_lock:
            hub = state.hubs.get(key)
            if hub is None:
                hub = state.hubs[key] = cls(config, watcher)
            return hub

    # --- who keeps the watcher running --------------------------------------------------------

    def hold(self) -> None:
        """A pool (or a connection made without one) uses the hub: the watcher runs."""
        with self._lock:
            self._holders += 1
            first = self._holders == 1
        if first:
            self.watcher.start()

    def release(self) -> None:
        """One that held the hub is done with it; the watcher stops after the last.

        Called back (a client's ``__del__`` on a thread inside Vedette, which may hold the locks
        stopping takes), it is put off until this thread is outside Vedette (`later`).
        """
        if called_back():
            later(self._release, "vedette-release")
        else:
            self._release()

    def _release(self) -> None:
        with self._lock:
            self._holders -= 1
            last = self._holders == 0
        if last:
            self.watcher.close()

    def ensure_watching(self) -> None:
        """Before connecting: the watcher runs in this process (after a fork too)."""
        self.watcher.ensure_running()

    # --- pools and connections ---------------------------------------------------------------

    def add_pool(self, pool: PoolLike) -> None:
        """Keep ``pool.connection_kwargs`` naming the current master (``host``, ``port``)."""
        with self._lock:
            self._pools.add(pool)

    def master_is(self, master: Address) -> None:
        """The master is ``master`` now (verified, or announced): tell the pools."""
        if master == self.last_master:
            return
        self.last_master = master
        with self._lock:
            pools = list(self._pools)
        for pool in pools:
            kwargs = pool.connection_kwargs
            kwargs["host"], kwargs["port"] = master.host, master.port

    def register(self, connection: Cuttable, *, replica: bool) -> None:
        """Track ``connection`` so that a master switch can cut it."""
        with self._lock:
            (self._replicas if replica else self._masters).add(connection)

    def _on_event(self, event: FailoverEvent) -> None:
        """On a switch, cut what points at the wrong server (runs on the dispatcher thread)."""
        if not isinstance(event, MasterSwitched):
            return
        self._failed = None
        self.master_is(event.new)
        involved = {event.old, event.new}
        # Only connections made before this switch: one a command opened since (its owner saw
        # the switch first) is where it should be, whatever address was read here before.
        switches = self.watcher.switches
        with self._lock:
            masters, replicas = list(self._masters), list(self._replicas)
        for connection in masters:
            if connection.address != event.new:
                connection.cut(before=switches)
        for connection in replicas:
            if connection.address in involved:
                connection.cut(before=switches)

    # --- where to connect ---------------------------------------------------------------------

    def master_address(self) -> Address:
        """The master to connect to: the watcher's, or else the Sentinels' (verified by ROLE).

        With every Sentinel unreachable, the last known master is returned (and a warning
        logged once), so a Sentinel outage alone does not stop the application.

        Raises:
            MasterNotFoundError: None now (a failover is under way); retryable.
            SentinelsUnreachableError: No Sentinel answers and no master was ever known.
        """
        master = self.known_master()
        if master is not None:
            return master
        if called_back():  # by a finalizer, on a thread that may be the one looking: no waiting
            return self.discovery.discover().master
        with self._looked_up:
            self._raise_shared_failure(since=None)
            # Another thread is asking: its answer will do (and costs the Sentinels nothing).
            end = time.monotonic() + self._lookup_budget()
            while self._someone_looking() and time.monotonic() < end:
                finished = self._finished
                self._looked_up.wait(end - time.monotonic())
                if self._someone_looking():
                    continue
                master = self.watcher.master
                if master not in (None, self._failed):
                    assert master is not None
                    return master
                self._raise_shared_failure(since=finished)
            self._looking = True
        failure: Exception | None = None
        try:
            return self._discover().master
        except SentinelsUnreachableError as error:
            last = self.watcher.master or self._failed
            if last is None:
                failure = error
                raise
            if not self._sentinels_gone:
                logger.warning(
                    "service %r: no Sentinel is reachable; keeps using the last known master %s "
                    "until one answers",
                    self.config.service_name,
                    last,
                )
                self._sentinels_gone = True
            return last
        except Exception as error:
            failure = error
            raise
        finally:
            with self._looked_up:
                self._looking = False
                self._finished += 1
                if failure is not None:  # kept without its traceback (the frames it holds)
                    self._failure = (self._finished, time.monotonic(), _copy_of(failure))
                self._looked_up.notify_all()

    def _raise_shared_failure(self, *, since: int | None) -> None:
        """Raise (a copy of) the last lookup's failure, if this caller may share it.

        Callers that waited for a lookup share its failure (``since``: the lookups finished when
        they began waiting), and so do callers that come within ``min_backoff`` of it: however
        many threads or coroutines retry through an outage, the Sentinels are asked about
        ``1 / min_backoff`` times a second at most, not once per caller. The lock is held.
        """
        if self._failure is None or self.known_master() is not None:
            return
        number, ended, error = self._failure
        recent = time.monotonic() - ended < self.config.min_backoff
        if (since is not None and number > since) or (since is None and recent):
            raise _copy_of(error)

    def known_master(self) -> Address | None:
        """The master to connect to, if known without asking the Sentinels (no I/O, no wait)."""
        master = self.watcher.master
        return None if master is None or master == self._failed else master

    def failed(self, address: Address) -> None:
        """Connecting to ``address`` as the master failed: ask the Sentinels before reusing it."""
        self._failed = address

    def replica_address(self) -> tuple[Address, str]:
        """The next replica the Sentinels call healthy, or the master if none (and its role)."""
        topology = self.discovery.discover() if called_back() else self._discover()
        if not topology.replicas:
            if not self._on_master:
                logger.warning(
                    "service %r: no healthy replica; reading from the master %s",
                    self.config.service_name,
                    topology.master,
                )
                self._on_master = True
            return topology.master, "master"
        if self._on_master:
            logger.warning("service %r: reading from replicas again", self.config.service_name)
            self._on_master = False
        return topology.replicas[next(self._turn) % len(topology.replicas)], "slave"

    def _discover(self) -> Topology:
        topology = self.discovery.discover()
        if self._sentinels_gone:
            logger.warning("service %r: Sentinels reachable again", self.config.service_name)
            self._sentinels_gone = False
        self._failed = None
        self.watcher.learn(topology)  # a switch the watcher missed is published, once
        if not self.discovery.is_stale(topology.master, topology.config_epoch):
            self.master_is(topology.master)
        return topology

    def _someone_looking(self) -> bool:
        return self._looking  # read afresh each time (the lock is held by the caller)

    def _lookup_budget(self) -> float:
        """The longest a lookup can take: a connect and a read timeout, and some slack."""
        return self.config.sentinel_connect_timeout + self.config.sentinel_socket_timeout + 1


def _copy_of(error: Exception) -> Exception:
    """A copy of ``error`` to raise on another thread (a traceback is not shared across them).

    Made without calling ``__init__`` (Vedette's errors take keyword-only details); an error that
    cannot be copied so is shared as it is.
    """
    try:
        clone = type(error).__new__(type(error), *error.args)
        clone.__dict__.update(error.__dict__)
        clone.args = error.args
    except Exception:
        return error
    return clone
