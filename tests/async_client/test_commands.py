"""The async client command by command: what a late or lost reply, a subscription, a blocking
command, a WATCH and a retry get, with the same outcomes as the sync client (tests/chaos).

Each scenario is one coroutine run with ``asyncio.run``; the faults come from the test's
cluster, driven in a worker thread so the loop goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis
import redis.asyncio

import vedette
import vedette.asyncio
from vedette import Address, AddressMap, FailoverTimeout, MasterSwitched, OutcomeUnknownError
from vedette.asyncio.connection import AsyncSentinelConnection as Connection
from vedette.testing import ClusterFactory, LossyProxy, SentinelCluster, wait_until

T = TypeVar("T")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), 120)

    return asyncio.run(bounded())


async def off_loop(work: Callable[[], T]) -> T:
    """Blocking test code (a fault, a wait) in a worker thread: the loop goes on."""
    return await asyncio.to_thread(work)


def blocked_on(cluster: SentinelCluster, command: str) -> int | None:
    """The id of the master's client blocked in ``command``, if any."""
    for entry in cluster.client().client_list():
        if entry.get("cmd") == command:
            return int(entry["id"])
    return None


async def until_blocked(cluster: SentinelCluster, command: str) -> int:
    await off_loop(lambda: wait_until(lambda: blocked_on(cluster, command), 10, command))
    blocked = blocked_on(cluster, command)
    assert blocked is not None
    return blocked


