"""Real ``dramatiq`` worker processes on a real cluster through every fault (the shared harness).

Each test streams 2,000 messages at 150 per second to 1 worker process with 4 threads, breaks
the master half-way, drains, and counts: producer errors, lost, duplicated, what is left in
queues, ``.msgs`` hashes and acknowledgement sets, writes to the old master after the promotion,
and how soon after ``+switch-master`` messages ran again; then a canary batch must run. Both ways
of following the service pass: `SentinelBroker`, and `SentinelMiddleware` on a plain
`RedisBroker`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vedette.testing import ClusterFactory, SentinelCluster, wait_until
from vedette_dramatiq import SentinelBroker
from vedette_harness.dramatiq_queues import left_over, message, stored_results
from vedette_harness.stream import (
    FAULTS,
    Fault,
    StreamReport,
    assert_survived,
    least_privileged_cluster,
    run_canaries,
    run_stream,
)
from vedette_harness.workers import DramatiqWorkers

# The worker app's ways of following the service (vedette_harness.dramatiq_app's modes).
MODES = ("broker", "middleware")


def stream_through(
    cluster: SentinelCluster, broker: SentinelBroker, fault: Fault, log: Path, count: int = 2000
) -> StreamReport:
    """The harness's stream at 150/s; what is left counted."""
    return run_stream(
        cluster,
        lambda number: broker.enqueue(message(number)),
        fault=fault,
        log=log,
        count=count,
        rate=150,
        left_over=lambda: sum(left_over(cluster).values()),
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_worker_survives(
    fault: Fault,
    mode: str,
    sentinel_cluster: SentinelCluster,
    dramatiq_worker_factory: DramatiqWorkers,
    tmp_path: Path,
) -> None:
    worker = dramatiq_worker_factory(sentinel_cluster, mode=mode)
    broker = SentinelBroker(config=sentinel_cluster.config)
    log = tmp_path / "executions.log"
    report = stream_through(sentinel_cluster, broker, fault, log)
    assert worker.alive
    assert_survived(report, resume_within=0.5 if fault == "kill" else None)
    # Every result stored once, on the new master (through SentinelResultBackend, or through
    # the Results middleware's backend that SentinelMiddleware re-pointed).
    wait_until(lambda: len(stored_results(sentinel_cluster)) >= len(report.sent), 10, "results")
    assert stored_results(sentinel_cluster) == report.sent
    run_canaries(lambda number: broker.enqueue(message(number)), log)


@pytest.mark.parametrize("mode", MODES)
def test_a_worker_survives_kill_9_as_a_least_privilege_user(
    mode: str,
    sentinel_cluster_factory: ClusterFactory,
    dramatiq_worker_factory: DramatiqWorkers,
    tmp_path: Path,
) -> None:
    cluster = least_privileged_cluster(sentinel_cluster_factory)
    worker = dramatiq_worker_factory(cluster, mode=mode)
    broker = SentinelBroker(config=cluster.config)
    log = tmp_path / "executions.log"
    report = stream_through(cluster, broker, "kill", log, count=1000)
    assert worker.alive
    assert_survived(report, resume_within=0.5)
    assert "NOPERM" not in worker.text()
    run_canaries(lambda number: broker.enqueue(message(number)), log)
