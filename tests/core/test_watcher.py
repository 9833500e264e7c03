"""FailoverWatcher against real Sentinels: typed events, each once, reconciliation, lifecycle."""

import dataclasses
import logging
import threading

import pytest

import vedette
from vedette import (
    Address,
    FailoverEvent,
    FailoverStarted,
    FailoverWatcher,
    MasterDown,
    MasterSwitched,
    PromotionStarted,
    SentinelLost,
    SentinelRecovered,
)
from vedette.testing import SentinelCluster, wait_until
from vedette.testing._process import free_ports


def collect(watcher: FailoverWatcher) -> list[FailoverEvent]:
    events: list[FailoverEvent] = []
    watcher.subscribe(events.append)
    return events


def all_name(cluster: SentinelCluster, master: Address) -> bool:
    name = cluster.service_name
    return all(
        cluster.sentinel(i).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
        == [master.host, str(master.port)]
        for i in range(3)
    )


def of_type(events: list[FailoverEvent], kind: type[FailoverEvent]) -> list[FailoverEvent]:
    return [event for event in events if isinstance(event, kind)]


def test_planned_failover_events_once_each_in_order(sentinel_cluster: SentinelCluster) -> None:
    with FailoverWatcher(sentinel_cluster.config) as watcher:
        old = watcher.wait_for_master(5)
        events = collect(watcher)
        stream = watcher.events(timeout=15)
        sentinel_cluster.failover()
        new = sentinel_cluster.wait_for_switch()
        streamed = []
        for event in stream:
            streamed.append(event)
            if isinstance(event, MasterSwitched):
                break
        # Every Sentinel publishes +switch-master: once all name the new master, every copy
        # was sent; none may become a second event.
        wait_until(lambda: all_name(sentinel_cluster, new), 10, "every Sentinel to switch")
        assert list(watcher.events(timeout=0.5)) == []
    kinds = [type(event) for event in events]
    assert kinds == [FailoverStarted, PromotionStarted, MasterSwitched]
    assert streamed == events
    switched = events[-1]
    assert isinstance(switched, MasterSwitched)
    assert (switched.old, switched.new, switched.via) == (old, new, "event")
    assert switched.service == "vedette"
    assert switched.at.tzinfo is not None
    promotion = events[1]
    assert isinstance(promotion, PromotionStarted)
    assert promotion.replica == new
    assert not watcher.promoting
    assert watcher.switches == 1


def test_kill_master_reports_down_then_switch(sentinel_cluster: SentinelCluster) -> None:
    with FailoverWatcher(sentinel_cluster.config) as watcher:
        watcher.wait_for_master(5)
        events = collect(watcher)
        old = sentinel_cluster.kill_master()
        new = sentinel_cluster.wait_for_switch()
        wait_until(lambda: of_type(events, MasterSwitched), 5, "MasterSwitched")
    assert [type(event) for event in events[:2]] == [MasterDown, FailoverStarted]
    (switched,) = of_type(events, MasterSwitched)
    assert isinstance(switched, MasterSwitched)
    assert (switched.old, switched.new) == (old, new)


def test_switch_missed_while_disconnected_is_reconciled_once(
    sentinel_cluster: SentinelCluster,
) -> None:
    # Reconnecting takes 3 s, so the +switch-master published meanwhile is never heard.
    config = dataclasses.replace(sentinel_cluster.config, min_backoff=3, max_backoff=3)
    with FailoverWatcher(config) as watcher:
        old = watcher.wait_for_master(5)
        events = collect(watcher)
        promoting = threading.Event()

        def on_event(event: FailoverEvent) -> None:
            if isinstance(event, PromotionStarted):
                promoting.set()

        watcher.subscribe(on_event)
        sentinel_cluster.failover()
        assert promoting.wait(10)
        for index in range(3):  # cut every subscription mid-failover
            sentinel_cluster.sentinel(index).execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        new = sentinel_cluster.wait_for_switch()
        wait_until(lambda: len(of_type(events, SentinelRecovered)) == 3, 15, "resubscription")
        wait_until(lambda: of_type(events, MasterSwitched), 5, "the reconciled switch")
    (switched,) = of_type(events, MasterSwitched)
    assert isinstance(switched, MasterSwitched)
    assert (switched.old, switched.new, switched.via) == (old, new, "reconciliation")
    assert len(of_type(events, SentinelLost)) == 3


def test_dead_sentinel_lost_and_recovered(sentinel_cluster: SentinelCluster) -> None:
    with FailoverWatcher(sentinel_cluster.config) as watcher:
        watcher.wait_for_master(5)
        events = collect(watcher)
        dead = sentinel_cluster.stop_sentinel(1)
        wait_until(lambda: of_type(events, SentinelLost), 5, "SentinelLost")
        sentinel_cluster.start_sentinel(1)
        wait_until(lambda: of_type(events, SentinelRecovered), 10, "SentinelRecovered")
    assert [type(event) for event in events] == [SentinelLost, SentinelRecovered]
    lost = events[0]
    assert isinstance(lost, SentinelLost)
    assert lost.sentinel == dead
    assert "unreachable" in lost.reason or "closed" in lost.reason


def test_failing_callback_is_logged_and_others_still_run(
    sentinel_cluster: SentinelCluster, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: FailoverEvent) -> None:
        raise RuntimeError("boom")

    with FailoverWatcher(sentinel_cluster.config) as watcher:
        watcher.wait_for_master(5)
        watcher.subscribe(broken)
        events = collect(watcher)
        with caplog.at_level(logging.ERROR, logger="vedette.watcher"):
            sentinel_cluster.stop_sentinel(0)
            wait_until(lambda: events, 5, "SentinelLost")
    assert "failover event callback" in caplog.text
    assert "boom" in caplog.text


def test_closing_a_client_never_races_its_reconciler(
    sentinel_cluster: SentinelCluster, caplog: pytest.LogCaptureFixture
) -> None:
    # Closing cuts the reconciler's lookup in flight: once in a few hundred cycles the cut came
    # between two replies of a pipeline, and redis-py's AttributeError was logged as a failed
    # reconciliation (printed at the exit of a successful `vedette schedule list`).
    # A number of cycles, not a time: a loaded CI machine ran 69 in 5 s.
    with caplog.at_level(logging.WARNING, logger="vedette"):
        for _ in range(150):
            client = vedette.connect(sentinel_cluster.url)
            client.ping()
            client.close()
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert said == []


def test_close_ends_iterators_and_threads(sentinel_cluster: SentinelCluster) -> None:
    before = {t for t in threading.enumerate() if t.name.startswith("vedette-watcher")}
    watcher = FailoverWatcher(sentinel_cluster.config).start()
    watcher.wait_for_master(5)
    stream = watcher.events()
    ended = threading.Event()

    def drain() -> None:
        for _ in stream:
            pass
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    watcher.close()
    assert ended.wait(5)
    after = {t for t in threading.enumerate() if t.name.startswith("vedette-watcher")}
    assert after - before == set()
    assert list(watcher.events()) == []  # a closed watcher's stream is empty
    with watcher:  # and it can run again, from what it knew
        assert watcher.master == sentinel_cluster.master_address()


def test_with_no_sentinel_ever_reachable_no_master_is_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = vedette.SentinelConfig(
        sentinels=[f"127.0.0.1:{port}" for port in free_ports(2)], service_name="nowhere"
    )
    with caplog.at_level(logging.WARNING, logger="vedette"), FailoverWatcher(config):
        wait_until(lambda: "no Sentinel is reachable" in caplog.text, 10, "the warning")
    assert "no master was ever known" in caplog.text
    assert "None" not in caplog.text
