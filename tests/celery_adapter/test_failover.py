"""Real ``celery worker`` processes on a real cluster through every fault (the shared harness).

Each test streams 2,000 tasks over 20 s, breaks the master half-way, drains, and counts:
producer errors, lost, duplicated and stranded tasks, results stored as anything but SUCCESS,
writes to the old master after the promotion, and how soon after ``+switch-master`` tasks ran
again; then checks that ``celery inspect ping`` and task events work on the new master.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, chord, group

import vedette
from vedette.testing import ClusterFactory, SentinelCluster, TLSFiles, wait_until
from vedette_harness.celery_producer import celery_url, producer_app
from vedette_harness.stream import (
    FAULTS,
    Fault,
    StreamReport,
    assert_survived,
    least_privileged_cluster,
    run_stream,
)
from vedette_harness.workers import CeleryWorkers


def stranded(cluster: SentinelCluster) -> int:
    """Messages left in the default queue (every priority) or in ``unacked``, on the master."""
    client = vedette.connect(cluster.config)
    try:
        queues = [key for key in client.scan_iter("celery*") if client.type(key) == b"list"]
        return sum(client.llen(queue) for queue in queues) + client.hlen("unacked")
    finally:
        client.close()


def stored_states(cluster: SentinelCluster, db: int = 1) -> Counter[str]:
    """How many results of each state (SUCCESS, FAILURE ...) the backend's database holds."""
    client = vedette.connect(replace(cluster.config, db=db))
    try:
        keys = list(client.scan_iter("celery-task-meta-*", count=1000))
        values = client.mget(keys) if keys else []
        return Counter(json.loads(value)["status"] for value in values if value is not None)
    finally:
        client.close()


