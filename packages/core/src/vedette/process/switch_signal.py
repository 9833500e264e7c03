"""The signal that some watcher of this process saw the master switch.

`ensure_call` sleeps between attempts on it, so a retry starts as soon as any
`FailoverWatcher` in the process learns of the new master instead of when its backoff ends.

A forked child that follows its parent's watcher (RQ's work horse, Celery's pool processes) has
no watcher thread to ring it: its watchers are *followed* here instead (`follow`), and a wait
reads their switch counts, which the parent writes to shared memory, every few milliseconds.

The process's one signal is ``vedette.process.state.state.switch_signal``.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Protocol

from vedette.process.wakers import Wakers

__all__ = ["MasterSwitchSignal"]

# How often a wait reads the switch counts of followed watchers (a parent's shared memory).
_FOLLOW_POLL = 0.01


class Counted(Protocol):
    """What a followed watcher offers: how many switches it has seen."""

    @property
    def switches(self) -> int: ...


class MasterSwitchSignal:
    """A counter of switches that threads can wait on."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._count = 0
        self._followed: weakref.WeakSet[Counted] = weakref.WeakSet()
        self.wakers = Wakers()
        """Rung on every switch: what wakes coroutines pausing between attempts."""

    def after_fork(self) -> None:
        """In a forked child: a new condition (the parent's may be held by a thread gone)."""
        # The followed watchers stay: a grandchild follows the same shared memory.
        self._condition = threading.Condition()
        self.wakers.after_fork()

    @property
    def follows_parent(self) -> bool:
        """Whether switches are read from a parent's watcher, which rings nothing here."""
        return bool(self._followed)

    @property
    def count(self) -> int:
        """Switches seen so far: pass it to `wait` to wait for the next one."""
        if not self._followed:
            return self._count  # one int read: atomic, no lock needed
        return self._count + sum(watcher.switches for watcher in list(self._followed))

    def follow(self, watcher: Counted) -> None:
        """Count the switches ``watcher`` sees without ringing (it follows a parent's watcher)."""
        self._followed.add(watcher)

    def notify(self) -> None:
        """Record a switch and wake every waiter."""
        with self._condition:
            self._count += 1
            self._condition.notify_all()
        self.wakers.ring()

    def wait(self, since: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a switch after ``since``; True if there was one."""
        if not self._followed:
            with self._condition:
                return self._condition.wait_for(lambda: self._count != since, max(0.0, timeout))
        end = time.monotonic() + timeout
        while self.count == since:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return False
            with self._condition:  # a watcher of this process still rings at once
                self._condition.wait(min(remaining, _FOLLOW_POLL))
        return True
