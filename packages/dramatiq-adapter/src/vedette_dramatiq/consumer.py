"""`SentinelConsumer`: Dramatiq's Redis consumer, reconciled with the server after a failover.

It fetches, acknowledges, rejects and requeues with Dramatiq's own script and key layout, and
adds what a failover needs:

- **A fetch whose reply was lost** (`vedette.OutcomeUnknownError`: the master died after
  popping) is not an error that restarts the consumer 3 s later: the next call reconciles, and
  the messages the fetch moved into this worker's acknowledgement set are delivered here, once.
- **After every master switch** the acknowledgement set on the new master is compared with what
  this worker holds (`Ledger`): an acknowledgement, rejection or requeue the old master did not
  replicate is done again; a message the worker holds that the switch put back in the queue is
  taken back out of it, so that no other worker runs it too.
- **Acknowledgements, rejections and requeues** are retried through the failover, a lost reply
  included (they may run twice: `vedette_dramatiq.scripts`), instead of failing into Dramatiq's
  retry loop.

Messages it holds are therefore never requeued behind its back and never stranded in its
acknowledgement set until the 60 s heartbeat timeout after the worker's death.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, cast

import redis
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import compute_backoff
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

import vedette
import vedette.metrics
from vedette_dramatiq.following import following
from vedette_dramatiq.ledger import Finish

__all__ = ["SentinelConsumer"]

_log = logging.getLogger(__name__)


class SentinelConsumer(Consumer):
    """Consumes one queue of a broker that follows a Sentinel service (see the module)."""

    def __init__(
        self, broker: RedisBroker, queue_name: str, prefetch: int = 1, timeout: int = 5000
    ) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.prefetch = prefetch
        self.timeout = timeout
        self._state = following(broker)
        self._ledger = self._state.ledger(queue_name)
        watcher = vedette.watcher_of(broker.client)
        if watcher is None:
            raise vedette.ConfigurationError(
                "broker", "a SentinelConsumer needs a broker whose client is a Vedette one"
            )
        self._watcher = watcher
        self._resume = self._state.resume_clock(watcher)
        self._switches = self._watcher.switches
        # A consumer that replaces one after an error reconciles first: its predecessor may
        # have lost a fetch's reply.
        self._reconcile_due = True
        self._cache: list[Message[Any]] = []
        self._misses = 0
        queue = f"{broker.namespace}:{queue_name}"
        self._queue_key = queue
        self._messages_key = f"{queue}.msgs"
        self._acks_key = f"{broker.namespace}:__acks__.{broker.broker_id}.{queue_name}"

    @property
    def outstanding_message_count(self) -> int:
        """Messages fetched for this queue in this process and not yet finished."""
        return len(self._ledger)

    def __next__(self) -> MessageProxy | None:
        try:
            if self._reconcile_due or self._switches != self._watcher.switches:
                self._reconcile()
            if not self._cache and len(self._ledger) < self.prefetch:
                self._cache = self._fetch(self.prefetch - len(self._ledger))
        except vedette.OutcomeUnknownError as error:
            _log.warning("queue %r: %s; reconciling with the new master", self.queue_name, error)
            self._reconcile_due = True
            return None
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise dramatiq_error(error) from None
        if self._cache:
            self._misses = 0
            self._resume.received()
            return MessageProxy(self._cache.pop(0))
        # Nothing to do: poll again, less often while the queue stays empty (Dramatiq's pace).
        self._misses, backoff_ms = compute_backoff(self._misses, max_backoff=self.timeout)
        time.sleep(backoff_ms / 1000)
        return None

    def ack(self, message: MessageProxy) -> None:
        """Acknowledge a processed message, through a failover."""
        self._finish([message.options["redis_message_id"]], "ack")

    def nack(self, message: MessageProxy) -> None:
        """Move a failed message to the dead-letter queue, through a failover."""
        self._finish([message.options["redis_message_id"]], "nack")

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        """Put messages this worker will not process back in the queue (worker shutdown)."""
        ids = [message.options["redis_message_id"] for message in messages]
        if ids:
            self._finish(ids, "requeue")

    def close(self) -> None:
        """Give back the messages fetched and not handed out yet."""
        cached, self._cache = self._cache, []
        if cached:
            self._finish([message.options["redis_message_id"] for message in cached], "requeue")

    # --- the server ------------------------------------------------------------------------------

    def _fetch(self, count: int) -> list[Message[Any]]:
        """Up to ``count`` messages, popped into this worker's acknowledgement set."""
        fetched = self.broker.do_fetch(self.queue_name, count)
        messages = [Message.decode(data) for data in fetched if data is not None]
        if len(messages) < len(fetched):
            self._reconcile_due = True  # ids whose data is gone: the reconciliation drops them
        self._ledger.hold(message.options["redis_message_id"] for message in messages)
        return messages

    def _finish(self, ids: list[str], how: Finish) -> None:
        command = getattr(self.broker, f"do_{how}")
        try:
            vedette.ensure_call(
                command,
                self.queue_name,
                *ids,
                deadline=self._state.config.retry_deadline,
                idempotent=True,
            )
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise dramatiq_error(error) from None
        self._ledger.finish(ids, how)

    def _reconcile(self) -> None:
        """Make this worker's acknowledgement set on the master agree with what it holds."""
        switches = self._watcher.switches
        client = self.broker.client
        # The set first, the ledger after: an id finished in between is then in both, and
        # finishing it again does nothing.
        members = {_text(member) for member in client.smembers(self._acks_key)}
        held, finished = self._ledger.snapshot()
        reconciled = 0
        for redis_id in sorted(members - held):
            how = finished.get(redis_id)
            if how is not None:  # finished, but the old master did not replicate it
                self._finish([redis_id], how)
                reconciled += 1
        orphans = sorted(members - held - finished.keys())
        if orphans:  # a fetch whose reply was lost: they are this worker's to run
            found = cast("list[bytes | None]", client.hmget(self._messages_key, orphans))
            adopted = [Message.decode(data) for data in found if data is not None]
            gone = [redis_id for redis_id, data in zip(orphans, found, strict=True) if data is None]
            if gone:
                client.srem(self._acks_key, *gone)
            self._ledger.hold(message.options["redis_message_id"] for message in adopted)
            self._cache.extend(adopted)
            reconciled += len(orphans)
            _log.warning(
                "queue %r: %d messages fetched for this worker whose reply was lost are "
                "delivered now",
                self.queue_name,
                len(adopted),
            )
        for redis_id in sorted(held - members):  # perhaps back in the queue: take it back
            self._state.claim_script([self._queue_key, self._acks_key], [redis_id])
            reconciled += 1
        if reconciled:
            vedette.metrics.DRAMATIQ_RECONCILIATIONS.add(
                reconciled, service=self._state.config.service_name, queue=self.queue_name
            )
        self._switches = switches
        self._reconcile_due = False


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def dramatiq_error(error: redis.ConnectionError | redis.TimeoutError) -> ConnectionClosed:
    """A connection Vedette could not heal within ``retry_deadline``, as Dramatiq's error.

    Dramatiq's worker restarts a consumer that raises ``ConnectionClosed`` (after 3 s), and
    nothing else: the one place this adapter turns a core error into Dramatiq's. A reply lost
    to a failover (`vedette.OutcomeUnknownError`) never comes here: the consumer reconciles.
    """
    return ConnectionClosed(error)
