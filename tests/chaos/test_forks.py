"""Clients across os.fork(): no lock inherited held, a child follows failovers, one watcher each.

Celery's prefork pool and RQ (a child per job) fork processes that use clients made before the
fork. The child must not hang on a lock another thread held at the fork, must hear of a switch
on its own (the parent's watcher threads do not exist in it), and must not pay for a watcher
per client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import cast

import pytest

import vedette
from vedette import FailoverWatcher, MasterSwitched, PromotionStarted
from vedette.testing import (
    ClusterFactory,
    SentinelCluster,
    SwitchClock,
    WriteLoop,
    capture_events,
    unresponsive_address,
    wait_until,
)

# Forking a process that runs threads is what these tests are about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


def in_child(
    work: Callable[[], object], timeout: float = 60, *, then: Callable[[], object] | None = None
) -> object:
    """Run ``work`` in a forked child; its JSON result, or raise if it failed or hung.

    ``then`` runs in the parent right after the fork, while the child works.
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 0
        try:
            signal.alarm(int(timeout))
            result = json.dumps({"ok": work()})
        except BaseException as error:  # reported to the parent
            result, status = json.dumps({"error": f"{type(error).__name__}: {error}"}), 1
        os.write(writer, result.encode())
        os._exit(status)
    os.close(writer)
    if then is not None:
        then()
    deadline = time.monotonic() + timeout + 5
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"the child hung for {timeout} s")
        time.sleep(0.01)
    with os.fdopen(reader, "rb") as pipe:
        output = pipe.read()
    if not output:
        raise AssertionError(f"the child died without a word (status {status})")
    reply = json.loads(output)
    if "error" in reply:
        raise AssertionError(f"the child failed: {reply['error']}")
    return reply["ok"]


def watcher_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vedette-watcher")]


def test_fork_while_another_thread_looks_up_the_master(sentinel_cluster: SentinelCluster) -> None:
    with unresponsive_address() as dead:
        # A dead Sentinel and one live one: no majority without the dead one, so the lookup
        # waits out its connect timeout; the fork lands in the middle of it.
        config = dataclasses.replace(
            sentinel_cluster.config,
            sentinels=(dead, sentinel_cluster.sentinel_addresses[0]),
            sentinel_connect_timeout=2.0,
        )
        client = vedette.connect(config)
        pool = client.connection_pool
        assert isinstance(pool, vedette.MasterPool)
        looking_up = threading.Thread(target=client.ping)
        looking_up.start()
        wait_until(lambda: pool.hub._looking, 5, "the lookup to start")
        assert in_child(lambda: client.ping(), timeout=20) is True
        looking_up.join(10)
        client.close()


@pytest.mark.parametrize(
    ("share", "child_watches"),
    [("default", False), ("explicit watcher", False), ("default", True)],
    ids=["follows its parent", "follows its parent, explicit watcher", "watches on its own"],
)
def test_a_forked_child_follows_a_planned_failover(
    sentinel_cluster: SentinelCluster, share: str, child_watches: bool
) -> None:
    config = sentinel_cluster.config
    watcher = FailoverWatcher(config) if share == "explicit watcher" else None
    client = vedette.connect(config, watcher=watcher)
    other = vedette.connect(config, watcher=watcher)  # a second pool on the same watcher
    client.delete("log")
    other.ping()
    old = sentinel_cluster.master_address()

    def child_writes() -> list[int]:
        # Writes until well after the master switched, with the parent's client.
        pool = client.connection_pool
        assert isinstance(pool, vedette.MasterPool)
        with contextlib.ExitStack() as stack:
            events = stack.enter_context(capture_events(client)) if child_watches else None
            loop = stack.enter_context(WriteLoop(lambda n: client.rpush("log", n)))
            loop.wait_for_acks(20, after=0)
            switches = pool.watcher.switches
            os.kill(os.getppid(), signal.SIGUSR1)  # tell the parent to fail over now
            if events is not None:
                events.wait_for(MasterSwitched, timeout=30)
            else:  # what the parent's watcher knows, read from shared memory
                wait_until(lambda: pool.watcher.switches > switches, 30, "the switch")
            loop.wait_for_acks(200, after=time.monotonic())
        return [n for n, _ in loop.acked]

    go = threading.Event()
    previous = signal.signal(signal.SIGUSR1, lambda *_: go.set())
    try:
        thread = threading.Thread(target=lambda: go.wait(30) and sentinel_cluster.failover())
        thread.start()
        acked = in_child(child_writes, timeout=60)
        thread.join(10)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    new = sentinel_cluster.wait_for_switch(from_address=old)
    held = {int(n) for n in sentinel_cluster.client(new).lrange("log", 0, -1)}
    assert isinstance(acked, list)
    assert [n for n in acked if n not in held] == []  # no acknowledged write lost
    client.close()
    other.close()