def test_a_frozen_master_runs_each_command_once(
    sentinel_cluster_factory: ClusterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = sentinel_cluster_factory(replicas=1, down_after_ms=60000)  # no failover
    master = cluster.client()
    master.rpush("jobs", *[f"job-{n}" for n in range(6)])

    async def scenario() -> tuple[Any, ...]:
        client = vedette.asyncio.connect(cluster.url + "?socket_timeout=0.5&retry_deadline=30")
        await client.ping()
        await off_loop(cluster.freeze_master)
        calls = asyncio.gather(
            client.rpop("jobs"),
            client.brpop(["jobs"], timeout=5),
            client.lpush("pushed", "x"),
            client.incr("counter"),
        )
        await off_loop(
            lambda: wait_until(
                lambda: caplog.text.count("it is still the master of 'vedette': waiting") >= 8,
                20,
                "every command to wait for its reply",
            )
        )
        await off_loop(cluster.thaw)
        results = await calls
        await client.aclose()
        return results

    with caplog.at_level(logging.DEBUG, logger="vedette.client"):
        rpop, brpop, lpush, incr = run(scenario)
    assert (lpush, incr) == (1, 1)
    assert {rpop, brpop[1]} == {b"job-5", b"job-4"}  # one job each, none popped and dropped
    assert master.lrange("jobs", 0, -1) == [b"job-0", b"job-1", b"job-2", b"job-3"]
    assert master.lrange("pushed", 0, -1) == [b"x"]
    assert master.get("counter") == b"1"


def test_a_pop_whose_connection_breaks_is_not_retried(sentinel_cluster: SentinelCluster) -> None:
    async def scenario() -> tuple[BaseException, int]:
        client = vedette.asyncio.connect(sentinel_cluster.url)
        popping = asyncio.ensure_future(client.brpop(["jobs"], timeout=0))
        blocked = await until_blocked(sentinel_cluster, "brpop")
        sentinel_cluster.client().client_kill_filter(_id=str(blocked))
        with pytest.raises(OutcomeUnknownError) as caught:
            await popping
        after = await client.rpush("jobs", "next")  # the client is fine
        await client.aclose()
        return caught.value, after

    error, after = run(scenario)
    assert isinstance(error, OutcomeUnknownError)
    assert isinstance(error, redis.ConnectionError)  # what consumers already handle
    assert error.command == "BRPOP"
    assert "may have run, so it is not retried" in str(error)
    assert after == 1


def test_a_read_whose_connection_breaks_is_retried(sentinel_cluster: SentinelCluster) -> None:
    async def scenario() -> Any:
        client = vedette.asyncio.connect(sentinel_cluster.url)
        await client.xadd("stream", {"n": "0"})
        reading = asyncio.ensure_future(client.xread({"stream": "$"}, block=0))
        blocked = await until_blocked(sentinel_cluster, "xread")
        sentinel_cluster.client().client_kill_filter(_id=str(blocked))
        await off_loop(
            lambda: wait_until(lambda: blocked_on(sentinel_cluster, "xread"), 10, "XREAD again")
        )
        await client.xadd("stream", {"n": "1"})
        reply = await reading
        await client.aclose()
        return reply

    reply = run(scenario)
    ((_, entries),) = reply.items() if isinstance(reply, dict) else reply
    assert [fields for _, fields in entries] == [{b"n": b"1"}]


def test_a_reply_late_past_the_deadline_is_not_retried(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory(replicas=0, down_after_ms=60000)  # no failover

    async def scenario() -> float:
        client = vedette.asyncio.connect(cluster.url + "?socket_timeout=0.3&retry_deadline=1")
        await client.set("k", "v")
        await off_loop(cluster.freeze_master)
        started = time.monotonic()
        try:
            with pytest.raises(FailoverTimeout, match="it may still run, so it is not retried"):
                await client.get("k")
            return time.monotonic() - started
        finally:
            await off_loop(cluster.thaw)
            await client.aclose()

    waited = run(scenario)
    assert 1.0 <= waited < 1.8  # retry_deadline, and no second deadline of retries


def test_blocking_commands_wait_as_long_as_they_asked(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory(replicas=0)

    async def scenario() -> None:
        client = vedette.asyncio.connect(cluster.url + "?socket_timeout=0.5&retry_deadline=1")
        started = time.monotonic()
        assert await client.brpop(["empty"], timeout=3) is None  # nil, not a TimeoutError
        assert 3 <= time.monotonic() - started < 5
        popping = asyncio.ensure_future(client.brpop(["jobs"], timeout=0))
        await asyncio.sleep(2.5)  # five socket timeouts, past the retry deadline
        await off_loop(lambda: cluster.client().lpush("jobs", "job"))
        assert await popping == (b"jobs", b"job")
        await client.aclose()

    run(scenario)


def test_a_switch_moves_a_blocked_pop_to_the_new_master(sentinel_cluster: SentinelCluster) -> None:
    async def scenario() -> Any:
        client = vedette.asyncio.connect(sentinel_cluster.url)
        popping = asyncio.ensure_future(client.brpop(["jobs"], timeout=0))
        await until_blocked(sentinel_cluster, "brpop")
        await off_loop(sentinel_cluster.failover)
        new = await off_loop(sentinel_cluster.wait_for_switch)
        new_master = sentinel_cluster.client(new)
        await off_loop(
            lambda: wait_until(
                lambda: any(c.get("cmd") == "brpop" for c in new_master.client_list()),
                10,
                "BRPOP to block on the new master",
            )
        )
        new_master.lpush("jobs", "job")
        popped = await popping
        await client.aclose()
        return popped

    assert run(scenario) == (b"jobs", b"job")


def test_a_subscriber_is_held_through_a_kill(sentinel_cluster: SentinelCluster) -> None:
    async def scenario() -> list[bytes]:
        client = vedette.asyncio.connect(sentinel_cluster.url)
        heard: list[bytes] = []

        async def listen() -> None:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe("news")
                async for message in pubsub.listen():
                    heard.append(message["data"])
                    if message["data"] == b"after":
                        return

        listener = asyncio.ensure_future(listen())
        while await client.publish("news", "first") != 1:
            await asyncio.sleep(0.05)
        await off_loop(sentinel_cluster.kill_master)
        await off_loop(sentinel_cluster.wait_for_switch)
        deadline = time.monotonic() + 20
        while await client.publish("news", "after") != 1:  # subscribed again on the new master
            assert time.monotonic() < deadline, "the subscription did not move"
            await asyncio.sleep(0.05)
        await asyncio.wait_for(listener, 10)  # no error reached the subscriber
        await client.aclose()
        return heard

    heard = run(scenario)
    assert heard[0] == b"first"
    assert heard[-1] == b"after"


def test_a_transaction_watching_keys_across_a_switch_fails_as_watched(
    sentinel_cluster: SentinelCluster,
) -> None:
    async def scenario() -> None:
        client = vedette.asyncio.connect(sentinel_cluster.url)
        await client.set("k", "theirs-before")
        async with client.pipeline() as pipe:
            await pipe.watch("k")
            await off_loop(sentinel_cluster.failover)
            new = await off_loop(sentinel_cluster.wait_for_switch)
            pool = client.connection_pool
            assert isinstance(pool, vedette.asyncio.AsyncMasterPool)
            await off_loop(lambda: wait_until(lambda: pool.watcher.master == new, 10, "the switch"))
            sentinel_cluster.client(new).set("k", "theirs-after")  # someone else's write
            pipe.multi()
            pipe.set("k", "mine")
            with pytest.raises(redis.WatchError):  # as plain redis-py says when WATCH is lost
                await pipe.execute()
        assert sentinel_cluster.client(new).get("k") == b"theirs-after"
        await client.aclose()

    run(scenario)


def test_events_arrive_in_an_async_for(sentinel_cluster: SentinelCluster) -> None:
    async def scenario() -> tuple[MasterSwitched, float]:
        client = vedette.asyncio.connect(sentinel_cluster.url)
        await client.ping()
        pool = client.connection_pool
        assert isinstance(pool, vedette.asyncio.AsyncMasterPool)
        with pool.watcher.events(timeout=60) as events:
            await off_loop(sentinel_cluster.failover)
            async for event in events:
                if isinstance(event, MasterSwitched):
                    arrived = time.monotonic()
                    break
            else:
                raise AssertionError("the stream ended without a switch")
        await client.aclose()
        return event, arrived

    switch, _ = run(scenario)
    assert switch.new == sentinel_cluster.master_address()


def test_ensure_call_across_a_failover(sentinel_cluster: SentinelCluster) -> None:
    async def scenario() -> tuple[int, int]:
        # A client that gives up fast, so ensure_call does the waiting.
        client = vedette.asyncio.connect(sentinel_cluster.url + "?retry_deadline=0.2")
        await client.set("k", 1)
        await off_loop(sentinel_cluster.kill_master)
        with pytest.raises(redis.ConnectionError):
            await client.get("k")
        first = await vedette.asyncio.ensure_call(client.incr, "k")

        @vedette.asyncio.ensured(deadline=30)
        async def bump() -> int:
            return int(await client.incr("k"))

        second = await bump()
        await client.aclose()
        return first, second

    assert run(scenario) == (2, 3)


def test_ensure_call_times_out_without_a_master(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=0)  # nothing to promote

    async def scenario() -> FailoverTimeout:
        client = vedette.asyncio.connect(cluster.url + "?retry_deadline=0.2")
        await client.set("k", 1)
        await off_loop(cluster.kill_master)
        with pytest.raises(FailoverTimeout) as caught:
            await vedette.asyncio.ensure_call(client.get, "k", deadline=2)
        await client.aclose()
        return caught.value

    error = run(scenario)
    assert isinstance(error.__cause__, redis.ConnectionError)
    assert error.attempts > 1
    assert "still failing after 2 s" in str(error)


def test_replicas_are_read_and_a_write_there_is_refused(sentinel_cluster: SentinelCluster) -> None:
    sentinel_cluster.client().set("report", "ready")
    sentinel_cluster.wait_healthy()

    async def scenario() -> tuple[Any, Any]:
        reader = vedette.asyncio.connect_replica(sentinel_cluster.url)
        role = (await reader.execute_command("ROLE"))[0]
        await off_loop(
            lambda: wait_until(lambda: sentinel_cluster.client().wait(1, 1000) >= 1, 10, "sync")
        )
        value = await reader.get("report")
        with pytest.raises(redis.ReadOnlyError):  # not retried: the caller wrote to a replica
            await reader.set("report", "no")
        await reader.aclose()
        return role, value

    assert run(scenario) == (b"slave", b"ready")


def test_wait_replicas_confirms_writes_and_says_when_it_cannot(
    sentinel_cluster: SentinelCluster,
) -> None:
    async def scenario() -> None:
        confirmed = vedette.asyncio.connect(sentinel_cluster.url + "?wait_replicas=1")
        assert await confirmed.set("k", "v") is True
        async with confirmed.pipeline() as pipe:
            pipe.incr("n")
            pipe.incr("n")
            assert await pipe.execute() == [1, 2]
        assert await confirmed.get("k") == b"v"  # a read: no WAIT
        too_many = vedette.asyncio.connect(
            sentinel_cluster.url + "?wait_replicas=3&wait_timeout=0.2"
        )
        with pytest.raises(vedette.NotReplicatedError, match="confirmed by 1 of 3 replicas"):
            await too_many.set("k", "w")
        await confirmed.aclose()
        await too_many.aclose()

    run(scenario)


def test_options_that_say_where_to_connect_are_refused() -> None:
    with pytest.raises(vedette.ConfigurationError, match="host"):
        vedette.asyncio.connect("redis+sentinel://127.0.0.1:1/mymaster", host="10.0.0.9")
    client = vedette.asyncio.connect("redis+sentinel://127.0.0.1:1/mymaster")
    with pytest.raises(vedette.ConfigurationError, match="retry"):
        client.connection_pool.set_retry(redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 3))


def test_nat_and_a_reply_lost_on_the_way(sentinel_cluster: SentinelCluster) -> None:
    # Every Redis server reachable only through a proxy the NAT map names, as behind Docker or
    # Kubernetes: the async client connects to the mapped addresses, through a switch too.
    proxies = {address: LossyProxy(address) for address in sentinel_cluster.redis_addresses}
    nat = AddressMap({str(address): str(proxy.address) for address, proxy in proxies.items()})
    config = dataclasses.replace(sentinel_cluster.config, nat=nat)
    old = sentinel_cluster.master_address()
    sentinel_cluster.client().rpush("jobs", "first", "second")

    async def scenario() -> tuple[set[Address], BaseException, Address, Any]:
        client = vedette.asyncio.connect(config)
        await client.set("k", "v")
        pool = client.connection_pool
        assert isinstance(pool, vedette.asyncio.AsyncMasterPool)
        used = {c.address for c in pool._available_connections if isinstance(c, Connection)}
        proxies[old].lose_reply_to("LPOP")  # the server pops; the reply never comes back
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.lpop("jobs")
        await off_loop(sentinel_cluster.failover)
        new = await off_loop(sentinel_cluster.wait_for_switch)
        await client.set("after", "the switch")
        value = await off_loop(lambda: sentinel_cluster.client(new).get("after"))
        await client.aclose()
        return used, caught.value, new, value

    try:
        used, lost, new, after = run(scenario)
    finally:
        for proxy in proxies.values():
            proxy.close()
    assert used == {proxies[old].address}  # the mapped address, not the one Sentinels report
    assert "LPOP" in str(lost)
    assert sentinel_cluster.client(new).lrange("jobs", 0, -1) == [b"second"]  # popped once
    assert after == b"the switch"
