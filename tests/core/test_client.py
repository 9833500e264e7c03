"""vedette.connect() on a healthy cluster: options, ROLE, WAIT, replies, lifecycle.

What it does through faults is in tests/chaos/.
"""

import dataclasses
import gc
import logging
import threading

import pytest
import redis

import vedette
from vedette import ConfigurationError, NotReplicatedError
from vedette.testing import (
    ClusterFactory,
    ScriptedWatcher,
    SentinelCluster,
    unresponsive_address,
    wait_until,
)


def checkout(pool: redis.ConnectionPool) -> redis.connection.Connection:
    try:
        return pool.get_connection()
    except TypeError:  # redis-py < 5.3 wants a command name (newer ones deprecate it)
        return pool.get_connection("PING")


def test_commands_reach_the_master(sentinel_cluster: SentinelCluster) -> None:
    with vedette.connect(sentinel_cluster.config, decode_responses=True) as client:
        client.set("k", "v")
        assert client.get("k") == "v"
        connection = checkout(client.connection_pool)
        assert (connection.host, connection.port) == sentinel_cluster.master_address()
        client.connection_pool.release(connection)
    assert sentinel_cluster.client().get("k") == b"v"


@pytest.mark.parametrize("option", ["host", "port", "password", "socket_timeout", "retry"])
def test_options_that_belong_in_the_config_are_refused(option: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{option}: is not accepted here"):
        vedette.connect("redis+sentinel://127.0.0.1/svc", **{option: None})


def test_not_a_url_or_config() -> None:
    with pytest.raises(ConfigurationError, match=r"^url_or_config: expected"):
        vedette.connect(42)  # type: ignore[arg-type]


def test_wait_replicas_confirms_writes(sentinel_cluster: SentinelCluster) -> None:
    with vedette.connect(sentinel_cluster.url + "?wait_replicas=1") as client:
        assert client.rpush("log", 1) == 1
        # Replies stay aligned with their commands: WAIT's own reply is never handed out.
        pipe = client.pipeline(transaction=False)
        pipe.rpush("log", 2).get("missing").lrange("log", 0, -1)
        assert pipe.execute() == [2, None, [b"1", b"2"]]
        with client.pipeline() as transaction:
            transaction.incr("n").incr("n")
            assert transaction.execute() == [1, 2]
        assert client.eval("return redis.call('incr', KEYS[1])", 1, "n") == 3
        assert client.get("n") == b"3"
    replica = sentinel_cluster.redis_addresses[1]
    assert sentinel_cluster.client(replica).get("n") == b"3"


def test_unconfirmed_write_raises(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(replicas=0)
    with vedette.connect(cluster.url + "?wait_replicas=1&wait_timeout=0.1") as client:
        with pytest.raises(NotReplicatedError, match="confirmed by 0 of 1 replicas") as caught:
            client.set("k", 1)
        assert (caught.value.replicas, caught.value.wanted) == (0, 1)
        assert client.get("k") == b"1"  # reads are not confirmed: they do not wait
        with pytest.raises(NotReplicatedError):
            client.eval("return 1", 0)  # a script may write: confirmed like a write


def test_a_replica_is_never_used_as_master(sentinel_cluster: SentinelCluster) -> None:
    replica = sentinel_cluster.redis_addresses[1]
    with vedette.connect(sentinel_cluster.config) as client:
        connection = checkout(client.connection_pool)
        connection.disconnect()
        connection.host, connection.port = replica  # as if it had been the master once
        client.connection_pool.release(connection)
        client.set("k", 1)  # reconnects: asks the Sentinels, checks ROLE
    assert sentinel_cluster.client().get("k") == b"1"


def watcher_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("vedette-watcher")}


def test_close_stops_the_watcher(sentinel_cluster: SentinelCluster) -> None:
    before = watcher_threads()
    client = vedette.connect(sentinel_cluster.config)
    client.ping()
    assert watcher_threads() - before
    client.close()
    assert watcher_threads() - before == set()
    client.ping()  # still usable: the watcher starts again
    client.close()


def test_a_pool_dropped_without_closing_lets_the_watcher_stop(
    sentinel_cluster: SentinelCluster,
) -> None:
    # kombu and Celery leave pools to the garbage collector: the watcher of a Celery producer's
    # closed app kept watching a cluster long gone (the demo's Dramatiq part logged it).
    before = watcher_threads()
    pool = vedette.MasterPool(sentinel_cluster.config)
    client = redis.Redis(connection_pool=pool)  # as kombu makes them: the pool is not its own
    client.ping()
    assert watcher_threads() - before
    del client, pool
    gc.collect()
    wait_until(lambda: not watcher_threads() - before, 5, "the watcher to stop")


def test_each_sentinel_warning_is_logged_once(
    sentinel_cluster: SentinelCluster, caplog: pytest.LogCaptureFixture
) -> None:
    with unresponsive_address() as dead:
        config = dataclasses.replace(
            sentinel_cluster.config,
            sentinels=(dead, *sentinel_cluster.sentinel_addresses),
            sentinel_connect_timeout=0.3,
        )
        with (
            caplog.at_level(logging.WARNING, "vedette.discovery"),
            vedette.connect(config) as client,
        ):
            client.ping()  # the client's lookup asks the dead Sentinel
            pool = client.connection_pool
            assert isinstance(pool, vedette.MasterPool)
            pool.watcher.discovery.discover(every_sentinel=True)  # the watcher's too
            wait_until(lambda: len(pool.watcher.sentinels) >= 4, 5, "the watcher's listeners")
    said = [
        r.getMessage()
        for r in caplog.records
        if f"Sentinel {dead} gives no answer" in r.getMessage()
    ]
    assert len(said) == 1  # one discovery per configuration: not one per client and watcher


def test_wrong_password_is_not_retried(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(password="right")
    url = cluster.url.replace(":right@", ":wrong@")
    with vedette.connect(url) as client, pytest.raises(vedette.AuthenticationError):
        client.ping()


def test_a_connection_already_on_the_new_master_is_kept(sentinel_cluster: SentinelCluster) -> None:
    # A connection that resolved its server while a switch was being counted is on the new
    # master, yet looks older than the switch. Moving it again would pull its socket from under
    # whoever registered it (kombu's event loop registers the BRPOP socket before sending on
    # it). The race is forced: the connection is made to look as if it resolved just before.
    master = sentinel_cluster.master_address()
    scripted = ScriptedWatcher(sentinel_cluster.config, master=master)
    client = vedette.connect(sentinel_cluster.config, watcher=scripted)
    before = client.client_id()
    (connection,) = client.connection_pool._available_connections
    connection._switches, connection._seen = scripted.switches - 1, -1
    assert connection.replaced()
    assert client.client_id() == before
    assert not connection.replaced()
    client.close()
