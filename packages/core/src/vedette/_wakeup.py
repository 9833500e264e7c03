"""A process-wide signal that some watcher saw the master switch.

`ensure_call` sleeps between attempts on it, so a retry starts as soon as any
`FailoverWatcher` in the process learns of the new master instead of when its backoff ends.
It is the one piece of module state in Vedette: a counter and a condition, nothing else.
"""

from __future__ import annotations

import threading

from vedette._fork import restart_after_fork

__all__ = ["MasterSwitchSignal", "master_switched"]


class MasterSwitchSignal:
    """A counter of switches that threads can wait on."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._count = 0
        restart_after_fork(self)

    def _after_fork(self) -> None:
        self._condition = threading.Condition()

    @property
    def count(self) -> int:
        """Switches seen so far: pass it to `wait` to wait for the next one."""
        return self._count  # one int read: atomic, no lock needed

    def notify(self) -> None:
        """Record a switch and wake every waiter."""
        with self._condition:
            self._count += 1
            self._condition.notify_all()

    def wait(self, since: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a switch after ``since``; True if there was one."""
        with self._condition:
            return self._condition.wait_for(lambda: self._count != since, max(0.0, timeout))


master_switched = MasterSwitchSignal()