def test_clients_of_one_configuration_share_one_watcher(sentinel_cluster: SentinelCluster) -> None:
    before = len(watcher_threads())
    clients = [vedette.connect(sentinel_cluster.url) for _ in range(3)]
    replica = vedette.connect_replica(sentinel_cluster.url)
    for client in [*clients, replica]:
        client.ping()
    pools = [client.connection_pool for client in [*clients, replica]]
    assert len({id(pool.watcher) for pool in pools}) == 1  # type: ignore[attr-defined]
    # A reconciler, a dispatcher, and one listener per Sentinel: not 5 threads per client.
    wait_until(lambda: len(watcher_threads()) - before == 5, 10, "the watcher's threads")
    for client in clients[:-1]:
        client.close()
    assert len(watcher_threads()) - before == 5  # the last clients still use it
    clients[-1].close()
    replica.close()
    wait_until(lambda: len(watcher_threads()) == before, 5, "the watcher to stop")


def test_close_does_not_wait_for_a_frozen_sentinel(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory()
    client = vedette.connect(cluster.url)
    client.ping()
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    wait_until(lambda: len(pool.watcher.sentinels) == 3, 5, "every Sentinel to be watched")
    cluster.freeze_sentinel(1)
    started = time.monotonic()
    client.close()
    took = time.monotonic() - started
    cluster.thaw()
    # Its connections are cut, not waited for: the old client took ~1 s (the Sentinel timeout).
    assert took < 0.5


def test_a_forked_child_follows_its_parents_watcher_with_no_thread(
    sentinel_cluster: SentinelCluster,
) -> None:
    client = vedette.connect(sentinel_cluster.url)
    client.set("k", "v")
    master = sentinel_cluster.master_address()

    def child() -> dict[str, object]:
        pool = client.connection_pool
        assert isinstance(pool, vedette.MasterPool)
        value = cast("bytes | None", client.get("k"))
        following: dict[str, object] = {
            "master": str(pool.watcher.master),  # the parent's, read from shared memory
            "value": value.decode() if value else None,
            "threads": watcher_threads(),
        }
        # Asking for events needs a watcher of its own: it starts one.
        with capture_events(client):
            wait_until(lambda: len(watcher_threads()) >= 5, 10, "the child's watcher threads")
        return following

    assert in_child(child) == {"master": str(master), "value": "v", "threads": []}
    assert client.get("k") == b"v"  # the parent's client is untouched by the child
    client.close()


def vedette_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vedette-")]


def sentinel_subscribers(cluster: SentinelCluster) -> int:
    """The pub/sub clients of Sentinel 0: one per watcher listening to it."""
    listed = cluster.sentinel(0).execute_command("CLIENT", "LIST", "TYPE", "pubsub")
    return len(str(listed).splitlines())


@pytest.mark.parametrize("fault", ["none", "kill"])
def test_clients_a_child_makes_follow_its_parents_watcher_too(
    sentinel_cluster: SentinelCluster, fault: str
) -> None:
    # What Celery's pool children do: the broker's client (db 0) watches in the parent, and the
    # child first uses the result backend's (db 1), and replicas: no thread, no subscription.
    client = vedette.connect(sentinel_cluster.url)
    client.ping()
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    wait_until(lambda: len(pool.watcher.sentinels) == 3, 5, "every Sentinel to be watched")
    wait_until(lambda: sentinel_subscribers(sentinel_cluster) == 1, 5, "the parent's listener")
    results_config = dataclasses.replace(sentinel_cluster.config, db=1)
    if fault == "kill":
        sentinel_cluster.kill_master()
        sentinel_cluster.wait_for_switch(30)
        wait_until(lambda: pool.watcher.master == sentinel_cluster.master_address(), 10, "news")

    def child() -> dict[str, object]:
        results = vedette.connect(results_config)
        results.set("result", "done")
        replica = vedette.connect_replica(results_config)
        replica.get("result")  # asks the Sentinels for the replicas, on this thread
        seen = {"threads": vedette_threads(), "subscribers": sentinel_subscribers(sentinel_cluster)}
        results.close()
        replica.close()
        return seen

    assert in_child(child) == {"threads": [], "subscribers": 1}
    client.close()


def test_a_forked_child_watches_on_its_own_once_the_parent_stops(
    sentinel_cluster: SentinelCluster,
) -> None:
    client = vedette.connect(sentinel_cluster.url)
    client.ping()
    reader, writer = os.pipe()

    def child() -> list[str]:
        os.read(reader, 1)  # the parent closed its client: its watcher stopped
        client.connection_pool.disconnect()
        client.ping()  # reconnects: no parent to follow, so it watches on its own
        wait_until(lambda: len(watcher_threads()) >= 5, 10, "the child's watcher threads")
        return watcher_threads()

    def parent_stops() -> None:
        client.close()
        os.write(writer, b"x")

    assert in_child(child, timeout=30, then=parent_stops)


def test_a_child_never_cuts_its_parents_connections(sentinel_cluster: SentinelCluster) -> None:
    client = vedette.connect(sentinel_cluster.url)
    client.set("k", "v")
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)

    def child() -> bool:
        # What a master switch does, in the child, before it made a connection of its own:
        # the sockets it sees are the parent's, and shutting them down would cut the parent.
        pool.drop_connections(lambda address: True)
        return True

    assert in_child(child) is True
    connection = pool._available_connections[0]
    assert connection._sock is not None
    assert client.get("k") == b"v"  # on the same pooled connection, untouched
    assert pool._available_connections == [connection]
    client.close()


