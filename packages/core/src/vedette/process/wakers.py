"""`Wakers`: callbacks that a thread rings when something others wait on has changed.

Threads wait on a `threading.Condition`; coroutines cannot. A coroutine that waits for the same
change (a master switch, the end of a promotion) registers a waker that schedules its wake-up on
its own event loop (`vedette.asyncio.waking`). Ringing never blocks and never raises: it runs on
the watcher's threads, under their locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

__all__ = ["Wakers"]

logger = logging.getLogger("vedette.watcher")


class Wakers:
    """A set of thread-safe callbacks, each called once per `ring`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # never held while a waker runs
        self._wakers: set[Callable[[], object]] = set()

    def add(self, waker: Callable[[], object]) -> Callable[[], None]:
        """Call ``waker()`` on every ring from now on; returns a function that removes it."""
        with self._lock:
            self._wakers.add(waker)

        def remove() -> None:
            with self._lock:
                self._wakers.discard(waker)

        return remove

    def ring(self) -> None:
        """Call every waker (on the ringing thread); a waker that fails is logged, not raised."""
        if not self._wakers:  # one read: nothing registered is the common case
            return
        with self._lock:
            wakers = list(self._wakers)
        for waker in wakers:
            try:
                waker()
            except Exception:
                logger.exception("waking %r failed", waker)

    async def until(
        self, condition: Callable[[], bool], timeout: float | None, *, poll: float | None = None
    ) -> bool:
        """In a coroutine: wait until ``condition()`` holds, checking it each time this rings.

        The event loop runs meanwhile: a ring from another thread schedules the check on it.

        Args:
            condition: What to wait for; cheap, and safe to call on the loop.
            timeout: Seconds to wait at most; None for as long as it takes.
            poll: Also check every ``poll`` seconds (what changes may ring nothing: a parent's
                watcher, read from shared memory by a forked child).

        Returns:
            Whether ``condition()`` held before ``timeout``.
        """
        if condition():
            return True
        loop = asyncio.get_running_loop()
        rung = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(rung.set)

        remove = self.add(wake)
        end = None if timeout is None else loop.time() + timeout
        try:
            while True:
                rung.clear()
                if condition():  # after clear(): a ring from now on is not missed
                    return True
                wait = None if end is None else end - loop.time()
                if wait is not None and wait <= 0:
                    return False
                if poll is not None:
                    wait = poll if wait is None else min(wait, poll)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(rung.wait(), wait)
        finally:
            remove()

    def after_fork(self) -> None:
        """In a forked child: no waker of the parent's event loops is ours."""
        self._lock = threading.Lock()
        self._wakers = set()
