"""Pub/sub and blocking commands through faults: held like other commands, never cut short.

- A subscriber is held through a kill -9 like any command (no ConnectionError reaches it), and
  hears the new master's messages afterwards.
- A blocking command waits for as long as it asked, whatever ``socket_timeout`` (a ``BRPOP``
  of 3 s on a 0.5 s socket timeout returns nil, never a TimeoutError), and a switch moves it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import vedette
from vedette import MasterSwitched
from vedette.testing import ClusterFactory, SentinelCluster, capture_events, wait_until
from vedette_harness.subscriber import Subscriber


def test_a_subscriber_is_held_through_a_kill(sentinel_cluster: SentinelCluster) -> None:
    client = vedette.connect(sentinel_cluster.url)
    listener = Subscriber(client, "news")
    wait_until(lambda: client.publish("news", "first") == 1, 10, "the subscription")
    with capture_events(client) as events:
        sentinel_cluster.kill_master()
        events.wait_for(MasterSwitched, timeout=30)
    # The subscriber moved to the new master and subscribed again there.
    wait_until(lambda: client.publish("news", "after") == 1, 10, "the subscription to move")
    wait_until(lambda: b"after" in listener.messages, 10, "the message from the new master")
    listener.stop()
    assert listener.errors == []
    client.close()


def test_listen_waits_for_messages_however_long(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=0)
    client = vedette.connect(cluster.url + "?socket_timeout=0.5")
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("quiet")
    received: list[Any] = []
    thread = threading.Thread(target=lambda: received.append(next(pubsub.listen())))
    thread.start()
    started = time.monotonic()
    wait_until(lambda: time.monotonic() - started > 2, 5, "four socket timeouts of silence")
    assert client.publish("quiet", "at last") == 1
    thread.join(10)
    assert [message["data"] for message in received] == [b"at last"]
    pubsub.close()
    client.close()


def test_blocking_commands_wait_as_long_as_they_asked(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory(replicas=0)
    # retry_deadline 1 s: waiting longer than that must come from the command's own timeout.
    client = vedette.connect(cluster.url + "?socket_timeout=0.5&retry_deadline=1")
    started = time.monotonic()
    assert client.brpop(["empty"], timeout=3) is None  # nil after 3 s, not a TimeoutError
    assert 3 <= time.monotonic() - started < 5
    assert client.xread({"stream": "$"}, block=2500) in ([], {}, None)
    assert time.monotonic() - started >= 5.5

    popped: list[Any] = []
    blocked = threading.Thread(target=lambda: popped.append(client.brpop(["jobs"], timeout=0)))
    blocked.start()
    wait_until(lambda: time.monotonic() - started > 8, 10, "BRPOP 0 to block past the deadline")
    cluster.client().lpush("jobs", "job")
    blocked.join(10)
    assert popped == [(b"jobs", b"job")]
    client.close()


def test_a_switch_moves_a_blocked_pop_to_the_new_master(sentinel_cluster: SentinelCluster) -> None:
    client = vedette.connect(sentinel_cluster.url)
    popped: list[Any] = []
    errors: list[Exception] = []

    def pop() -> None:
        try:
            popped.append(client.brpop(["jobs"], timeout=0))
        except Exception as error:
            errors.append(error)

    thread = threading.Thread(target=pop)
    thread.start()
    old = sentinel_cluster.master_address()
    wait_until(
        lambda: any(c.get("cmd") == "brpop" for c in sentinel_cluster.client(old).client_list()),
        5,
        "BRPOP to block on the master",
    )
    with capture_events(client) as events:
        sentinel_cluster.failover()
        switch = events.wait_for(MasterSwitched, timeout=30)
    new_master = sentinel_cluster.client(switch.new)
    wait_until(
        lambda: any(c.get("cmd") == "brpop" for c in new_master.client_list()),
        10,
        "BRPOP to block on the new master",
    )
    new_master.lpush("jobs", "job")
    thread.join(10)
    assert errors == []
    assert popped == [(b"jobs", b"job")]
    client.close()
