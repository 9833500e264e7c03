"""What a command gets when its reply is late or lost (docs/failover.md, "What a retry may repeat").

With the master frozen for a while (no failover), a command whose reply is late is waited for
while the server is still the master: it runs once (no RPOP or BRPOP loses a job, no LPUSH
stores one twice, no INCR counts one extra). A pop whose connection breaks after it was sent
raises `OutcomeUnknownError`: it is never retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from threading import Thread
from typing import Any

import pytest
import redis

import vedette
from vedette import FailoverTimeout, OutcomeUnknownError
from vedette.testing import ClusterFactory, SentinelCluster, wait_until


def run_in_threads(calls: dict[str, Callable[[], Any]]) -> tuple[dict[str, Any], list[Thread]]:
    results: dict[str, Any] = {}

    def run(name: str, call: Callable[[], Any]) -> None:
        try:
            results[name] = call()
        except Exception as error:
            results[name] = error

    threads = [Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    return results, threads


def test_a_frozen_master_runs_each_command_once(
    sentinel_cluster_factory: ClusterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # down-after 60 s: the Sentinels do not fail a master over for a 3 s freeze.
    cluster = sentinel_cluster_factory(replicas=1, down_after_ms=60000)
    master = cluster.client()
    master.rpush("jobs", *[f"job-{n}" for n in range(6)])
    client = vedette.connect(cluster.url + "?socket_timeout=0.5&retry_deadline=30")
    client.ping()
    clients = {name: vedette.connect(cluster.url + "?socket_timeout=0.5") for name in range(4)}
    for each in clients.values():
        each.ping()
    cluster.freeze_master()
    with caplog.at_level(logging.DEBUG, logger="vedette.client"):
        results, threads = run_in_threads(
            {
                "rpop": lambda: clients[0].rpop("jobs"),
                "brpop": lambda: clients[1].brpop(["jobs"], timeout=5),
                "lpush": lambda: clients[2].lpush("pushed", "x"),
                "incr": lambda: clients[3].incr("counter"),
            }
        )
        # Each command is sent, and its reply late by several socket timeouts.
        wait_until(
            lambda: caplog.text.count("it is still the master of 'vedette': waiting") >= 8,
            20,
            "every command to wait for its reply",
        )
        cluster.thaw()
        for thread in threads:
            thread.join(30)
    assert (results["lpush"], results["incr"]) == (1, 1)
    popped = {results["rpop"], results["brpop"][1]}
    assert popped == {b"job-5", b"job-4"}  # one job each, none popped and dropped
    assert master.lrange("jobs", 0, -1) == [b"job-0", b"job-1", b"job-2", b"job-3"]
    assert master.lrange("pushed", 0, -1) == [b"x"]
    assert master.get("counter") == b"1"
    for each in clients.values():
        each.close()
    client.close()


def blocked_on(cluster: SentinelCluster, command: str) -> int | None:
    """The id of the master's client blocked in ``command``, if any."""
    for entry in cluster.client().client_list():
        if entry.get("cmd") == command:
            return int(entry["id"])
    return None


def kill_blocked(cluster: SentinelCluster, command: str) -> None:
    """Drop the connection of the master's client blocked in ``command`` (no failover)."""
    blocked = blocked_on(cluster, command)
    assert blocked is not None  # the tests wait for it to block first
    cluster.client().client_kill_filter(_id=str(blocked))  # redis-py types the id as a string


@pytest.mark.parametrize("health_checks", [False, True], ids=["", "with health checks"])
def test_a_pop_whose_connection_breaks_is_not_retried(
    sentinel_cluster: SentinelCluster, health_checks: bool
) -> None:
    # With health checks, redis-py PINGs before the BRPOP: that PING must not pass for the
    # command whose reply was lost.
    client = vedette.connect(sentinel_cluster.url, health_check_interval=1 if health_checks else 0)
    if health_checks:
        client.ping()
        past = time.monotonic() + 1.1
        wait_until(lambda: time.monotonic() > past, 5, "the next health check to be due")
    results, (thread,) = run_in_threads({"brpop": lambda: client.brpop(["jobs"], timeout=0)})
    wait_until(lambda: blocked_on(sentinel_cluster, "brpop"), 5, "BRPOP to block")
    # The server drops the connection (no failover): had an item arrived meanwhile, it could
    # have been popped and its reply lost. A retry would pop the next one: it raises instead.
    kill_blocked(sentinel_cluster, "brpop")
    thread.join(10)
    error = results["brpop"]
    assert isinstance(error, OutcomeUnknownError)
    assert isinstance(error, redis.ConnectionError)  # what consumers already handle
    assert error.command == "BRPOP"
    assert "may have run, so it is not retried" in str(error)
    assert not vedette.is_retryable(error)
    assert client.rpush("jobs", "next") == 1  # the client is fine
    client.close()


def test_a_read_whose_connection_breaks_is_retried(sentinel_cluster: SentinelCluster) -> None:
    client = vedette.connect(sentinel_cluster.url)
    client.xadd("stream", {"n": "0"})
    results, (thread,) = run_in_threads({"xread": lambda: client.xread({"stream": "$"}, block=0)})
    wait_until(lambda: blocked_on(sentinel_cluster, "xread"), 5, "XREAD to block")
    kill_blocked(sentinel_cluster, "xread")
    wait_until(lambda: blocked_on(sentinel_cluster, "xread"), 10, "XREAD to block again")
    client.xadd("stream", {"n": "1"})
    thread.join(10)
    reply = results["xread"]  # {stream: entries} with RESP3, [[stream, entries]] with RESP2
    ((_, entries),) = reply.items() if isinstance(reply, dict) else reply
    assert [fields for _, fields in entries] == [{b"n": b"1"}]
    client.close()


def test_a_reply_late_past_the_deadline_is_not_retried(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory(replicas=0, down_after_ms=60000)  # no failover
    client = vedette.connect(cluster.url + "?socket_timeout=0.3&retry_deadline=1")
    client.set("k", "v")
    cluster.freeze_master()
    started = time.monotonic()
    try:
        with pytest.raises(FailoverTimeout, match="it may still run, so it is not retried"):
            client.get("k")
        # Waited retry_deadline for the reply, and did not start a second deadline of retries.
        assert 1.0 <= time.monotonic() - started < 1.8
    finally:
        cluster.thaw()
    client.close()