def test_a_child_forked_during_a_promotion_writes_once_it_ends(
    sentinel_cluster: SentinelCluster,
) -> None:
    client = vedette.connect(sentinel_cluster.url + "?retry_deadline=30")
    client.set("k", "before")
    with capture_events(client) as events:
        sentinel_cluster.failover()
        events.wait_for(PromotionStarted, timeout=30)

        def child() -> float:
            started = time.monotonic()
            client.set("k", "child")  # held until the parent's watcher sees the switch
            return time.monotonic() - started

        took = in_child(child, timeout=40)
        switch = events.wait_for(MasterSwitched, timeout=30)
    assert isinstance(took, float)
    assert took < 10  # not the 30 s of retry_deadline
    assert sentinel_cluster.client(switch.new).get("k") == b"child"
    client.close()


@pytest.mark.parametrize(
    ("fault", "connected"),
    [("kill", True), ("freeze", True), ("freeze", False)],
    ids=["kill", "freeze", "freeze, connecting"],
)
def test_a_child_moves_to_the_new_master_as_soon_as_its_parent_hears_of_it(
    sentinel_cluster: SentinelCluster, fault: str, connected: bool
) -> None:
    # Pauses and socket timeouts far longer than a failover: only noticing the parent's view of
    # the switch makes the child's command finish soon after it. A killed master refuses the
    # child's connections (a retry pause follows each); a frozen one leaves its read waiting, or
    # the handshake of a connection the child makes after the freeze (as each work horse does).
    url = sentinel_cluster.url + "?min_backoff=10&max_backoff=10&socket_timeout=20"
    client = vedette.connect(url)
    client.set("k", "before")
    go = threading.Event()

    def child() -> float:
        if connected:
            client.set("k", "warm")  # the child's own connection, to the master
        os.kill(os.getppid(), signal.SIGUSR1)  # the parent breaks the master now
        time.sleep(0.2)  # the fault lands while the child is idle or mid-command
        client.set("k", "child")
        return time.monotonic()

    def fault_now() -> None:
        go.wait(30)
        if fault == "kill":
            sentinel_cluster.kill_master()
        else:
            sentinel_cluster.freeze_master()

    previous = signal.signal(signal.SIGUSR1, lambda *_: go.set())
    try:
        with SwitchClock(sentinel_cluster) as clock:
            thread = threading.Thread(target=fault_now)
            thread.start()
            done = in_child(child, timeout=60)
            thread.join(10)
            new = sentinel_cluster.wait_for_switch(30)
            wait_until(lambda: str(new) in clock.switched_at, 10, "the switch to be clocked")
    finally:
        signal.signal(signal.SIGUSR1, previous)
        sentinel_cluster.thaw()
    assert isinstance(done, float)
    assert done - clock.switched_at[str(new)] < 1.0  # not the 10 s pause, nor 20 s of timeout
    assert sentinel_cluster.client(new).get("k") == b"child"
    client.close()


def test_a_forked_child_starts_from_a_fresh_process_state() -> None:
    from vedette.process import reentry
    from vedette.process.state import state

    class Owner:
        restarted = False

        def _after_fork(self) -> None:
            self.restarted = True

    owner = Owner()
    state.restart_after_fork(owner)
    state.hubs_lock.acquire()  # as a thread holding it at the fork would
    try:

        def child() -> object:
            inside = reentry.called_back()
            took_lock = state.hubs_lock.acquire(timeout=5)
            if took_lock:
                state.hubs_lock.release()
            return {
                "lock": took_lock,
                "owner": owner.restarted,
                "inside": inside,
                "jitter": state.jitter.random(),
            }

        seen = cast(dict[str, object], in_child(child))
        parents_next = state.jitter.random()
    finally:
        state.hubs_lock.release()
    assert seen["lock"] is True
    assert seen["owner"] is True
    assert seen["inside"] is False  # the parent's thread was inside Vedette: the child's is not
    assert seen["jitter"] != parents_next  # children do not back off in step with their parent
    assert owner.restarted is False
