"""Everything Vedette keeps once per process, and the one path a forked child takes.

`state` (the one `ProcessState`) holds it all:

============================ ============================================ ==========================
What                         Why one per process                          In a forked child
============================ ============================================ ==========================
``watchers``                 one `FailoverWatcher` per watched service:   kept; each follows what
                             every pool of that service shares it         its parent's knew
``hubs``                     one `Hub` per configuration and watcher:     kept; each gets new locks
                             the master, the live connections             and forgets the parent's
                                                                          connections
``connection_classes``       a connection class bound to a configuration  kept (plain classes)
                             is made once, so pools compare equal
``switch_signal``            `ensure_call` pauses on it: any watcher's    a new condition; watchers
                             switch ends every pause                      the parent followed stay
``jitter``                   backoff randomness of Vedette's own          reseeded: children retry
                                                                          apart
objects registered with      discoveries, watchers, hubs: their threads,  each gets ``_after_fork``
`restart_after_fork`         locks and sockets are the parent's
the called-back state        `vedette.process.reentry`: threads inside    reset; put-off work
                             Vedette, work put off by finalizers          dropped (the parent's)
============================ ============================================ ==========================

A forked child inherits the parent's memory but only the thread that called ``fork()``: a lock
another thread held then stays held forever, and the watcher's threads do not exist. So before
any other code runs in the child, `ProcessState.after_fork` replaces locks and forgets threads
and sockets (never closing the parent's: the sockets are shared), keeping what was *known* (the
master, the switches seen). The threads Vedette runs are listed in docs/threads.md.
"""

from __future__ import annotations

import os
import random
import weakref
from typing import TYPE_CHECKING, Protocol

from vedette.process import reentry
from vedette.process.reentry import OwnedLock
from vedette.process.switch_signal import MasterSwitchSignal

if TYPE_CHECKING:  # for annotations only: the layers above register here, never the reverse
    from vedette.client.connection import SentinelConnection
    from vedette.client.hub import Hub
    from vedette.config.sentinel_config import SentinelConfig
    from vedette.sentinel.watcher import FailoverWatcher

__all__ = ["ForkAware", "ProcessState", "restart_after_fork", "state"]


class ForkAware(Protocol):
    """An object with threads, locks or sockets a forked child must replace."""

    def _after_fork(self) -> None: ...


class ProcessState:
    """What exists once per process; see the module for the table."""

    def __init__(self) -> None:
        self.watchers: dict[SentinelConfig, FailoverWatcher] = {}
        """The shared watcher of each watched configuration (`vedette.shared_watcher`)."""
        self.hubs: weakref.WeakValueDictionary[tuple[SentinelConfig, int], Hub] = (
            weakref.WeakValueDictionary()
        )
        """The hub of each configuration and watcher (by the watcher's id), while used."""
        self.hubs_lock = OwnedLock()
        """Taken to find or make a hub."""
        self.connection_classes: dict[
            tuple[type[SentinelConnection], SentinelConfig], type[SentinelConnection]
        ] = {}
        """Connection classes bound to a configuration, by base class and configuration."""
        self.switch_signal = MasterSwitchSignal()
        """Rung by every watcher on a switch; `ensure_call` pauses on it."""
        self.jitter = random.Random()
        """Backoff randomness: the application's `random` state is not Vedette's to move."""
        self._fork_aware: weakref.WeakSet[ForkAware] = weakref.WeakSet()

    def restart_after_fork(self, owner: ForkAware) -> None:
        """Call ``owner._after_fork()`` in every child forked from now on (while it lives)."""
        self._fork_aware.add(owner)

    def after_fork(self) -> None:
        """In a forked child, before any other code runs: start afresh (see the module)."""
        reentry.after_fork()
        self.hubs_lock = OwnedLock()
        self.switch_signal.after_fork()
        self.jitter.seed()
        for owner in list(self._fork_aware):
            owner._after_fork()

    def reset(self) -> None:
        """Forget every watcher, hub and bound class, and any switch seen (for tests).

        What is forgotten is not closed: whoever holds a watcher still closes it.
        """
        self.watchers.clear()
        self.hubs.clear()
        self.connection_classes.clear()
        self.switch_signal = MasterSwitchSignal()


state = ProcessState()
"""The one process state."""


def restart_after_fork(owner: ForkAware) -> None:
    """Call ``owner._after_fork()`` in every child forked from now on (while ``owner`` lives)."""
    state.restart_after_fork(owner)


if hasattr(os, "register_at_fork"):  # POSIX; on Windows there is no fork
    os.register_at_fork(after_in_child=state.after_fork)
