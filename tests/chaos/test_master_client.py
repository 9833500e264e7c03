"""vedette.connect() through real faults: a write loop, then what the final master holds.

Each test writes 0, 1, 2 ... to a list through `vedette.connect()` while a fault hits the
master, then compares the acknowledged writes with the list on the new master.

Zero loss after kill -9 or a freeze needs ``wait_replicas``: with asynchronous replication the
master may acknowledge a write a few microseconds before the replica has it, and die in between.
Those tests run with two replicas, so the new master still has one to confirm writes.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

import vedette
from vedette import MasterSwitched
from vedette.testing import (
    ClusterFactory,
    SentinelCluster,
    SwitchClock,
    WriteLoop,
    WriteReport,
    capture_events,
    wait_until,
)


@contextmanager
def writing(cluster: SentinelCluster, options: str = "") -> Iterator[WriteLoop]:
    client = vedette.connect(cluster.url + options)
    client.delete("log")
    with WriteLoop(lambda n: client.rpush("log", n)) as loop:
        loop.wait_for_acks(100, after=0)
        yield loop
    client.close()


def final_report(cluster: SentinelCluster, loop: WriteLoop) -> WriteReport:
    return loop.report(int(n) for n in cluster.client().lrange("log", 0, -1))


def test_kill_master(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=2)
    with SwitchClock(cluster) as clock, writing(cluster, "?wait_replicas=1") as loop:
        cluster.kill_master()
        switched = clock.wait()
        loop.wait_for_acks(100, after=switched)
    report = final_report(cluster, loop)
    first = loop.first_ack_after(switched)
    assert first is not None
    assert first - switched < 0.1  # first write within 100 ms of +switch-master
    assert report.lost == ()
    assert report.errors == ()  # the producer was held, not failed


def test_planned_failover(sentinel_cluster: SentinelCluster) -> None:
    # The default configuration: no WAIT. The old master stays writable for ~10 s after the
    # promotion; writes are held from the promotion to +switch-master so none is sent there.
    with writing(sentinel_cluster) as loop:
        old = sentinel_cluster.failover()
        new = sentinel_cluster.wait_for_switch()
        loop.wait_for_acks(100, after=loop.acked[-1][1])
    report = final_report(sentinel_cluster, loop)
    assert new != old
    assert report.lost == ()
    assert report.duplicated == ()
    assert report.errors == ()
    assert report.longest_pause < 3  # promotion to switch: ~1 s


def test_frozen_master(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=2)
    with SwitchClock(cluster) as clock, writing(cluster, "?wait_replicas=1") as loop:
        cluster.freeze_master()
        switched = clock.wait()
        loop.wait_for_acks(100, after=switched)
        cluster.thaw()  # the old master wakes up, still believing it is the master
        loop.wait_for_acks(100, after=loop.acked[-1][1])
    report = final_report(cluster, loop)
    assert report.lost == ()
    assert report.errors == ()


def test_old_master_restarted_empty_gets_no_write(sentinel_cluster: SentinelCluster) -> None:
    with writing(sentinel_cluster) as loop:
        old = sentinel_cluster.kill_master()
        sentinel_cluster.wait_for_switch()
        # It comes back empty and says it is a master, until the Sentinels demote it (~20 s).
        sentinel_cluster.restart_old_master()
        loop.wait_for_acks(500, after=loop.acked[-1][1])
        old_client = sentinel_cluster.client(old)
        assert old_client.execute_command("ROLE")[0] == b"master"
        assert old_client.dbsize() == 0
    report = final_report(sentinel_cluster, loop)
    assert report.errors == ()


def test_sentinels_dying(
    sentinel_cluster: SentinelCluster, caplog: pytest.LogCaptureFixture
) -> None:
    client = vedette.connect(sentinel_cluster.url)
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    client.set("k", 0)
    sentinel_cluster.stop_sentinel(0)
    # One dead: a failover still happens, the watcher hears it from the others.
    switches = pool.watcher.switches
    sentinel_cluster.failover()
    new = sentinel_cluster.wait_for_switch()
    wait_until(lambda: pool.watcher.switches > switches, 10, "the watcher to see the switch")
    assert pool.watcher.master == new
    assert client.incr("k") == 1
    # Two dead: the one left answers discovery.
    sentinel_cluster.stop_sentinel(1)
    pool.drop_connections(lambda address: True)
    assert client.incr("k") == 2
    # All dead: the last known master keeps serving, with a warning.
    sentinel_cluster.stop_sentinel(2)
    pool.drop_connections(lambda address: True)
    assert client.incr("k") == 3
    wait_until(
        lambda: (
            f"no Sentinel is reachable; clients keep using the last known master {new}"
            in caplog.text
        ),
        10,
        "the warning that every Sentinel is gone",
    )
    assert sentinel_cluster.client(new).get("k") == b"3"
    client.close()


def test_ensure_call_across_a_failover(sentinel_cluster: SentinelCluster) -> None:
    # A client that gives up fast, so ensure_call does the waiting.
    client = vedette.connect(sentinel_cluster.url + "?retry_deadline=0.2")
    client.set("k", 1)
    sentinel_cluster.kill_master()
    with pytest.raises(redis.ConnectionError):
        client.get("k")
    assert vedette.ensure_call(client.incr, "k") == 2
    client.close()


def test_ensure_call_times_out_without_a_master(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=0)  # nothing to promote
    client = vedette.connect(cluster.url + "?retry_deadline=0.2")
    client.set("k", 1)
    cluster.kill_master()
    with pytest.raises(vedette.FailoverTimeout) as caught:
        vedette.ensure_call(client.get, "k", deadline=2)
    assert isinstance(caught.value.__cause__, redis.ConnectionError)
    assert caught.value.attempts > 1
    assert "still failing after 2 s" in str(caught.value)
    client.close()


def test_a_transaction_watching_keys_across_a_switch_fails_as_watched(
    sentinel_cluster: SentinelCluster,
) -> None:
    client = vedette.connect(sentinel_cluster.url)
    client.set("k", "theirs-before")
    with client.pipeline() as pipe, capture_events(client) as events:
        pipe.watch("k")
        sentinel_cluster.failover()
        switch = events.wait_for(MasterSwitched, timeout=30)
        sentinel_cluster.client(switch.new).set("k", "theirs-after")  # someone else's write
        pipe.multi()
        pipe.set("k", "mine")
        with pytest.raises(redis.WatchError):  # as plain redis-py says when WATCH is lost
            pipe.execute()
    assert sentinel_cluster.client(switch.new).get("k") == b"theirs-after"
    client.close()


def test_a_disconnected_pool_watches_again_when_used(sentinel_cluster: SentinelCluster) -> None:
    client = vedette.connect(sentinel_cluster.url)
    client.ping()
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    pool.disconnect()  # a common redis-py idiom after errors: the pool goes on being used
    assert watcher_is_closed(pool)
    client.ping()
    assert not watcher_is_closed(pool)  # it reacts to failovers again
    client.close()


def watcher_is_closed(pool: vedette.MasterPool) -> bool:
    return pool.watcher.closed  # read through a call: mypy keeps attributes narrowed


def test_a_client_first_used_while_the_master_is_down_writes_as_soon_as_one_is_known(
    sentinel_cluster: SentinelCluster,
) -> None:
    # A process started during the outage (RQ's spawned work horse): its watcher never knew a
    # master, so the new one is not a "switch" to it; its retries must not sleep their pause out.
    sentinel_cluster.kill_master()
    with SwitchClock(sentinel_cluster) as clock:
        # Long pauses between attempts: only the news of the master can cut them short.
        client = vedette.connect(sentinel_cluster.url + "?min_backoff=2&max_backoff=2")
        client.set("k", 1)  # waits the failover out
        written = time.monotonic()
        switched = clock.wait()
    client.close()
    assert written - switched < 0.5


def test_a_connection_opened_during_a_promotion_is_held_too(
    sentinel_cluster: SentinelCluster,
) -> None:
    # A pool opens connections under load at any moment, a promotion's included: the first
    # command on one must be held like every other, not written to the master being replaced
    # (the promoted replica no longer replicates from it: such a write would be lost).
    client = vedette.connect(sentinel_cluster.url)
    client.ping()
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    old = sentinel_cluster.master_address()
    (replica,) = [a for a in sentinel_cluster.redis_addresses if a != old]

    def promoted() -> bool:
        try:
            return bool(sentinel_cluster.client(replica).execute_command("ROLE")[0] == b"master")
        except redis.ConnectionError:  # the replica drops its clients as it is promoted
            return False

    sentinel_cluster.failover()
    wait_until(promoted, 10, "the replica to be promoted")
    assert pool.watcher.promoting  # and +switch-master not published yet
    fresh = vedette.connect(sentinel_cluster.url)  # same hub and watcher, a new connection
    fresh.set("written", "during the promotion")
    assert sentinel_cluster.wait_for_switch() == replica
    assert sentinel_cluster.client(replica).get("written") == b"during the promotion"
    fresh.close()
    client.close()
