"""vedette.testing helpers that are not clusters: waiting, capturing and scripting events."""

from __future__ import annotations

import threading

import pytest

import vedette
from vedette import FailoverAborted, MasterSwitched, PromotionStarted, SentinelLost
from vedette.testing import (
    ClusterError,
    ScriptedWatcher,
    SentinelCluster,
    WaitTimeout,
    capture_events,
    wait_until,
)


def test_wait_until_raises_a_timeout_error_naming_what_it_waited_for() -> None:
    with pytest.raises(TimeoutError, match="waiting for the impossible") as raised:
        wait_until(lambda: False, 0.05, "the impossible")
    assert isinstance(raised.value, WaitTimeout)
    assert isinstance(raised.value, ClusterError)


def test_capture_events_of_a_client(sentinel_cluster: SentinelCluster) -> None:
    with vedette.connect(sentinel_cluster.url) as client, capture_events(client) as events:
        client.ping()
        sentinel_cluster.stop_sentinel(2)
        lost = events.wait_for(SentinelLost, timeout=10)
        assert lost.sentinel == sentinel_cluster.sentinel_addresses[2]
        with pytest.raises(WaitTimeout):
            events.wait_for(MasterSwitched, timeout=0.1)
    assert events.of(SentinelLost) == [lost]


def test_a_scripted_promotion_holds_a_real_clients_writes(
    sentinel_cluster: SentinelCluster,
) -> None:
    master = sentinel_cluster.master_address()
    replica = sentinel_cluster.redis_addresses[1]
    scripted = ScriptedWatcher(sentinel_cluster.config, master=master)
    client = vedette.connect(sentinel_cluster.config, watcher=scripted)
    client.set("k", "before")
    name = sentinel_cluster.service_name
    slave = f"slave {replica} {replica.host} {replica.port} @ {name} {master.host} {master.port}"
    (promotion,) = scripted.play(f"+failover-state-send-slaveof-noone {slave}")
    assert isinstance(promotion, PromotionStarted)
    written: list[float] = []

    def write() -> None:
        client.set("k", "after")
        written.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=0.3)  # the point is that nothing happens for a while: it is held
    assert writer.is_alive()
    assert written == []
    assert sentinel_cluster.client().get("k") == b"before"
    leader = f"master {name} {master.host} {master.port}"
    scripted.play(f"+elected-leader {leader}", f"-failover-abort-no-good-slave {leader}")
    writer.join(5)
    assert written == [1]
    assert sentinel_cluster.client().get("k") == b"after"
    client.close()


def test_a_scripted_watcher_starts_no_thread() -> None:
    before = set(threading.enumerate())
    config = vedette.SentinelConfig(sentinels=["10.0.0.1"], service_name="svc")
    # Bound before the `with`: FailoverWatcher.__enter__ is typed to return a FailoverWatcher,
    # which would hide `play`.
    scripted = ScriptedWatcher(config, master="10.0.0.5:6379")
    with scripted:
        events = scripted.play(
            "+try-failover master svc 10.0.0.5 6379",
            "-failover-abort-not-elected master svc 10.0.0.5 6379",
        )
        assert set(threading.enumerate()) == before
    assert [type(event) for event in events][-1] is FailoverAborted
