"""How long commands waited through a failover, per process and service: one observation each.

A failover makes many commands wait at once: held while a replica is promoted, or failing and
retried until the new master answers. What an operator wants is the pause itself, once: from
the first command that could not run to the first that ran again once the master switched.
`PauseClock` opens a pause when a command starts waiting (if none is open) and closes it when a
waiting command runs after the master switched, observing ``vedette.failover.held``. A wait no
switch ended (a connection reset, a command cut by the switch just after it) is not a failover's
pause: it is dropped once no command waits any more.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from vedette.metrics.instruments import FAILOVER_HELD
from vedette.process.reentry import CalledBack, OwnedLock
from vedette.process.state import restart_after_fork, state

__all__ = ["PauseClock", "held", "pause_clock"]


class Counted(Protocol):
    """A watcher, as the clock reads it: how many switches it has seen."""

    @property
    def switches(self) -> int: ...


def _any_switch() -> int:
    return state.switch_signal.count


class PauseClock:
    """The pause commands of one service are in, in this process (see the module).

    Each waiting command calls `waiting` once, then `ended` once.

    Args:
        service: The service, as the metric's label.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.switches: Callable[[], int] = _any_switch
        """How many master switches this process has seen (see `follow`)."""
        self._lock = OwnedLock()
        self._waiting = 0  # commands waiting now
        self._opened: float | None = None  # monotonic time the pause began
        self._switches = 0  # ... and the switches seen then

    def follow(self, watcher: Counted) -> None:
        """Count the switches ``watcher`` sees.

        Its count changes together with the end of a promotion; the process's switch signal
        hears of the switch a moment later.
        """
        ref = weakref.ref(watcher)

        def switches() -> int:
            followed = ref()
            return state.switch_signal.count if followed is None else followed.switches

        self.switches = switches

    def waiting(self, since: float) -> bool:
        """A command could not run from ``since`` (monotonic) on: it is held, or retried.

        Returns whether it was counted (then `ended` must follow); not in a finalizer run on a
        thread inside Vedette.
        """
        try:
            with self._lock:
                self._waiting += 1
                if self._opened is None:
                    self._opened, self._switches = since, self.switches()
        except CalledBack:
            return False
        return True

    def ended(self, *, ran: bool) -> None:
        """A waiting command ran (``ran``: the pause is over), or stopped waiting."""
        now = time.monotonic()
        opened: float | None = None
        try:
            with self._lock:
                self._waiting -= 1
                if ran and self._opened is not None and self.switches() != self._switches:
                    opened, self._opened = self._opened, None
                elif self._waiting == 0:
                    self._opened = None  # no switch ended it: a connection reset, say
        except CalledBack:
            return
        if opened is not None:
            FAILOVER_HELD.observe(now - opened, service=self.service)

    def _after_fork(self) -> None:
        # The parent's pause is the parent's: the child starts with none.
        self._lock = OwnedLock()
        self._waiting, self._opened = 0, None


_clocks: dict[str, PauseClock] = {}


def pause_clock(service: str) -> PauseClock:
    """The pause clock of ``service`` in this process."""
    clock = _clocks.get(service)
    if clock is None:
        clock = _clocks.setdefault(service, PauseClock(service))  # one, if two threads race
        restart_after_fork(clock)
    return clock


@contextmanager
def held(service: str) -> Iterator[None]:
    """Around a command held while a replica of ``service`` is promoted: time the pause."""
    clock = pause_clock(service)
    counted = clock.waiting(time.monotonic())
    ran = False
    try:
        yield
        ran = True
    finally:
        if counted:
            clock.ended(ran=ran)
