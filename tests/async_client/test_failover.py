"""vedette.asyncio.connect() through real faults: many coroutines writing, and the loop's stalls.

The core's chaos drills (tests/chaos/test_master_client.py) with the async client: 200
coroutines over three clients in one event loop write 0, 1, 2 ... to a list while a fault hits
the master; the acknowledged writes are compared with what the final master holds, and a ticker
coroutine measures the longest time the event loop was blocked during the failover.

Each test prints its figures (``-s`` shows them): the first write after ``+switch-master`` and
the longest stall of the loop, before and during the failover. They run with logging at INFO, as
a production process does: the suite's DEBUG records (one per failed attempt of each of 200
coroutines, with the Sentinels' answers) would themselves hold the loop.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import vedette
import vedette.asyncio
from vedette.testing import (
    AsyncWriteLoop,
    ClusterFactory,
    SentinelCluster,
    SwitchClock,
    TLSFiles,
    WriteReport,
)

COROUTINES = 200
# A stall longer than this means something blocked the event loop.
STALL_LIMIT = 0.05


@pytest.fixture(autouse=True)
def production_logging(caplog: pytest.LogCaptureFixture) -> None:
    for name in ("vedette", "redis"):  # the suite logs everything at DEBUG: not these here
        caplog.set_level(logging.INFO, logger=name)


SECRETS = ("redis-pw:1", "sentinel-pw/2")


async def push(client: Any, n: int) -> object:
    return await client.rpush("log", n)


@contextmanager
def writing(cluster: SentinelCluster, options: str = "") -> Iterator[AsyncWriteLoop]:
    cluster.client().delete("log")
    url = cluster.url + options
    # 200 coroutines at a pace of 20 ms each: ~5,000 writes a second offered, a loaded loop.
    with AsyncWriteLoop(
        lambda: vedette.asyncio.connect(url), push, coroutines=COROUTINES, clients=3, pace=0.02
    ) as loop:
        loop.wait_for_acks(500, after=0)
        yield loop


def final_report(cluster: SentinelCluster, loop: AsyncWriteLoop) -> WriteReport:
    return loop.report(int(n) for n in cluster.client().lrange("log", 0, -1))


def check_repeats(report: WriteReport) -> None:
    """After a kill or a freeze: only writes in flight at the fault may have run twice.

    A write the master ran, and replicated, but whose reply the fault lost is retried on the new
    master (docs/failover.md, "What a retry may repeat"): at most one per coroutine.
    """
    print(f"{len(report.duplicated)} writes in flight at the fault ran twice")
    assert len(report.duplicated) <= COROUTINES


def check_first_write(loop: AsyncWriteLoop, switched: float) -> None:
    """The first write after ``+switch-master`` within 100 ms, garbage collections apart.

    A collection stops every thread, whatever it runs (Python 3.10's full collections took up
    to 80 ms late in a long test process here): it is not Vedette's latency.
    """
    first = loop.first_ack_after(switched)
    assert first is not None
    collection = loop.longest_collection(after=switched, before=first)
    print(
        f"first write {(first - switched) * 1000:.1f} ms after +switch-master "
        f"(longest garbage collection meanwhile: {collection * 1000:.1f} ms)"
    )
    assert first - switched - collection < 0.1


def check_stalls(loop: AsyncWriteLoop, started: float, ended: float) -> float:
    """The loop's longest stall during the failover: under `STALL_LIMIT`.

    Garbage collections, which stop every thread of the process whatever it runs, are reported
    apart (Python 3.10's full collections take tens of milliseconds here).
    """
    steady = loop.longest_stall(before=started)
    during = loop.longest_stall(after=started, before=ended)
    collection = loop.longest_collection(after=started, before=ended)
    print(
        f"longest stall of the loop: {steady * 1e3:.1f} ms before, {during * 1e3:.1f} ms during; "
        f"longest garbage collection during: {collection * 1e3:.1f} ms"
    )
    assert during < STALL_LIMIT
    return during


def test_kill_master(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=2)
    with SwitchClock(cluster) as clock, writing(cluster, "?wait_replicas=1") as loop:
        started = time.monotonic()
        cluster.kill_master()
        switched = clock.wait()
        loop.wait_for_acks(500, after=switched)
        ended = time.monotonic()
    report = final_report(cluster, loop)
    check_first_write(loop, switched)
    assert report.lost == ()
    assert report.errors == ()  # the coroutines were held, not failed
    check_repeats(report)
    check_stalls(loop, started, ended)


def test_planned_failover(sentinel_cluster: SentinelCluster) -> None:
    with SwitchClock(sentinel_cluster) as clock, writing(sentinel_cluster) as loop:
        started = time.monotonic()
        old = sentinel_cluster.failover()
        new = sentinel_cluster.wait_for_switch()
        switched = clock.wait()
        loop.wait_for_acks(500, after=switched)
        ended = time.monotonic()
    report = final_report(sentinel_cluster, loop)
    check_first_write(loop, switched)
    assert new != old
    assert report.lost == ()
    assert report.duplicated == ()
    assert report.errors == ()
    check_stalls(loop, started, ended)


def test_frozen_master(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=2)
    with SwitchClock(cluster) as clock, writing(cluster, "?wait_replicas=1") as loop:
        started = time.monotonic()
        cluster.freeze_master()
        switched = clock.wait()
        loop.wait_for_acks(500, after=switched)
        cluster.thaw()  # the old master wakes up, still believing it is the master
        loop.wait_for_acks(500, after=time.monotonic())
        ended = time.monotonic()
    report = final_report(cluster, loop)
    assert report.lost == ()
    assert report.errors == ()
    check_repeats(report)
    check_stalls(loop, started, ended)


def test_old_master_restarted_empty_gets_no_write(sentinel_cluster: SentinelCluster) -> None:
    with writing(sentinel_cluster) as loop:
        started = time.monotonic()
        old = sentinel_cluster.kill_master()
        sentinel_cluster.wait_for_switch()
        # It comes back empty and says it is a master, until the Sentinels demote it.
        sentinel_cluster.restart_old_master()
        loop.wait_for_acks(2000, after=time.monotonic())
        old_client = sentinel_cluster.client(old)
        assert old_client.execute_command("ROLE")[0] == b"master"
        assert old_client.dbsize() == 0
        ended = time.monotonic()
    report = final_report(sentinel_cluster, loop)
    assert report.errors == ()
    check_repeats(report)
    check_stalls(loop, started, ended)


def test_sentinels_lost(sentinel_cluster: SentinelCluster) -> None:
    with writing(sentinel_cluster) as loop:
        started = time.monotonic()
        original = sentinel_cluster.master_address()
        sentinel_cluster.stop_sentinel(0)
        sentinel_cluster.failover()  # one Sentinel dead: the others still fail over
        new = sentinel_cluster.wait_for_switch()
        loop.wait_for_acks(500, after=time.monotonic())
        sentinel_cluster.stop_sentinel(1)
        sentinel_cluster.stop_sentinel(2)  # none left: the last known master keeps serving
        loop.wait_for_acks(500, after=time.monotonic())
        ended = time.monotonic()
    # Every Sentinel is down: read the list from the master they last named.
    report = loop.report(int(n) for n in sentinel_cluster.client(new).lrange("log", 0, -1))
    assert new != original
    assert report.lost == ()
    assert report.duplicated == ()
    assert report.errors == ()
    check_stalls(loop, started, ended)


def test_tls_and_acl_users_through_a_kill(
    sentinel_cluster_factory: ClusterFactory,
    tls_files: TLSFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster = sentinel_cluster_factory(
        replicas=2,
        tls=tls_files,
        username="app",
        password=SECRETS[0],
        sentinel_username="watcher",
        sentinel_password=SECRETS[1],
    )
    assert cluster.url.startswith("rediss+sentinel://")
    options = ("&" if "?" in cluster.url else "?") + "wait_replicas=1"
    with SwitchClock(cluster) as clock, writing(cluster, options) as loop:
        started = time.monotonic()
        cluster.kill_master()
        switched = clock.wait()
        loop.wait_for_acks(500, after=switched)
        ended = time.monotonic()
    report = final_report(cluster, loop)
    assert report.lost == ()
    assert report.errors == ()
    check_repeats(report)
    check_stalls(loop, started, ended)
    for secret in SECRETS:
        assert secret not in caplog.text


def test_a_least_privilege_user_through_a_planned_failover(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory(
        replicas=2, username="least", password="least-pw:1", user_rules="+@all -@dangerous"
    )
    config = dataclasses.replace(cluster.config, wait_replicas=1)
    cluster.client().delete("log")
    with (
        SwitchClock(cluster) as clock,
        AsyncWriteLoop(
            lambda: vedette.asyncio.connect(config), push, coroutines=50, pace=0.02
        ) as loop,
    ):
        loop.wait_for_acks(200, after=0)
        cluster.failover()
        loop.wait_for_acks(200, after=clock.wait())
    report = final_report(cluster, loop)
    assert report.lost == ()
    assert report.errors == ()
