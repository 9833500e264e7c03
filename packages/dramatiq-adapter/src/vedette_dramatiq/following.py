"""A Dramatiq Redis broker's Vedette side: its client's watcher, its scripts, its ledgers.

`follow(broker, config)` gives any `RedisBroker` what `SentinelBroker` and `SentinelMiddleware`
need: the adapter's scripts registered on the broker's client and a `Ledger` per queue. It is
kept beside the broker (a weak mapping), not on it, so that a plain `RedisBroker` given to the
middleware gains no attributes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from dramatiq.brokers.redis import RedisBroker
from redis.commands.core import Script

import vedette
import vedette.metrics
from vedette_dramatiq.ledger import Ledger
from vedette_dramatiq.scripts import CLAIM, ENQUEUE_ONCE

__all__ = ["Following", "enqueue_once", "follow", "following"]


@dataclass
class Following:
    """What the adapter keeps for one broker."""

    config: vedette.SentinelConfig
    enqueue_script: Script
    claim_script: Script
    _ledgers: dict[str, Ledger] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _resume: vedette.metrics.ResumeClock | None = None

    def resume_clock(self, watcher: vedette.FailoverWatcher) -> vedette.metrics.ResumeClock:
        """The clock of the worker's resume time after a switch (one per broker, not queue)."""
        with self._lock:
            if self._resume is None:
                self._resume = vedette.metrics.ResumeClock(watcher, "dramatiq")
            return self._resume

    def ledger(self, queue_name: str) -> Ledger:
        """The ledger of ``queue_name`` (one per queue, shared by its consumers)."""
        with self._lock:
            return self._ledgers.setdefault(queue_name, Ledger())


_FOLLOWING: WeakKeyDictionary[RedisBroker, Following] = WeakKeyDictionary()


def follow(broker: RedisBroker, config: vedette.SentinelConfig) -> Following:
    """Register the adapter's scripts on ``broker.client`` (a Vedette client) and keep them."""
    state = Following(
        config=config,
        enqueue_script=broker.client.register_script(ENQUEUE_ONCE),
        claim_script=broker.client.register_script(CLAIM),
    )
    _FOLLOWING[broker] = state
    return state


def following(broker: RedisBroker) -> Following:
    """What `follow` kept for ``broker``.

    Raises:
        vedette.ConfigurationError: ``broker`` is neither a `SentinelBroker` nor one a
            `SentinelMiddleware` switched over.
    """
    try:
        return _FOLLOWING[broker]
    except KeyError:
        raise vedette.ConfigurationError(
            "broker",
            f"{type(broker).__name__} does not follow a Sentinel service: use "
            "vedette_dramatiq.SentinelBroker, or add a vedette_dramatiq.SentinelMiddleware",
        ) from None


def enqueue_once(broker: RedisBroker, queue_name: str, message_id: str, data: bytes) -> None:
    """Dramatiq's enqueue, made idempotent and retried through a failover (a lost reply too)."""
    state = following(broker)
    queue = f"{broker.namespace}:{queue_name}"
    vedette.ensure_call(
        state.enqueue_script,
        [queue, f"{queue}.msgs"],
        [message_id, data],
        deadline=state.config.retry_deadline,
        idempotent=True,
    )
