"""After ``os.fork()``: the objects that own threads, locks or sockets start afresh in the child.

A forked child inherits the parent's memory but only the thread that called ``fork()``: a lock
another thread held at that moment stays held forever, and the watcher's listener threads do not
exist. Objects that own such things register here; in the child, before any other code runs,
each gets ``_after_fork()`` to replace its locks and forget its threads and sockets (never
closing or shutting down the parent's: the sockets are shared). What they *know* (the master,
the switches seen) is kept: the child starts from the parent's view, and its watcher starts on
first use.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["ForkAware", "restart_after_fork"]


class ForkAware(Protocol):
    """An object with state a forked child must replace."""

    def _after_fork(self) -> None: ...


_registered: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def restart_after_fork(owner: ForkAware) -> None:
    """Call ``owner._after_fork()`` in every child forked from now on (while ``owner`` lives)."""
    _registered.add(owner)


def _in_child() -> None:
    for owner in list(_registered):
        owner._after_fork()


if hasattr(os, "register_at_fork"):  # POSIX; on Windows there is no fork
    os.register_at_fork(after_in_child=_in_child)
