"""What RQ left on the master after a stream: jobs not run, or not run right."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

import vedette
from vedette.testing import SentinelCluster

__all__ = ["left_over", "master_client"]


@contextmanager
def master_client(cluster: SentinelCluster) -> Iterator[redis.Redis]:
    """A Vedette client of the cluster's master, closed afterwards."""
    client = vedette.connect(cluster.config)
    try:
        yield client
    finally:
        client.close()


def left_over(cluster: SentinelCluster, names: tuple[str, ...] = ("default",)) -> dict[str, int]:
    """Jobs left, per place: queues, intermediate lists, started, failed, scheduled registries."""
    counts: dict[str, int] = {}
    with master_client(cluster) as client:
        for name in names:
            queue = Queue(name, connection=client)
            places = {
                "queue": queue.count,
                "intermediate": client.llen(queue.intermediate_queue_key),
                "started": StartedJobRegistry(name, connection=client).count,
                "failed": FailedJobRegistry(name, connection=client).count,
                "scheduled": ScheduledJobRegistry(name, connection=client).count,
            }
            counts.update({f"{name}:{place}": n for place, n in places.items() if n})
    return counts
