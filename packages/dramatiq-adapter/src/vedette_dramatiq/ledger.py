"""What a broker's consumers of one queue hold, so that a failover can be reconciled.

Dramatiq's Redis broker keeps, per broker and queue, an acknowledgement set on the server
(``<namespace>:__acks__.<broker id>.<queue>``): the messages fetched and not yet acknowledged.
A failover can make that set and the worker disagree:

- a fetch whose reply was lost put messages in the set that the worker never received;
- an acknowledgement, rejection or requeue the old master did not replicate is undone;
- a fetch the old master did not replicate put the messages it returned back in the queue.

The `Ledger` is the worker's side of that set: the messages it holds (fetched, not yet
finished) and the last ones it finished and how, shared by every consumer of the queue in the
process (Dramatiq acknowledges from worker threads, and replaces a consumer after an error while
its messages are still being processed). `vedette_dramatiq.consumer` compares the two after a
switch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Literal

__all__ = ["Finish", "Ledger"]

Finish = Literal["ack", "nack", "requeue"]
"""How a held message was let go: the name of the broker's command that did it."""

# Finished messages remembered, per queue: far more than a failover's worth.
_REMEMBERED = 10_000


class Ledger:
    """The Redis ids of the messages held by a broker's consumers of one queue (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._finished: OrderedDict[str, Finish] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, ids: Iterable[str]) -> None:
        """Note messages fetched for this worker."""
        with self._lock:
            self._held.update(ids)

    def finish(self, ids: Iterable[str], how: Finish) -> None:
        """Note messages acknowledged, rejected or requeued (``how``) on the server."""
        with self._lock:
            for redis_id in ids:
                self._held.discard(redis_id)
                self._finished[redis_id] = how
                self._finished.move_to_end(redis_id)
            while len(self._finished) > _REMEMBERED:
                self._finished.popitem(last=False)

    def snapshot(self) -> tuple[set[str], dict[str, Finish]]:
        """The held ids, and the finished ones with how, at one instant."""
        with self._lock:
            return set(self._held), dict(self._finished)
