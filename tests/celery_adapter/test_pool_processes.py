"""A prefork worker's pool processes follow the main process's watcher, with no thread of their own.

Celery forks its pool before the worker connects to the broker; a pool process that stores a
result on the ``redis-sentinel://`` backend must not start a watcher of its own (threads, and a
subscription to every Sentinel, per process). Counted from inside the pool processes, and on the
Sentinels, before and after a kill -9.
"""

from __future__ import annotations

from celery import Celery

from vedette.testing import SentinelCluster, wait_until
from vedette_harness.celery_producer import celery_url, producer_app
from vedette_harness.workers import CeleryWorkers


def threads_by_process(app: Celery, processes: int) -> dict[int, list[str]]:
    """The Vedette threads of each pool process (tasks sent until each one answered)."""
    seen: dict[int, list[str]] = {}

    def answered() -> bool:
        results = [app.send_task("vedette_threads", (0.3,)) for _ in range(processes * 2)]
        for result in results:
            pid, names = result.get(timeout=30)
            seen[pid] = names
        return len(seen) >= processes

    wait_until(answered, 60, f"{processes} pool processes to run a task")
    return seen


def subscribers(cluster: SentinelCluster) -> int:
    """Pub/sub clients of Sentinel 0: one per watcher listening to it."""
    listed = cluster.sentinel(0).execute_command("CLIENT", "LIST", "TYPE", "pubsub")
    return len(str(listed).splitlines())


def test_pool_processes_follow_the_workers_watcher(
    sentinel_cluster: SentinelCluster, celery_worker_factory: CeleryWorkers
) -> None:
    broker, backend = celery_url(sentinel_cluster, 0), celery_url(sentinel_cluster, 1)
    celery_worker_factory(broker, result_backend=backend, concurrency=3)
    app = producer_app(broker, backend)
    before = threads_by_process(app, 3)
    assert all(names == [] for names in before.values()), before
    # The worker's main process and this producer: one watcher each, for broker and results.
    wait_until(lambda: subscribers(sentinel_cluster) == 2, 10, "two subscribers")
    sentinel_cluster.kill_master()
    sentinel_cluster.wait_for_switch(30)
    after = threads_by_process(app, 3)
    assert all(names == [] for names in after.values()), after
    assert set(after) == set(before)  # the same processes: none was restarted
    assert subscribers(sentinel_cluster) == 2
    app.close()
