"""A switch the watcher has seen is never undone by Sentinels that have not caught up.

Right after a failover the Sentinels that lost the election still name the old master for a few
milliseconds; after a planned failover the old master keeps saying ROLE master for ~10 s. A
client that reconnects on the switch must not believe such a majority: every write it made on
the old master would be lost.

The deterministic test keeps two Sentinels stale for as long as it likes: they are cut off by
access control (they can no longer reach the Redis nodes, nor be reached by the third Sentinel)
while clients still reach them, and the third fails the master over on its own (SENTINEL
FAILOVER needs no vote). The second test is the plain planned failover, repeated.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

import vedette
from vedette import Address, MasterSwitched
from vedette.testing import (
    ClusterFactory,
    SentinelCluster,
    WriteLoop,
    WriteReport,
    capture_events,
    wait_until,
)
from vedette_harness.subscriber import Subscriber

OBSERVER = ("observer", "observer-pw")  # the Sentinel user clients use in the cut-off test


def sentinel_as_observer(address: Address) -> redis.Redis:
    return redis.Redis(
        host=address.host,
        port=address.port,
        username=OBSERVER[0],
        password=OBSERVER[1],
        decode_responses=True,
    )


def named_master(sentinel: redis.Redis, service: str) -> Address:
    host, port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", service)
    return Address(host, int(port))


def cut_off(cluster: SentinelCluster, index: int) -> None:
    """Sentinel ``index`` keeps answering clients but learns nothing new any more.

    It is moved to a Redis user of its own, which is then deleted on every Redis node (so its
    links to them die and cannot come back), and the user the other Sentinels use to reach it
    is deleted on it (so their hello messages cannot reach it either).
    """
    sentinel = sentinel_as_observer(cluster.sentinel_addresses[index])
    own = f"sentinel-{index}"
    nodes = [cluster.client(node) for node in cluster.redis_addresses]
    for node in nodes:
        node.execute_command("ACL", "SETUSER", own, "on", ">own-pw", "~*", "&*", "+@all")
    name = cluster.service_name
    sentinel.execute_command("SENTINEL", "SET", name, "auth-user", own, "auth-pass", "own-pw")
    # Redis 7 drops the Sentinel's links when its credentials change; 6.2 does not: drop every
    # Sentinel's links (they reconnect within a second), so this one comes back as its own user.
    for node in nodes:
        for entry in node.client_list():
            if entry.get("name", "").startswith("sentinel-"):
                node.client_kill_filter(_id=entry["id"])

    def relinked() -> bool:
        return all(any(c["user"] == own for c in node.client_list()) for node in nodes)

    wait_until(relinked, 15, f"Sentinel {index} to reconnect as {own}")
    for node in nodes:
        node.execute_command("ACL", "DELUSER", own)  # closes its connections
    sentinel.execute_command("ACL", "DELUSER", "watcher")  # the other Sentinels' way in
    sentinel.close()


@contextmanager
def publishing(client: redis.Redis) -> Iterator[WriteLoop]:
    """Every 20 ms, a pipeline: PUBLISH n to "news" and RPUSH n to "log" (as in the report)."""

    def write(n: int) -> None:
        pipe = client.pipeline(transaction=False)
        # Two statements, not a chain: redis-py types a pipeline's commands by their replies.
        pipe.publish("news", n)
        pipe.rpush("log", n)
        pipe.execute()

    with WriteLoop(write, pace=0.02) as loop:
        yield loop


def check(
    cluster_master: redis.Redis, loop: WriteLoop, subscriber: Subscriber, switched: float
) -> WriteReport:
    report = loop.report(int(n) for n in cluster_master.lrange("log", 0, -1))
    assert report.lost == ()
    assert report.errors == ()
    # Publishes acknowledged a while after the switch reached the subscriber: it moved too.
    late = [n for n, at in loop.acked if at > switched + 1.0]
    heard = {int(data) for data in subscriber.messages}
    assert late
    assert set(late) <= heard
    assert subscriber.errors == []
    return report


def test_two_stale_sentinels_cannot_undo_a_switch(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory(
        username="app", password="app-pw", sentinel_username="watcher", sentinel_password="w-pw"
    )
    observers = [sentinel_as_observer(address) for address in cluster.sentinel_addresses]
    for index in range(3):
        cluster.sentinel(index).execute_command(
            "ACL", "SETUSER", OBSERVER[0], "on", f">{OBSERVER[1]}", "&*", "+@all"
        )
    url = cluster.url.replace("sentinel_username=watcher", f"sentinel_username={OBSERVER[0]}")
    url = url.replace("sentinel_password=w-pw", f"sentinel_password={OBSERVER[1]}")
    old = cluster.master_address()
    publisher, listener = vedette.connect(url), vedette.connect(url)
    subscriber = Subscriber(listener, "news")
    with capture_events(publisher) as events, publishing(publisher) as loop:
        loop.wait_for_acks(20, after=0)
        cut_off(cluster, 1)
        cut_off(cluster, 2)

        def failover_accepted() -> bool:
            try:
                observers[0].execute_command("SENTINEL", "FAILOVER", cluster.service_name)
            except redis.ResponseError as error:
                if "NOGOODSLAVE" in str(error):
                    return False  # its own links were dropped too: it is checking the replica
                raise
            return True

        wait_until(failover_accepted, 20, "Sentinel 0 to accept the failover")
        switch = events.wait_for(MasterSwitched, timeout=30)
        switched = time.monotonic()
        loop.wait_for_acks(100, after=switched + 1.0)
        # The two cut-off Sentinels still name the old master, which still says it is one.
        assert [named_master(observer, cluster.service_name) for observer in observers[1:]] == [
            old,
            old,
        ]
        assert cluster.client(old).execute_command("ROLE")[0] == b"master"
    subscriber.stop()
    assert (switch.old, switch.new) == (old, named_master(observers[0], cluster.service_name))
    check(cluster.client(switch.new), loop, subscriber, switched)
    assert events.of(MasterSwitched) == [switch]  # never switched back by reconciliation
    publisher.close()
    listener.close()


@pytest.mark.parametrize("run", range(2))
def test_planned_failover_with_a_publisher_and_a_subscriber(
    sentinel_cluster: SentinelCluster, run: int
) -> None:
    # The scenario of the report, where the stale answers last 3-73 ms: repeated.
    publisher = vedette.connect(sentinel_cluster.url)
    listener = vedette.connect(sentinel_cluster.url)
    subscriber = Subscriber(listener, "news")
    with capture_events(publisher) as events, publishing(publisher) as loop:
        loop.wait_for_acks(20, after=0)
        sentinel_cluster.failover()
        switch = events.wait_for(MasterSwitched, timeout=30)
        switched = time.monotonic()
        loop.wait_for_acks(100, after=switched + 1.0)
    subscriber.stop()
    check(sentinel_cluster.client(switch.new), loop, subscriber, switched)
    publisher.close()
    listener.close()