class TaskEvents:
    """What Flower does: a receiver of task events, reconnecting on error; the tasks it saw."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.succeeded: set[int] = set()
        self.errors: list[str] = []
        self.receiver: Any = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._capture, daemon=True, name="events")

    def _capture(self) -> None:
        while not self._stopping.is_set():
            try:
                with self.app.connection_for_read() as connection:
                    self.receiver = self.app.events.Receiver(
                        connection, handlers={"task-succeeded": self._on_succeeded}
                    )
                    self.receiver.should_stop = self._stopping.is_set()
                    self.receiver.capture(limit=None, timeout=None, wakeup=False)
            except Exception as error:
                self.errors.append(f"{type(error).__name__}: {error}")
                self._stopping.wait(1)  # Flower's pause before it captures again

    def _on_succeeded(self, event: dict[str, Any]) -> None:
        self.succeeded.add(int(event["result"]))

    @contextmanager
    def running(self) -> Iterator[TaskEvents]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stopping.set()
            if self.receiver is not None:
                self.receiver.should_stop = True
            self._thread.join(10)


def stream_through(
    cluster: SentinelCluster, app: Celery, fault: Fault, log: Path, count: int = 2000
) -> StreamReport:
    """The harness's stream of ``record`` tasks; what is left counted."""
    return run_stream(
        cluster,
        lambda number: app.send_task("record", (number,)),
        fault=fault,
        log=log,
        count=count,
        left_over=lambda: stranded(cluster),
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_a_prefork_worker_survives(
    fault: Fault,
    sentinel_cluster: SentinelCluster,
    celery_worker_factory: CeleryWorkers,
    tmp_path: Path,
) -> None:
    url = celery_url(sentinel_cluster)
    worker = celery_worker_factory(url, result_backend=celery_url(sentinel_cluster, 1), events=True)
    app = producer_app(url)
    with TaskEvents(app).running() as events:
        wait_until(lambda: events.receiver is not None, 10, "the event receiver")
        report = stream_through(sentinel_cluster, app, fault, tmp_path / "executions.log")
        assert worker.alive
        assert_survived(report, resume_within=0.5 if fault == "kill" else None)
        assert stored_states(sentinel_cluster) == {"SUCCESS": len(set(report.sent))}
        assert "worker0@" in str(app.control.inspect(timeout=5).ping())
        # Task events reach a monitor again on the new master.
        canaries = range(10_000, 10_020)
        for number in canaries:
            app.send_task("record", (number,))
        wait_until(lambda: events.succeeded >= set(canaries), 30, "the canaries' events")
    assert events.errors == []


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_threads_and_solo_pools_survive_kill_9(
    pool: str,
    sentinel_cluster: SentinelCluster,
    celery_worker_factory: CeleryWorkers,
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
    celery_worker_factory: CeleryWorkers,
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
    celery_worker_factory: CeleryWorkers,
    tmp_path: Path,
) -> None:
    # down-after 2 s: on a loaded machine a replica promoted under 1 s was once itself declared
    # down a second later, and that second failover left the new master with no replica to
    # confirm writes (NotReplicatedError, which stops Celery's worker: see docs/celery.md).
    cluster = sentinel_cluster_factory(replicas=2, down_after_ms=2000)
    url = celery_url(cluster) + "?wait_replicas=1"
    celery_worker_factory(url)
    app = producer_app(url)
    report = stream_through(cluster, app, "kill", tmp_path / "executions.log", count=1000)
    assert_survived(report)


def test_a_prefork_worker_survives_kill_9_as_a_least_privilege_user(
    sentinel_cluster_factory: ClusterFactory,
    celery_worker_factory: CeleryWorkers,
    tmp_path: Path,
) -> None:
    cluster = least_privileged_cluster(sentinel_cluster_factory)
    url = celery_url(cluster)
    worker = celery_worker_factory(url, result_backend=celery_url(cluster, 1))
    app = producer_app(url)
    report = stream_through(cluster, app, "kill", tmp_path / "executions.log", count=1000)
    assert worker.alive
    assert_survived(report, resume_within=0.5)
    assert stored_states(cluster) == {"SUCCESS": len(set(report.sent))}
    assert "NOPERM" not in worker.text()


def test_a_prefork_worker_survives_kill_9_over_tls(
    sentinel_cluster_factory: ClusterFactory,
    celery_worker_factory: CeleryWorkers,
    tls_files: TLSFiles,
    tmp_path: Path,
) -> None:
    cluster = sentinel_cluster_factory(tls=tls_files, password="s3cret")
    url = celery_url(cluster)
    assert url.startswith("rediss-sentinel://")
    worker = celery_worker_factory(url, result_backend=celery_url(cluster, 1))
    app = producer_app(url)
    try:
        report = stream_through(cluster, app, "kill", tmp_path / "executions.log")
    finally:
        app.close()
    assert worker.alive
    # Not 0.5 s as without TLS: a pool child retrying its result store through the outage sleeps
    # out its backoff pause (up to max_backoff, 2 s), as no switch wakes a forked child yet; the
    # slower TLS reconnects make that pause land after the switch (1.04 s once in 5 runs).
    assert_survived(report, resume_within=2.5)
    assert stored_states(cluster) == {"SUCCESS": len(set(report.sent))}


def test_celery_redis_sentinel_settings_work_unchanged(
    sentinel_cluster: SentinelCluster, celery_worker_factory: CeleryWorkers
) -> None:
    # celery-redis-sentinel's README: the URL gives only the database, the options the rest.
    options: dict[str, object] = {
        "sentinels": [(a.host, a.port) for a in sentinel_cluster.sentinel_addresses],
        "service_name": sentinel_cluster.service_name,
        "socket_timeout": 0.5,
    }
    broker, backend = "redis-sentinel://redis-sentinel:26379/0", "redis-sentinel://x:26379/1"
    celery_worker_factory(broker, result_backend=backend, options=options)
    app = producer_app(broker, backend)
    app.conf.update(broker_transport_options=options, result_backend_transport_options=options)
    result = app.send_task("record", (7,))
    try:
        assert result.get(timeout=30) == 7
    finally:
        del result
        gc.collect()


def test_the_celery_vedette_command_shows_the_broker_service(
    sentinel_cluster: SentinelCluster,
) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "vedette_harness.celery_app", "vedette"],
        env={
            **os.environ,
            "VEDETTE_BROKER_URL": celery_url(sentinel_cluster),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert f"master {sentinel_cluster.master_address()}" in shown
    replica = next(
        a for a in sentinel_cluster.redis_addresses if a != sentinel_cluster.master_address()
    )
    assert f"replica {replica}" in shown
