"""What an operator sees of real failovers: the metrics of real workers, and of this process.

For each framework, one worker (Celery's prefork pool, one Dramatiq process with 4 threads, an
RQ worker forking a work horse per job) records to ``prometheus_client`` in multiprocess mode,
as docs/operations.md sets it up; this process records to a private registry and to an
OpenTelemetry in-memory reader, and writes through a `WriteLoop`. Through a kill -9, then a
planned failover, the scraped text (parsed with ``prometheus_client``'s parser) and the reader
show exactly one switch per fault, one held-time observation within 50 ms of the pause the
write loop measured, and one resume time per worker, close to the one the execution log shows;
the worker's output shows the switch's WARNING line once per fault.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import kombu.pools
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

import vedette
import vedette.metrics
import vedette_rq
from vedette.testing import ClusterFactory, SentinelCluster, WriteLoop
from vedette_dramatiq import SentinelBroker
from vedette_harness.celery_producer import celery_url, producer_app
from vedette_harness.dramatiq_queues import message
from vedette_harness.rq_commands import JOB, rq_worker
from vedette_harness.stream import Fault, StreamReport, assert_survived, run_stream
from vedette_harness.workers import CeleryWorkers, DramatiqWorkers, WorkerFactory

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scraped(registry: CollectorRegistry) -> Samples:
    """A scrape of ``registry``, parsed by ``prometheus_client``'s own parser."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value for (n, have), value in samples.items() if n == name and wanted <= have)


def workers_scrape(directory: Path) -> Samples:
    """What the workers' processes recorded, as a scrape of multiprocess mode shows it."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return scraped(registry)


def otel_points(reader: InMemoryMetricReader, name: str) -> list[object]:
    """The data points of ``name`` the OpenTelemetry reader holds."""
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


@pytest.fixture
def recorded() -> Iterator[tuple[CollectorRegistry, InMemoryMetricReader]]:
    """This process's metrics: a private Prometheus registry and an in-memory reader."""
    registry, reader = CollectorRegistry(), InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    vedette.metrics.enable_prometheus(registry)
    vedette.metrics.enable_opentelemetry(provider)
    yield registry, reader
    vedette.metrics.disable()
    provider.shutdown()
    kombu.pools.reset()  # the Celery producer's connections (tests/celery_adapter/conftest.py)


def start(
    framework: str,
    cluster: SentinelCluster,
    factory: WorkerFactory,
    directory: Path,
    closing: ExitStack,
) -> Callable[[int], object]:
    """Start one worker of ``framework`` recording its metrics to ``directory``; its sender.

    The sender's client is closed by ``closing``: its watcher must not outlive the test, where
    it would go on reporting (its Sentinels lost) into the next test's metrics.
    """
    if framework == "celery":
        url = celery_url(cluster)
        factory.marker = CeleryWorkers.MARKER
        CeleryWorkers(factory)(url, result_backend=celery_url(cluster, 1))
        app = producer_app(url)
        closing.callback(app.close)
        return lambda number: app.send_task("record", (number,))
    if framework == "dramatiq":
        factory.marker = DramatiqWorkers.MARKER
        DramatiqWorkers(factory)(cluster)
        broker = SentinelBroker(config=cluster.config)
        closing.callback(broker.client.close)  # dramatiq's RedisBroker.close keeps it open
        return lambda number: broker.enqueue(message(number))
    factory.marker = "Listening on"
    factory(rq_worker(cluster.url, "-c", "vedette_harness.rq_metrics"))
    connection = vedette_rq.connect(cluster.url)
    closing.callback(connection.close)
    queue = Queue("default", connection=connection)
    return lambda number: queue.enqueue(JOB, number)


def sentinels_told(cluster: SentinelCluster) -> str:
    """What each Sentinel logged of failovers: the story behind a count that is off."""
    kinds = ("+sdown master", "+odown", "+try-failover", "+elected-leader", "+switch-master")
    told = []
    for address in cluster.sentinel_addresses:
        lines = cluster.log_file(address).read_text(errors="replace").splitlines()
        told += [f"{address}: {line}" for line in lines if any(k in line for k in kinds)]
    return "\n".join(told)


