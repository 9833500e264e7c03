"""The schedule store's dispatcher for RQ: a run becomes a job, its id the run's id.

Registered as ``rq`` in the ``vedette.dispatchers`` entry-point group, so ``vedette beat`` sends
entries whose ``target.framework`` is ``"rq"`` here. ``target.name`` is the function's dotted
path, ``target.queue`` the queue (``default`` if none), ``target.options`` the options of
``Queue.enqueue_call`` that JSON can carry (``timeout``, ``result_ttl``, ``ttl``,
``failure_ttl``, ``description``, ``at_front``, ``meta``).
"""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue
from rq.job import Job

from vedette.schedule import Dispatcher, Run
from vedette_rq.connection import connect

__all__ = ["RQDispatcher", "dispatcher"]

_OPTIONS = frozenset(
    {"timeout", "result_ttl", "ttl", "failure_ttl", "description", "at_front", "meta"}
)


class RQDispatcher(Dispatcher):
    """Enqueues each run as an RQ job whose id is the run's id."""

    def __init__(self, connection: redis.Redis) -> None:
        """Send runs over ``connection`` (`vedette_rq.connect`'s, to follow the master)."""
        self.connection = connection

    def dispatch(self, run: Run) -> None:
        """Enqueue the run's function with its arguments, under the run's id."""
        target = run.entry.target
        unknown = sorted(set(target.options) - _OPTIONS)
        if unknown:
            raise ValueError(f"target.options: RQ takes no option {unknown[0]!r} here")
        options: dict[str, Any] = dict(target.options)
        Queue(target.queue or "default", connection=self.connection).enqueue_call(
            target.name, args=target.args, kwargs=target.kwargs, job_id=run.id, **options
        )

    def dispatched(self, run: Run) -> bool:
        """Whether the run's job exists: RQ writes the job and queues it in one transaction.

        A job deleted since (a ``result_ttl`` of 0, or shorter than the lease) reads as not sent.
        """
        return bool(Job.exists(run.id, connection=self.connection))

    def close(self) -> None:
        """Close the connection's pool."""
        self.connection.close()


def dispatcher(url: str) -> RQDispatcher:
    """The entry point: a dispatcher on the service of a ``redis+sentinel://`` URL."""
    return RQDispatcher(connect(url))
