"""The recorder and its sinks, without a cluster: names, both systems, forks, finalizers."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import vedette.metrics
from vedette import (
    Address,
    Backoff,
    FailoverAborted,
    FailoverStarted,
    MasterDown,
    MasterSwitched,
    MasterUp,
    OutcomeUnknownError,
    PromotionStarted,
    SentinelLost,
    SentinelRecovered,
)
from vedette.metrics import recorder
from vedette.metrics.instruments import COMMANDS_RETRIED, FAILOVER_HELD, SENTINELS_REACHABLE
from vedette.metrics.pauses import PauseClock
from vedette.process.reentry import OwnedLock
from vedette.retry import Attempts, lost_replies_retried
from vedette.sentinel import reporting
from vedette.sentinel.reporting import EventReport


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    """A private Prometheus registry, recorded to during the test only."""
    registry = CollectorRegistry()
    vedette.metrics.enable_prometheus(registry)
    yield registry
    vedette.metrics.disable()


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_names_follow_each_system_s_conventions() -> None:
    names = [metric.name for metric in vedette.metrics.CATALOG]
    assert len(set(names)) == len(names)
    for metric in vedette.metrics.CATALOG:
        assert metric.name.startswith("vedette.")
        assert metric.description
        assert metric.labels
        assert metric.unit in ("", "s")
        if metric.kind == "counter":
            assert metric.exposed_names == (metric.prometheus_name + "_total",)
        if metric.unit == "s":
            assert metric.prometheus_name.endswith("_seconds")
            assert metric.kind == "histogram"
            assert metric.buckets
    switches = next(m for m in vedette.metrics.CATALOG if m.name == "vedette.failover.switches")
    assert switches.exposed_names == ("vedette_failover_switches_total",)


def test_every_metric_appears_in_a_prometheus_scrape(registry: CollectorRegistry) -> None:
    text = generate_latest(registry).decode()
    for metric in vedette.metrics.CATALOG:
        assert f"# HELP {metric.prometheus_name}" in text or (
            f"# HELP {metric.prometheus_name}_total" in text
        ), metric.name


def test_recordings_reach_prometheus_and_opentelemetry(registry: CollectorRegistry) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    vedette.metrics.enable_opentelemetry(provider)
    vedette.metrics.enable_opentelemetry(provider)  # once is enough: nothing twice
    COMMANDS_RETRIED.add(service="svc", reason="connection")
    COMMANDS_RETRIED.add(2, service="svc", reason="connection")
    FAILOVER_HELD.observe(0.3, service="svc")
    SENTINELS_REACHABLE.set(2, service="svc")

    scraped = samples(registry)
    retried = ("vedette_commands_retried_total", (("reason", "connection"), ("service", "svc")))
    assert scraped[retried] == 3
    assert scraped[("vedette_failover_held_seconds_count", (("service", "svc"),))] == 1
    assert scraped[("vedette_failover_held_seconds_sum", (("service", "svc"),))] == 0.3
    assert scraped[("vedette_sentinels_reachable", (("service", "svc"),))] == 2

    data = reader.get_metrics_data()
    assert data is not None
    found = {
        metric.name: metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    (point,) = found["vedette.commands.retried"].data.data_points
    assert isinstance(point, NumberDataPoint)
    assert point.value == 3
    assert dict(point.attributes or {}) == {"service": "svc", "reason": "connection"}
    (held,) = found["vedette.failover.held"].data.data_points
    assert isinstance(held, HistogramDataPoint)
    assert (held.count, held.sum) == (1, 0.3)
    assert found["vedette.failover.held"].unit == "s"
    (reachable,) = found["vedette.sentinels.reachable"].data.data_points
    assert isinstance(reachable, NumberDataPoint)
    assert reachable.value == 2
    provider.shutdown()


def test_disabled_records_nothing(registry: CollectorRegistry) -> None:
    vedette.metrics.disable()
    COMMANDS_RETRIED.add(service="off", reason="timeout")
    assert not any(
        labels == (("reason", "timeout"), ("service", "off")) for _, labels in samples(registry)
    )


def test_a_missing_extra_is_named() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["prometheus_client"] = None
        sys.modules["opentelemetry"] = None
        import vedette.metrics
        for enable in (vedette.metrics.enable_prometheus, vedette.metrics.enable_opentelemetry):
            try:
                enable()
            except vedette.ConfigurationError as error:
                print(error)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out == [
        "vedette.metrics.enable_prometheus: needs prometheus_client, which is not installed: "
        "pip install 'vedette[prometheus]'",
        "vedette.metrics.enable_opentelemetry: needs the OpenTelemetry API, which is not "
        "installed: pip install 'vedette[opentelemetry]'",
    ]


def test_forked_children_are_counted_in_multiprocess_mode(tmp_path: Path) -> None:
    # What a prefork worker does: the parent enables the metrics, children record too.
    script = textwrap.dedent(
        """
        import os
        import vedette.metrics
        from vedette.metrics.instruments import COMMANDS_RETRIED, SENTINELS_REACHABLE
        vedette.metrics.enable_prometheus()
        COMMANDS_RETRIED.add(service="svc", reason="connection")
        SENTINELS_REACHABLE.set(3, service="svc")
        children = []
        for reachable in (0, 2):
            pid = os.fork()
            if pid == 0:
                COMMANDS_RETRIED.add(service="svc", reason="connection")
                SENTINELS_REACHABLE.set(reachable, service="svc")
                os._exit(0)
            children.append(pid)
        for pid in children:
            assert os.waitpid(pid, 0)[1] == 0
        """
    )
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script], env=environment, check=True, timeout=60)
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    scraped = samples(registry)
    retried = ("vedette_commands_retried_total", (("reason", "connection"), ("service", "svc")))
    assert scraped[retried] == 3  # the parent's and each child's
    # The gauge: the watching process's value, whatever a child's copy says.
    assert scraped[("vedette_sentinels_reachable", (("service", "svc"),))] == 3


def test_a_finalizer_records_later_instead_of_waiting(registry: CollectorRegistry) -> None:
    # A finalizer run on a thread inside Vedette (holding an OwnedLock) that records must not
    # take the sinks' locks then: the recording is made once the thread is out.
    lock = OwnedLock()
    recorded_inside: list[float] = []

    class Dropped:
        def __del__(self) -> None:
            COMMANDS_RETRIED.add(service="gc", reason="connection")
            recorded_inside.append(count())

    def count() -> float:
        key = ("vedette_commands_retried_total", (("reason", "connection"), ("service", "gc")))
        return samples(registry).get(key, 0.0)

    with lock:
        dropped = Dropped()
        del dropped
        gc.collect()
    assert recorded_inside == [0.0]
    assert count() == 1


def test_one_pause_observed_per_switch(registry: CollectorRegistry) -> None:
    switches = [0]
    clock = PauseClock("unit")
    clock.switches = lambda: switches[0]
    # Three commands wait; the master switches; the first to run ends the pause, once.
    began = time.monotonic()
    for since in (began, began + 0.5, began + 1.0):
        assert clock.waiting(since)
    switches[0] += 1
    clock.ended(ran=True)
    ended = time.monotonic()
    clock.ended(ran=True)
    clock.ended(ran=False)
    # A command retried without a switch (a reset connection) is no failover's pause; nor
    # are commands that all gave up.
    for ran in (True, False):
        clock.waiting(time.monotonic())
        clock.ended(ran=ran)
    scraped = samples(registry)
    assert scraped[("vedette_failover_held_seconds_count", (("service", "unit"),))] == 1
    held = scraped[("vedette_failover_held_seconds_sum", (("service", "unit"),))]
    assert 0 <= ended - began - held < 0.01


def test_threads_racing_to_enable_make_one_sink() -> None:
    registry = CollectorRegistry()
    threads = [
        threading.Thread(target=vedette.metrics.enable_prometheus, args=(registry,))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        COMMANDS_RETRIED.add(service="race", reason="timeout")
        key = ("vedette_commands_retried_total", (("reason", "timeout"), ("service", "race")))
        assert samples(registry)[key] == 1
    finally:
        vedette.metrics.disable()


def test_two_watchers_of_a_process_tell_a_switch_once(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vedette.watcher")
    at = datetime.now(timezone.utc)
    one, two = Address("10.0.0.1", 6379), Address("10.0.0.2", 6379)
    switched = MasterSwitched(service="twice", at=at, old=one, new=two)
    first, second = EventReport("twice"), EventReport("twice")
    first.published(switched)
    second.published(dataclasses.replace(switched, via="reconciliation"))
    first.published(dataclasses.replace(switched, old=two, new=one))
    told = [r for r in caplog.records if getattr(r, "event", None) == "master_switched"]
    assert [(r.levelname, r.old_master, r.new_master) for r in told] == [  # type: ignore[attr-defined]
        ("WARNING", "10.0.0.1:6379", "10.0.0.2:6379"),
        ("WARNING", "10.0.0.2:6379", "10.0.0.1:6379"),
    ]
    counted = samples(registry)
    assert (
        counted[("vedette_failover_switches_total", (("service", "twice"), ("via", "event")))] == 2
    )


def test_two_watchers_telling_a_switch_at_the_same_instant_count_it_once(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two watchers of one service hear a Sentinel's +switch-master at the same instant, each on
    # its listener's thread. The timing is forced: each reads what another watcher told, then
    # waits (up to 1 s) for the other to have read it too, as an untimely thread switch would.
    both_read = threading.Barrier(2)

    class Told(dict[tuple[object, ...], tuple[int, float]]):
        def get(self, key: tuple[object, ...], default: Any = None) -> Any:
            told = super().get(key, default)
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait(1)
            return told

    monkeypatch.setattr(reporting, "_told", Told())
    at = datetime.now(timezone.utc)
    switched = MasterSwitched(
        service="racing", at=at, old=Address("10.0.0.1", 6379), new=Address("10.0.0.2", 6379)
    )
    threads = [
        threading.Thread(target=EventReport("racing").published, args=(switched,)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    counted = samples(registry)
    assert (
        counted[("vedette_failover_switches_total", (("service", "racing"), ("via", "event")))] == 1
    )


def test_a_lost_reply_counts_once_it_reaches_the_caller(registry: CollectorRegistry) -> None:
    def raised_to_caller() -> None:
        attempts = Attempts(deadline=5, backoff=Backoff(), what="RPOP", service="lost")
        with pytest.raises(OutcomeUnknownError):
            attempts.pause_after(OutcomeUnknownError("reply lost", command="RPOP"))

    raised_to_caller()
    with lost_replies_retried(True):  # inside an idempotent ensure_call: it runs again
        raised_to_caller()
    with lost_replies_retried(False):
        raised_to_caller()
    assert (
        samples(registry)[("vedette_commands_outcome_unknown_total", (("service", "lost"),))] == 2
    )


def test_a_failing_sink_fails_no_recording(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def recorder(
            self, metric: vedette.metrics.Metric
        ) -> Callable[[float, Mapping[str, str]], None]:
            def record(value: float, labels: Mapping[str, str]) -> None:
                raise FileNotFoundError("the multiprocess directory is gone")

            return record

    recorder._failed.discard("vedette.commands.retried")  # told once per process
    recorder.connect(recorder.recorders(Broken()))
    try:
        caplog.set_level(logging.WARNING, logger="vedette.metrics")
        COMMANDS_RETRIED.add(service="broken", reason="timeout")
        COMMANDS_RETRIED.add(service="broken", reason="timeout")
    finally:
        vedette.metrics.disable()
    (told,) = [r for r in caplog.records if r.name == "vedette.metrics"]
    assert "vedette.commands.retried" in told.getMessage()


def test_no_event_field_clashes_with_a_log_record_attribute() -> None:
    reserved = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
    for event in (
        FailoverAborted, FailoverStarted, MasterDown, MasterSwitched, MasterUp,
        PromotionStarted, SentinelLost, SentinelRecovered,
    ):  # fmt: skip
        names = {"event", *(f.name for f in dataclasses.fields(event))} - {"at"}
        names = {{"old": "old_master", "new": "new_master"}.get(n, n) for n in names}
        assert not names & reserved, event
