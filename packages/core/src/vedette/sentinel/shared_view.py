"""What a forked child reads of its parent's watcher, without threads of its own.

A worker that forks a child per job (RQ) would pay, in every child, for a watcher: threads,
three Sentinel subscriptions, a lookup. Instead, a running watcher writes what matters to its
clients (the master, how many switches it saw, whether a replica is being promoted) to one page
of memory shared with the children it will fork (an anonymous ``MAP_SHARED`` mapping survives
``fork()``). A child reads it before each command, so it follows a failover as soon as its
parent hears of it, and starts a watcher of its own only when it needs the events themselves or
its parent's watcher is gone.

The page is written under the watcher's lock and read without one: a sequence number, odd while
a write is in progress, tells a reader to read again (a seqlock).
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from dataclasses import dataclass

from vedette.address import Address

__all__ = ["SharedView", "View"]

# sequence, owner pid, switches, running, promoting, port, host length; then the host.
_HEADER = struct.Struct("<QqQ??HH")
_HOST_MAX = 255
_SIZE = mmap.PAGESIZE
# How often a reader checks that the owner of the page is still alive.
_OWNER_CHECK = 1.0


@dataclass(frozen=True, slots=True)
class View:
    """The watcher's state as last written."""

    master: Address | None
    switches: int
    promoting: bool


class SharedView:
    """One page shared with the forked children of the process that created it."""

    def __init__(self) -> None:
        self._page = mmap.mmap(-1, _SIZE)  # anonymous, shared with children on fork
        self._owner = os.getpid()
        self._owner_checked = 0.0

    @property
    def owned(self) -> bool:
        """Whether this process created the page (and may write it)."""
        return self._owner == os.getpid()

    def write(
        self, *, running: bool, master: Address | None, switches: int, promoting: bool
    ) -> None:
        """Publish the state (owner only; the caller serialises writes)."""
        host = (master.host if master is not None else "").encode()[:_HOST_MAX]
        port = master.port if master is not None else 0
        sequence = _HEADER.unpack_from(self._page)[0]
        self._page[:8] = struct.pack("<Q", sequence + 1)  # odd: a write is in progress
        _HEADER.pack_into(
            self._page, 0, sequence + 1, self._owner, switches, running, promoting, port, len(host)
        )
        self._page[_HEADER.size : _HEADER.size + len(host)] = host
        self._page[:8] = struct.pack("<Q", sequence + 2)

    def read(self) -> View | None:
        """The owner's state; None if its watcher stopped, or the owner process is gone."""
        for _ in range(1000):
            sequence, owner, switches, running, promoting, port, length = _HEADER.unpack_from(
                self._page
            )
            if sequence % 2:
                continue
            host = self._page[_HEADER.size : _HEADER.size + length].decode()
            if _HEADER.unpack_from(self._page)[0] != sequence:
                continue
            if not running or not self._owner_alive(owner):
                return None
            master = Address(host, port) if length else None
            return View(master=master, switches=switches, promoting=promoting)
        return None  # a writer died mid-write: the page cannot be trusted

    def _owner_alive(self, owner: int) -> bool:
        now = time.monotonic()
        if now - self._owner_checked < _OWNER_CHECK:
            return True
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, owned by someone else (pid reused): not our parent
            return False
        self._owner_checked = now
        return True
