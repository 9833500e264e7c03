"""A producer whose results are dropped unread: their finalizers run inside Vedette, and return.

Celery's ``AsyncResult.__del__`` unsubscribes through the result backend's client. A result the
garbage collector frees may be freed at any allocation, also while the producer's thread is
finding the new master after a kill -9. A soak once stopped a producer so for good (a finalizer
waiting for a lock its own thread held: tests/chaos/test_finalizers.py forces that moment).
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from vedette.testing import ClusterFactory, SentinelCluster
from vedette_harness.celery_producer import celery_url, producer_app
from vedette_harness.stream import assert_survived, run_stream
from vedette_harness.workers import CeleryWorkers


def test_a_producer_dropping_its_results_unread_goes_through_kill_9(
    sentinel_cluster: SentinelCluster, celery_worker_factory: CeleryWorkers, tmp_path: Path
) -> None:
    broker, backend = celery_url(sentinel_cluster, 0), celery_url(sentinel_cluster, 1)
    celery_worker_factory(broker, result_backend=backend)
    app = producer_app(broker, backend)

    def send(number: int) -> None:
        result = app.send_task("record", (number,))
        result.itself = result  # a cycle: only a collection frees it, at any allocation

    threshold = gc.get_threshold()
    gc.set_threshold(50)  # collections all the time, failover included
    try:
        report = run_stream(
            sentinel_cluster, send, fault="kill", log=tmp_path / "executions.log", count=1000
        )
    finally:
        gc.set_threshold(*threshold)
        gc.collect()  # the last results' finalizers, while the cluster is up
    assert_survived(report)
    app.close()


def test_a_result_freed_after_its_service_is_gone_raises_nothing(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    # Its subscription went with the connection: nothing to undo, nothing for a finalizer to
    # print ("Exception ignored in AsyncResult.__del__" failed a later test once).
    cluster = sentinel_cluster_factory()
    broker, backend = (f"{celery_url(cluster, db)}?retry_deadline=1" for db in (0, 1))
    app = producer_app(broker, backend)
    result = app.send_task("record", (1,))  # no worker: it stays subscribed to its result
    app.pool.force_close_all()
    cluster.stop()
    # Its connection lost too, as a failover leaves it: unsubscribing would dial the service.
    app.backend.result_consumer._pubsub.connection.disconnect()
    started = time.monotonic()
    del result  # AsyncResult.__del__ unsubscribes
    gc.collect()
    assert time.monotonic() - started < 10  # retry_deadline and the lookups' timeouts
    app.close()


def test_a_result_freed_by_the_collector_during_a_failover_never_reconnects(
    sentinel_cluster: SentinelCluster,
) -> None:
    # A finalizer gets a 1 s deadline; its unsubscribe failing so early once made Celery's
    # reconnection run inside the finalizer (fetching every result waited for, subscribing
    # again): more commands against no master, and on Celery 5.3 a redis-py deprecation raised
    # into AsyncResult.__del__. Unsubscribing never reconnects: the next get() does.
    broker, backend = (f"{celery_url(sentinel_cluster, db)}?retry_deadline=30" for db in (0, 1))
    app = producer_app(broker, backend)
    waited = app.send_task("record", (1,))  # no worker: both stay subscribed to their results
    freed = app.send_task("record", (2,))
    freed.itself = freed  # a cycle: only a collection frees it
    consumer = app.backend.result_consumer
    pubsub = consumer._pubsub
    sentinel_cluster.kill_master()
    pubsub.connection.disconnect()  # as the kill -9 leaves it, once noticed
    del freed
    started = time.monotonic()
    gc.collect()  # AsyncResult.__del__ unsubscribes, called back: 1 s of retries at most
    took = time.monotonic() - started
    assert consumer._pubsub is pubsub, "the finalizer reconnected"
    assert took < 2.5
    sentinel_cluster.wait_for_switch(30)
    assert waited.state == "PENDING"  # the producer goes on, on the new master
    app.close()
