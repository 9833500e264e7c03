"""vedette.connect_replica(): reads spread over healthy replicas, the master when none is left."""

import logging

import pytest
import redis

import vedette
from vedette import Address
from vedette.testing import ClusterFactory, SentinelCluster, wait_until


def checkout(pool: redis.ConnectionPool) -> redis.connection.Connection:
    try:
        return pool.get_connection()
    except TypeError:  # redis-py < 5.3 wants a command name
        return pool.get_connection("PING")


def served_by(client: redis.Redis) -> Address:
    """The server that answers a fresh connection of ``client``."""
    client.connection_pool.disconnect()
    port = client.config_get("port")["port"]
    assert port is not None  # redis-py types every CONFIG GET value as optional
    return Address("127.0.0.1", int(port))


def test_reads_spread_over_the_replicas(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=2)
    replicas = cluster.redis_addresses[1:]
    cluster.client().set("k", "v")
    assert cluster.client().execute_command("WAIT", 2, 2000) == 2
    with vedette.connect_replica(cluster.config) as reader:
        assert reader.get("k") == b"v"
        seen = {served_by(reader) for _ in range(6)}
        assert seen == set(replicas)
        assert reader.execute_command("ROLE")[0] == b"slave"


def test_writes_fail_at_once(sentinel_cluster: SentinelCluster) -> None:
    url = sentinel_cluster.url + "?retry_deadline=30"
    with vedette.connect_replica(url) as reader, pytest.raises(redis.ReadOnlyError):
        reader.set("k", "v")  # not retried for 30 s: a replica client does not write


def test_without_a_replica_reads_from_the_master(
    sentinel_cluster_factory: ClusterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = sentinel_cluster_factory(replicas=0)
    cluster.client().set("k", "v")
    with (
        caplog.at_level(logging.WARNING, logger="vedette.replicas"),
        vedette.connect_replica(cluster.config) as reader,
    ):
        assert reader.get("k") == b"v"
        assert served_by(reader) == cluster.master_address()
    assert "no healthy replica; reading from the master" in caplog.text


def test_a_promoted_replica_is_left_to_the_writes(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=2)
    with vedette.connect_replica(cluster.config) as reader:
        pool = reader.connection_pool
        assert isinstance(pool, vedette.ReplicaPool)
        connections = [checkout(pool) for _ in range(4)]  # two on each replica
        for connection in connections:
            connection.send_command("PING")
            assert connection.read_response() == b"PONG"
            pool.release(connection)
        cluster.failover()
        new = cluster.wait_for_switch(timeout=30)

        def is_cut(connection: redis.connection.Connection) -> bool:
            # What Vedette cut (Sentinel also kills the clients of the replica it re-points).
            return getattr(connection, "_cut_socket", None) is not None

        def cut() -> bool:
            on_new = [c for c in connections if (c.host, c.port) == new]
            return len(on_new) == 2 and all(map(is_cut, on_new))

        wait_until(cut, 10, "the connections to the promoted replica to be cut")
        assert not any(is_cut(c) for c in connections if (c.host, c.port) != new)
        # The other replica follows the new master within seconds (the demoted one takes
        # ~10 s more, and is not waited for): reads go there, never to the new master.
        cluster.wait_healthy(timeout=30, replicas=1)
        assert all(served_by(reader) != new for _ in range(4))
