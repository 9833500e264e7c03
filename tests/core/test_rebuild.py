"""Rebuilding a client from a Vedette one, as libraries do (RQ's scheduler, pool and spawn worker).

A pool's ``connection_kwargs`` are plain redis-py keyword arguments with the current master's
address (no pool, connect hook or retry object holding locks): ``redis.Redis(**kwargs)`` works
and they pickle. The pool's connection class, given them, makes connections that follow the
master.
"""

from __future__ import annotations

import gc
import pickle
from typing import Any

import redis

import vedette
from vedette import MasterSwitched
from vedette.testing import SentinelCluster, WriteLoop, capture_events, wait_until

# What redis-py itself adds to a pool's connection_kwargs (a registry, maintenance handlers, the
# driver's name): RQ drops these before rebuilding a connection elsewhere (rq.connections,
# SpawnWorker).
REDIS_PY_RUNTIME = {
    "driver_info",
    "himport_registry",
    "maint_notifications_config",
    "maint_notifications_pool_handler",
    "event_dispatcher",
    "orig_host_address",
    "orig_socket_timeout",
    "orig_socket_connect_timeout",
}


def plain(client: redis.Redis) -> dict[str, Any]:
    kwargs = client.connection_pool.connection_kwargs
    return {key: value for key, value in kwargs.items() if key not in REDIS_PY_RUNTIME}


def write_through_a_planned_failover(
    cluster: SentinelCluster, writer: redis.Redis, watched: redis.Redis
) -> MasterSwitched:
    """RPUSH through ``writer`` while the cluster fails over (as ``watched``'s watcher sees it).

    Asserts that no acknowledged write was lost and that the writer saw no error.
    """
    writer.delete("log")
    with capture_events(watched) as events, WriteLoop(lambda n: writer.rpush("log", n)) as loop:
        loop.wait_for_acks(50, after=0)
        cluster.failover()
        switch = events.wait_for(MasterSwitched, timeout=30)
        loop.wait_for_acks(100, after=loop.acked[-1][1])
    report = loop.report(int(n) for n in cluster.client(switch.new).lrange("log", 0, -1))
    assert report.lost == ()
    assert report.errors == ()
    return switch


def test_connection_kwargs_are_plain_and_name_the_master(sentinel_cluster: SentinelCluster) -> None:
    with vedette.connect(sentinel_cluster.url, client_name="app") as client:
        client.set("k", "v")
        kwargs = plain(client)
        assert (kwargs["host"], kwargs["port"]) == sentinel_cluster.master_address()
        assert pickle.loads(pickle.dumps(kwargs)) == kwargs
        assert eval(repr(kwargs)) == kwargs  # RQ's spawn worker writes them into source code
        assert not any(type(value).__module__.startswith("vedette") for value in kwargs.values())
        rebuilt = redis.Redis(**kwargs)
        assert rebuilt.get("k") == b"v"
        rebuilt.close()


def test_a_plain_pool_of_its_connection_class_follows_the_master(
    sentinel_cluster: SentinelCluster,
) -> None:
    client = vedette.connect(sentinel_cluster.url)
    client.ping()
    pool = client.connection_pool
    assert isinstance(pool, vedette.MasterPool)
    # Exactly what RQ's scheduler and worker pool do with the connection they are given.
    rebuilt = redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, **pool.connection_kwargs
        )
    )
    switch = write_through_a_planned_failover(sentinel_cluster, rebuilt, client)
    assert (pool.connection_kwargs["host"], pool.connection_kwargs["port"]) == switch.new
    client.close()
    # Its connections hold the watcher while they live, not for ever.
    assert not pool.watcher.closed
    rebuilt.connection_pool.disconnect()
    del rebuilt
    gc.collect()
    wait_until(lambda: pool.watcher.closed, 5, "the watcher to stop with the last connection")


def test_before_any_master_is_known_kwargs_fail_loudly() -> None:
    pool = vedette.MasterPool(vedette.SentinelConfig(sentinels=["127.0.0.1:1"], service_name="s"))
    assert pool.connection_kwargs["host"].endswith(".invalid")  # never someone else's Redis
    pool.disconnect()


def test_a_subclass_of_the_connection_class_still_follows_the_master(
    sentinel_cluster: SentinelCluster,
) -> None:
    # What kombu's asynchronous transport does with the class it is given (docs/extending.md).
    pool = vedette.MasterPool(sentinel_cluster.config)
    disconnected: list[object] = []

    class Hooked(pool.connection_class):  # type: ignore[name-defined,misc]
        def disconnect(self, *args: Any, **kwargs: Any) -> None:
            super().disconnect(*args, **kwargs)
            disconnected.append(self)

    pool.connection_class = Hooked
    client = redis.Redis(connection_pool=pool)
    write_through_a_planned_failover(sentinel_cluster, client, client)
    assert disconnected  # its hook ran when the switch moved the connection
    pool.disconnect()