@pytest.mark.parametrize("framework", ["celery", "dramatiq", "rq"])
def test_each_fault_shows_one_switch_its_pause_and_the_worker_s_resume(
    framework: str,
    sentinel_cluster_factory: ClusterFactory,
    recorded: tuple[CollectorRegistry, InMemoryMetricReader],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry, reader = recorded
    assert "prometheus_client" in sys.modules  # imported before the variable below is set
    directory = tmp_path / "prometheus"
    directory.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))  # for the worker
    # Two replicas: one left for the planned failover. Exactly one switch per fault needs
    # Sentinels that switch once: with the usual test timings, a loaded machine can stall the
    # new master past down-after-milliseconds (1 s) or a failover's leader past twice the
    # failover-timeout (3 s), and the Sentinels rightly switch again. These leave them no room.
    cluster = sentinel_cluster_factory(replicas=2, down_after_ms=2500, failover_timeout_ms=10_000)
    service = cluster.config.service_name
    client = vedette.connect(cluster.url)
    with WorkerFactory(tmp_path, marker="") as factory, ExitStack() as closing:
        closing.callback(client.close)
        send = start(framework, cluster, factory, directory, closing)
        resumes: list[float] = []
        in_turn: tuple[Fault, ...] = ("kill", "failover")
        for faults, fault in enumerate(in_turn, start=1):
            held_before = total(scraped(registry), "vedette_failover_held_seconds_sum")
            factory.log.write_text("")  # each stream numbers its jobs from 0: a log of its own
            with WriteLoop(lambda n: client.rpush("loop", n), pace=0.002) as loop:
                report = run_stream(
                    cluster, send, fault=fault, log=factory.log, count=300, rate=100
                )
            cluster.wait_healthy(replicas=1)
            paused = loop.report(map(int, client.lrange("loop", 0, -1)))
            assert paused.lost == ()
            assert paused.errors == ()
            assert_survived(report)

            # This process: Prometheus and OpenTelemetry agree, one switch and one pause each.
            mine = scraped(registry)
            counted = total(mine, "vedette_failover_switches_total", service=service)
            assert counted == faults, sentinels_told(cluster)
            assert total(mine, "vedette_failover_held_seconds_count", service=service) == faults
            held = total(mine, "vedette_failover_held_seconds_sum", service=service) - held_before
            print(f"{framework} {fault}: held {held:.3f} s, paused {paused.longest_pause:.3f} s")
            assert abs(held - paused.longest_pause) < 0.05
            switches = otel_points(reader, "vedette.failover.switches")  # by `via`
            assert sum(point.value for point in switches) == faults  # type: ignore[attr-defined]
            (pause,) = otel_points(reader, "vedette.failover.held")
            assert pause.count == faults  # type: ignore[attr-defined]

            # The worker: one switch per fault, however many processes it forked; its resume.
            theirs = _worker_metrics(directory, faults, service)
            resumed = theirs - sum(resumes)
            resumes.append(resumed)
            print(f"{framework} {fault}: worker resumed {resumed * 1000:.0f} ms after the switch")
            _check_resume(report, resumed)
        retried = total(scraped(registry), "vedette_commands_retried_total", service=service)
        assert retried > 0  # the kill -9's failed writes
        # The switch shows in the worker's own output, once per fault, as the framework logs.
        (worker,) = factory.workers
        assert worker.text().count("master switched from") == 2, worker.text()[-3000:]


def _worker_metrics(directory: Path, faults: int, service: str) -> float:
    """Check the workers' switches and resume count; the sum of their resume times."""
    theirs = workers_scrape(directory)
    assert total(theirs, "vedette_failover_switches_total", service=service) == faults
    assert total(theirs, "vedette_worker_resume_seconds_count", service=service) == faults
    return total(theirs, "vedette_worker_resume_seconds_sum", service=service)


def _check_resume(report: StreamReport, resumed: float) -> None:
    """The worker's resume time against the execution log's first run after the switch."""
    logged = report.resumed_after_switch
    assert logged is not None
    # The worker times from its watcher's news of the switch to the job's delivery; the log,
    # from this process's subscription to the job's run: the same moment, give or take.
    assert abs(resumed - logged) < 0.25, (resumed, logged)
