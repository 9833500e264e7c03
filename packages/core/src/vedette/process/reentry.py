"""Code called back on a thread that is inside Vedette: finalizers, ``__del__``, the collector.

Python may run other code in the middle of any allocation: the garbage collector, and with it
every finalizer and ``__del__`` of what it frees. Celery's ``AsyncResult.__del__`` unsubscribes
through the result backend's client, so a Vedette client can be used on a thread that is, at that
very moment, inside Vedette: holding a lock, or waiting for the answer to a lookup it asked for.
Waiting there for that lock or that answer would wait forever (it is the thread's own).

So this module tells such *called back* code apart, and the locks it could meet refuse to wait:

- `OwnedLock`: a lock that knows its holder; the holder's thread acquiring it again raises
  `CalledBack` instead of blocking (a plain lock would deadlock, a reentrant one would let the
  callback see half-made changes).
- `inside`: marks a stretch where the thread waits on Vedette (a lookup in flight).
- `called_back()`: whether this thread is inside Vedette (holding an `OwnedLock`, or in an
  `inside` stretch), collecting garbage, or the interpreter is exiting. Called-back code then
  finds the master on its own thread (no waiting for other threads, no asking threads, no
  shared locks) under a short deadline (`CALLED_BACK_DEADLINE`).
- `later`: work a finalizer starts that takes Vedette's locks and may wait for threads (a
  client dropped, its watcher stopped): run once this thread is outside Vedette again, or on
  a thread of its own, never in the middle of the code the finalizer interrupted.
"""

from __future__ import annotations

import gc
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from vedette.errors import VedetteError

__all__ = ["CALLED_BACK_DEADLINE", "CalledBack", "OwnedLock", "called_back", "inside", "later"]

logger = logging.getLogger(__name__)

CALLED_BACK_DEADLINE = 1.0
"""Seconds called-back code may spend retrying: it holds up the thread it interrupted."""


class CalledBack(VedetteError, RuntimeError):
    """Code run by a finalizer needed what its own thread holds; it gives up instead of waiting.

    Not retried: retrying would wait for the same thread. The interrupted code goes on.
    """


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.depth = 0  # OwnedLocks held, and `inside` stretches, on this thread
        self.collecting = False  # the garbage collector runs on this thread


_state = _ThreadState()


def called_back() -> bool:
    """Whether code running now interrupted this thread inside Vedette, or in a collection.

    Also at interpreter exit (a ``__del__`` run as modules are torn down): no thread can start
    then, so no other thread may be waited for either.
    """
    return _state.depth > 0 or _state.collecting or sys.is_finalizing()


@contextmanager
def inside() -> Iterator[None]:
    """Mark a stretch where this thread waits on Vedette (other threads, a lookup's answer)."""
    _state.depth += 1
    try:
        yield
    finally:
        _leave()


# Work put off by finalizers that ran on a thread inside Vedette: the first thread to leave
# Vedette (`_leave`) runs it. A SimpleQueue: its put() may be called from a finalizer.
_later: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()


def later(work: Callable[[], object], name: str) -> None:
    """Run ``work``, started by a finalizer, where it cannot wait for its own thread.

    Inside Vedette, this thread runs it as it leaves (a lock it holds may be one ``work`` takes);
    otherwise a thread called ``name`` runs it (the collector may have interrupted any code). At
    interpreter exit, nothing runs it: no thread can start, and the process's sockets and
    daemon threads end with it.
    """
    if _state.depth > 0:
        _later.put(work)
    elif not sys.is_finalizing():
        threading.Thread(target=_run, args=(work,), name=name, daemon=True).start()


def _leave() -> None:
    """This thread leaves one Vedette stretch; leaving the last, it runs what was put off."""
    _state.depth -= 1
    if _state.depth == 0 and not _state.collecting:
        while not _later.empty():
            try:
                work = _later.get_nowait()
            except queue.Empty:  # another thread took it
                return
            _run(work)


def _run(work: Callable[[], object]) -> None:
    try:
        work()
    except Exception:  # put-off cleanup must not break the code it ran after
        logger.warning("cleanup put off by a finalizer failed", exc_info=True)


class OwnedLock:
    """A lock whose holder's thread may not acquire it again: that raises `CalledBack`.

    Usable with ``with`` and as the lock of a ``threading.Condition``.
    """

    __slots__ = ("_lock", "_owner")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire; raises `CalledBack` if this thread holds it already."""
        me = threading.get_ident()
        if self._owner == me:
            raise CalledBack(
                "a Vedette client was used by a finalizer (or signal handler) on a thread "
                "that was inside Vedette; not waiting for that thread itself"
            )
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner = me
        _state.depth += 1
        return True

    def release(self) -> None:
        """Release (by the holder)."""
        self._owner = None
        self._lock.release()
        _leave()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    # What threading.Condition asks of its lock, so that its wait() hands the lock over.

    def _is_owned(self) -> bool:
        return self._owner == threading.get_ident()

    def _release_save(self) -> None:
        self.release()

    def _acquire_restore(self, state: Any) -> None:
        self.acquire()


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    _state.collecting = phase == "start"


def after_fork() -> None:
    """In a forked child (`vedette.process.state`): no thread is inside Vedette, nothing put off."""
    # The forking thread's count came along; the locks it held were replaced by their owners.
    _state.depth = 0
    _state.collecting = False
    global _later
    _later = queue.SimpleQueue()  # the parent's put-off work is the parent's


gc.callbacks.append(_on_collection)
