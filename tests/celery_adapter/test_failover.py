"""Real ``celery worker`` processes on a real cluster through every fault (the shared harness).

Each test streams 2,000 tasks over 20 s, breaks the master half-way, drains, and counts:
producer errors, lost, duplicated and stranded tasks, and how soon after ``+switch-master``
tasks ran again.
"""

from __future__ import annotations

import gc
from contextlib import suppress
from pathlib import Path

import pytest
from celery import Celery, chord, group

import vedette
from tests.celery_adapter.conftest import WorkerFactory, celery_url, producer_app
from tests.survives_failover import FAULTS, Fault, StreamReport, read_execution_log, run_stream
from vedette.testing import ClusterFactory, SentinelCluster, WaitTimeout, wait_until


def stranded(cluster: SentinelCluster) -> int:
    """Messages left in the default queue (every priority) or in ``unacked``, on the master."""
    client = vedette.connect(cluster.url)
    try:
        queues = client.keys("celery*")
        return sum(client.llen(queue) for queue in queues) + client.hlen("unacked")
    finally:
        client.close()


def stream_through(
    cluster: SentinelCluster, app: Celery, fault: Fault, log: Path, count: int = 2000
) -> StreamReport:
    """The harness's stream of ``record`` tasks; then the queues drained, and what is left."""
    report = run_stream(
        cluster,
        lambda number: app.send_task("record", (number,)),
        fault=fault,
        log=log,
        count=count,
    )
    with suppress(WaitTimeout):  # what is left is counted as stranded
        wait_until(lambda: stranded(cluster) == 0, 10, "the queues to empty")
    report.runs = read_execution_log(log)  # a task delivered twice has run by now
    report.stranded = stranded(cluster)
    return report


def assert_survived(report: StreamReport, *, resume_within: float | None = None) -> None:
    print(report.summary())
    assert report.producer_errors == []
    assert report.lost == []
    assert report.duplicated == []
    assert report.stranded == 0
    if resume_within is not None:
        assert report.resumed_after_switch is not None
        assert report.resumed_after_switch < resume_within


@pytest.mark.parametrize("fault", FAULTS)
def test_a_prefork_worker_survives(
    fault: Fault,
    sentinel_cluster: SentinelCluster,
    celery_worker_factory: WorkerFactory,
    tmp_path: Path,
) -> None:
    url = celery_url(sentinel_cluster)
    worker = celery_worker_factory(url)
    app = producer_app(url)
    report = stream_through(sentinel_cluster, app, fault, tmp_path / "executions.log")
    assert worker.alive
    assert_survived(report, resume_within=0.5 if fault == "kill" else None)
    assert "worker0@" in str(app.control.inspect(timeout=5).ping())


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_threads_and_solo_pools_survive_kill_9(
    pool: str,
    sentinel_cluster: SentinelCluster,
    celery_worker_factory: WorkerFactory,
    tmp_path: Path,
) -> None:
    url = celery_url(sentinel_cluster)
    worker = celery_worker_factory(url, pool=pool, concurrency=1 if pool == "solo" else 4)
    app = producer_app(url)
    report = stream_through(sentinel_cluster, app, "kill", tmp_path / "executions.log")
    assert worker.alive
    assert_survived(report, resume_within=0.5)


def test_results_are_stored_and_read_through_a_failover(
    sentinel_cluster: SentinelCluster,
    celery_worker_factory: WorkerFactory,
    tmp_path: Path,
) -> None:
    broker, backend = celery_url(sentinel_cluster, 0), celery_url(sentinel_cluster, 1)
    celery_worker_factory(broker, result_backend=backend)
    app = producer_app(broker, backend)
    results = []

    def send(number: int) -> None:
        result = app.send_task("record", (number,))
        results.append(result)
        if number % 100 == 50:  # a client waiting on a result across the failover
            assert result.get(timeout=30) == number

    try:
        report = run_stream(
            sentinel_cluster, send, fault="kill", log=tmp_path / "executions.log", count=600
        )
        assert_survived(report)
        assert [result.get(timeout=30) for result in results] == list(range(600))
        assert {result.state for result in results} == {"SUCCESS"}
        # Groups and chords on the new master.
        header = [app.signature("record", (number,)) for number in range(10)]
        assert group(header).apply_async().get(timeout=30) == list(range(10))
        assert chord(header)(app.signature("total")).get(timeout=30) == sum(range(10))
    finally:
        # Celery 5.3's AsyncResult.__del__ unsubscribes from the result's channel: let it run
        # now, while the cluster is up, not in a later test where it would wait for a master.
        results.clear()
        gc.collect()


def test_an_acknowledged_publish_survives_with_wait_replicas(
    sentinel_cluster_factory: ClusterFactory,
    celery_worker_factory: WorkerFactory,
    tmp_path: Path,
) -> None:
    cluster = sentinel_cluster_factory(replicas=2)
    url = celery_url(cluster) + "?wait_replicas=1"
    celery_worker_factory(url)
    app = producer_app(url)
    report = stream_through(cluster, app, "kill", tmp_path / "executions.log", count=1000)
    assert_survived(report)
