"""`Lease`: which scheduler leads a store, with a fencing token that its writes are checked against.

A leader holds ``{prefix}:leader`` for ``duration`` seconds and renews it; the key's value is its
fencing token, ``<counter>:<owner>``, fresh at every acquisition. The store's claim script runs
only for the token the key holds, so a leader that lost its lease (paused, cut off, or replaced
after a Redis failover) cannot claim another run, even before it notices.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from vedette.errors import ConfigurationError
from vedette.schedule import _scripts
from vedette.schedule.store import ScheduleStore

__all__ = ["DEFAULT_LEASE", "Lease"]

DEFAULT_LEASE = 10.0
"""Seconds a leader's lease lasts without renewal: the longest a standby waits to take over."""


def default_owner() -> str:
    """A name for this scheduler, unique among the running ones: host, pid and a random part."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Lease:
    """One scheduler's view of the store's leadership."""

    def __init__(
        self, store: ScheduleStore, *, duration: float = DEFAULT_LEASE, owner: str | None = None
    ) -> None:
        """Hold (or wait for) the lease of ``store``.

        Args:
            store: The store led.
            duration: Seconds the lease lasts unless renewed (at least 0.1).
            owner: This scheduler's name in the token; host/pid/random by default.
        """
        if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0.1:
            raise ConfigurationError("lease", f"must be at least 0.1 seconds, not {duration!r}")
        self.store = store
        self.duration = float(duration)
        self.owner = owner or default_owner()
        self.token: str | None = None
        """The fencing token while this scheduler leads; None otherwise."""
        self._valid_until = 0.0
        self._acquire = store.client.register_script(_scripts.ACQUIRE)
        self._renew = store.client.register_script(_scripts.RENEW)
        self._release = store.client.register_script(_scripts.RELEASE)

    @property
    def millis(self) -> int:
        """The lease's duration in milliseconds."""
        return int(self.duration * 1000)

    @property
    def held(self) -> bool:
        """True while this scheduler holds a token that has not outlived its last renewal."""
        return self.token is not None and time.monotonic() < self._valid_until

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; True if this scheduler now leads."""
        started = time.monotonic()
        token = self._acquire(
            keys=[self.store.leader_key, self.store.fence_key], args=[self.owner, self.millis]
        )
        if not token:
            return False
        self.token = token.decode() if isinstance(token, bytes) else str(token)
        self._valid_until = started + self.duration
        return True

    def renew(self) -> bool:
        """Extend the lease; False (and the token dropped) if it is no longer this scheduler's."""
        if self.token is None:
            return False
        started = time.monotonic()
        if self._renew(keys=[self.store.leader_key], args=[self.token, self.millis]):
            self._valid_until = started + self.duration
            return True
        self.token = None
        return False

    def release(self) -> None:
        """Give the lease up at once, if this scheduler holds it, so a standby need not wait."""
        token, self.token = self.token, None
        if token is not None:
            self._release(keys=[self.store.leader_key], args=[token])

    def step_down(self) -> None:
        """Forget the token without telling Redis (it could not be reached)."""
        self.token = None
