"""Least-privilege ACL users: the same guarantees without ``@dangerous`` or ``@admin`` commands.

Production Redis often gives applications a user such as ``+@all -@dangerous`` or
``+@all -@admin``: no ``ROLE`` (``@admin @dangerous``), no ``INFO`` (``@dangerous``). Vedette
checks every server's role all the same, through ``HELLO``. Each cluster here gives its
application user such rules on every node (its own links use an administrator user), and the
write drill of the secured clusters runs through a kill -9 and a planned failover.

A permission that is missing is not a failover: it is raised at once, naming what was refused,
never the user.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest
import redis

import vedette
from vedette.testing import ClusterFactory, SentinelCluster, SwitchClock, WriteLoop

RULES = {
    "no @dangerous": "+@all -@dangerous",
    "no @admin": "+@all -@admin",
    "neither": "+@all -@dangerous -@admin",
}
USER, PASSWORD = "least-app", "least-pw:1"


def restricted(factory: ClusterFactory, rules: str, *, replicas: int = 1) -> SentinelCluster:
    cluster = factory(username=USER, password=PASSWORD, user_rules=rules, replicas=replicas)
    as_user = redis.Redis(
        host=cluster.redis_addresses[0].host,
        port=cluster.redis_addresses[0].port,
        username=USER,
        password=PASSWORD,
    )
    hello = as_user.execute_command("HELLO")  # a dict; a flat list on redis-py 5.0
    if isinstance(hello, list):
        hello = dict(zip(hello[::2], hello[1::2], strict=True))
    version = hello[b"version"].decode()
    try:
        as_user.execute_command("ROLE")
    except redis.exceptions.NoPermissionError:
        pass  # the rules hold
    else:
        as_user.close()
        # ROLE joined @admin in Redis 7.0: before, these rules leave it to the user.
        assert int(version.split(".")[0]) < 7, f"{rules!r} let the user run ROLE"
        pytest.skip(f"on Redis {version}, {rules!r} lets the user run ROLE: nothing to test")
    as_user.close()
    return cluster


def write_through(cluster: SentinelCluster, fault: str) -> None:
    """Writes through `vedette.connect` across ``fault``: none fails, none acknowledged is lost."""
    # WAIT: asynchronous replication alone may lose the last writes acknowledged before a kill.
    with vedette.connect(dataclasses.replace(cluster.config, wait_replicas=1)) as client:
        client.delete("log")
        with SwitchClock(cluster) as clock, WriteLoop(lambda n: client.rpush("log", n)) as loop:
            loop.wait_for_acks(50, after=0)
            if fault == "kill":
                cluster.kill_master()
            else:
                cluster.failover()
            switched = clock.wait()
            loop.wait_for_acks(50, after=switched)
        pool = client.connection_pool
        assert isinstance(pool, vedette.MasterPool)
        assert pool.watcher.master == cluster.master_address()
    report = loop.report(int(n) for n in cluster.client().lrange("log", 0, -1))
    assert report.errors == ()
    assert report.lost == ()


@pytest.mark.parametrize(
    "rules", [RULES["no @dangerous"], RULES["no @admin"]], ids=["no @dangerous", "no @admin"]
)
@pytest.mark.parametrize("fault", ["kill", "failover"])
def test_writes_survive_a_failover_as_a_least_privilege_user(
    sentinel_cluster_factory: ClusterFactory, rules: str, fault: str
) -> None:
    cluster = restricted(sentinel_cluster_factory, rules, replicas=2)
    write_through(cluster, fault)


def test_discovery_replicas_and_the_command_line_work_as_such_a_user(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = restricted(sentinel_cluster_factory, RULES["neither"], replicas=2)
    topology = vedette.discover(cluster.config)
    assert topology.master == cluster.master_address()
    with vedette.connect_replica(cluster.url) as reader:
        reader.get("anything")
        with pytest.raises(redis.ReadOnlyError):  # it reads from a replica, its role checked
            reader.set("anything", 1)
    status = vedette_command("status", cluster.url)
    assert f"master {cluster.master_address()}" in status
    assert "no permissions" not in status
    assert "lag unknown: this ACL user may not run INFO" in status
    started = time.monotonic()
    vedette_command("schedule", "list", cluster.url)  # the schedule store's scripts
    assert time.monotonic() - started < 10  # not 60 s of retried role checks


def vedette_command(*arguments: str) -> str:
    """Run the ``vedette`` command; it must succeed, without showing a secret."""
    result = subprocess.run(
        [sys.executable, "-m", "vedette", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for secret in (USER, PASSWORD):
        assert secret not in result.stdout + result.stderr
    return result.stdout


def test_a_missing_permission_is_raised_at_once_naming_it_not_the_user(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = restricted(sentinel_cluster_factory, "+@all -@dangerous -@admin -lpush")
    with vedette.connect(cluster.url) as client:
        client.set("allowed", 1)
        started = time.monotonic()
        with pytest.raises(vedette.NoPermissionError) as raised:
            client.lpush("jobs", "payload")
        assert time.monotonic() - started < 0.5  # not retried for retry_deadline
        assert isinstance(raised.value, redis.exceptions.NoPermissionError)
        assert not vedette.is_retryable(raised.value)
    message = str(raised.value)
    assert "'lpush'" in message
    assert str(cluster.master_address()) in message
    assert USER not in message
    assert PASSWORD not in message


def test_a_sentinel_refusing_its_user_fails_at_once_naming_the_command(
    sentinel_cluster: SentinelCluster,
) -> None:
    for index in range(len(sentinel_cluster.sentinel_addresses)):
        sentinel_cluster.sentinel(index).execute_command(
            "ACL", "SETUSER", "blind", "on", ">blind-pw", "+@all", "-sentinel"
        )
    config = dataclasses.replace(
        sentinel_cluster.config, sentinel_username="blind", sentinel_password="blind-pw"
    )
    started = time.monotonic()
    with pytest.raises(vedette.NoPermissionError) as raised:
        vedette.discover(config)
    with vedette.connect(config) as client, pytest.raises(vedette.NoPermissionError):
        client.ping()
    assert time.monotonic() - started < 2  # not retried for retry_deadline
    message = str(raised.value)
    # Redis 7 names the subcommand refused; Redis 6 only the command.
    version = sentinel_cluster.sentinel(0).info("server")["redis_version"]
    assert ("'sentinel|master'" if int(version.split(".")[0]) >= 7 else "'sentinel'") in message
    assert "sentinel_username" in message
    assert "blind" not in message
