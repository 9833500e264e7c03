"""The schedule store's dispatcher for Dramatiq: a run becomes a message, its id the run's id.

Registered as ``dramatiq`` in the ``vedette.dispatchers`` entry-point group, so ``vedette beat``
sends entries whose ``target.framework`` is ``"dramatiq"`` here: a message to the actor named
``target.name`` on ``target.queue`` (``default`` if none), with ``target.options`` as the
message's options (``max_retries``, ``time_limit`` ...). The actor need not be importable where
the scheduler runs: the message names it, as ``send`` would.
"""

from __future__ import annotations

import time

import dramatiq
from dramatiq import Message

from vedette.schedule import Dispatcher, Run
from vedette_dramatiq.broker import SentinelBroker

__all__ = ["DramatiqDispatcher", "dispatcher"]


class DramatiqDispatcher(Dispatcher):
    """Enqueues each run as a Dramatiq message whose ``message_id`` is the run's id.

    Dramatiq's Redis broker keeps a message under an id of its own, so whether a recovered run
    was sent cannot be told: it is sent again, with the same ``message_id`` (`Dispatcher`).
    """

    def __init__(self, broker: dramatiq.Broker) -> None:
        """Send runs through ``broker`` (a `SentinelBroker`, to follow the master)."""
        self.broker = broker

    def dispatch(self, run: Run) -> None:
        """Enqueue a message to the run's actor with its arguments, under the run's id."""
        target = run.entry.target
        message: Message[object] = Message(
            queue_name=target.queue or "default",
            actor_name=target.name,
            args=tuple(target.args),
            kwargs=dict(target.kwargs),
            options=dict(target.options),
            message_id=run.id,
            message_timestamp=int(time.time() * 1000),
        )
        self.broker.enqueue(message)

    def close(self) -> None:
        """Close the broker's connections."""
        self.broker.close()


def dispatcher(url: str) -> DramatiqDispatcher:
    """The entry point: a dispatcher on the service of a ``redis+sentinel://`` URL."""
    return DramatiqDispatcher(SentinelBroker(url=url))
