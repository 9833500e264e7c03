"""Discovery against real Sentinels: majority, epochs, ROLE checks, dead Sentinels, auth, NAT."""

import dataclasses
import logging
import threading
import time
from typing import Any

import pytest
import redis.sentinel

import vedette
from vedette import (
    Address,
    AddressMap,
    AuthenticationError,
    ConfigurationError,
    Discovery,
    MasterNotFoundError,
    SentinelConfig,
    SentinelsUnreachableError,
    ServiceNotFoundError,
    Topology,
    discover,
)
from vedette.testing import ClusterFactory, SentinelCluster, unresponsive_address, wait_until
from vedette.testing._process import free_ports


def with_changes(cluster: SentinelCluster, **changes: Any) -> SentinelConfig:
    # Any: mypy types `replace` by the fields' stored types (a tuple of Addresses for sentinels),
    # while tests pass any form the converters read, such as a list.
    return dataclasses.replace(cluster.config, **changes)


def test_finds_the_verified_master_its_replicas_and_sentinels(
    sentinel_cluster: SentinelCluster,
) -> None:
    topology = discover(sentinel_cluster.config)
    master = sentinel_cluster.master_address()
    assert topology.master == master
    assert set(topology.replicas) == set(sentinel_cluster.redis_addresses) - {master}
    assert set(topology.sentinels) == set(sentinel_cluster.sentinel_addresses)
    assert topology.config_epoch == 0
    assert topology.agreeing * 2 > topology.asked == 3
    assert topology.service_name == "vedette"


def test_follows_a_failover(sentinel_cluster: SentinelCluster) -> None:
    sentinel_cluster.kill_master()
    new = sentinel_cluster.wait_for_switch(timeout=30)
    topology = discover(sentinel_cluster.config)
    assert topology.master == new
    assert topology.config_epoch == 1


def test_a_named_master_that_is_down_is_not_returned(sentinel_cluster: SentinelCluster) -> None:
    # For down-after-milliseconds (1 s here) after a kill -9, the Sentinels still name the dead
    # master: the role check fails on it, and discovery says so instead of handing out a dead
    # address.
    old = sentinel_cluster.kill_master()
    with pytest.raises(MasterNotFoundError) as caught:
        discover(sentinel_cluster.config)
    message = str(caught.value)
    assert f"{old} unreachable" in message
    assert f"names {old} as master (config epoch 0)" in message
    assert caught.value.service_name == "vedette"


def test_a_master_that_is_now_a_replica_is_not_returned(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    # A Sentinel with an outdated view names a node that has since become a replica (as a
    # demoted master does). It says so, and the answer is refused rather than trusted.
    cluster = sentinel_cluster_factory()
    stray = sentinel_cluster_factory(replicas=0, sentinels=1)
    demoted = stray.master_address()
    master = cluster.master_address()
    stray.client(demoted).execute_command("REPLICAOF", master.host, master.port)
    with pytest.raises(
        MasterNotFoundError, match=f"{demoted} is not a master: it says it is a replica"
    ):
        discover(with_changes(cluster, sentinels=stray.sentinel_addresses))
    # Listed with the real Sentinels it is outvoted; and an equally old answer (epoch 0) is
    # no fallback: only a newer configuration could overrule the majority.
    assert (
        discover(
            with_changes(
                cluster, sentinels=(*stray.sentinel_addresses, *cluster.sentinel_addresses)
            )
        ).master
        == master
    )


def test_majority_wins_over_a_sentinel_with_another_answer(
    sentinel_cluster_factory: ClusterFactory,
) -> None:
    cluster = sentinel_cluster_factory()
    # A real Sentinel, listed first, monitoring a different master under the same name.
    stray = sentinel_cluster_factory(replicas=0, sentinels=1)
    config = with_changes(
        cluster, sentinels=(*stray.sentinel_addresses, *cluster.sentinel_addresses)
    )

    # redis-py takes the first Sentinel's word for it: this is the trap.
    naive = redis.sentinel.Sentinel(list(config.sentinels), socket_timeout=1)
    assert naive.discover_master("vedette") == stray.master_address()

    topology = discover(config)
    assert topology.master == cluster.master_address()
    assert topology.agreeing == 3
    assert topology.asked == 4
    assert stray.sentinel_addresses[0] not in topology.sentinels


def test_tie_goes_to_the_newest_configuration(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory()
    stray = sentinel_cluster_factory(replicas=0, sentinels=1)  # its configuration: epoch 0
    cluster.failover()
    new = cluster.wait_for_switch(timeout=30)  # epoch 1
    config = with_changes(
        cluster, sentinels=(stray.sentinel_addresses[0], cluster.sentinel_addresses[0])
    )
    topology = discover(config)
    assert (topology.master, topology.config_epoch, topology.agreeing) == (new, 1, 1)


def test_a_dead_sentinel_is_skipped(sentinel_cluster: SentinelCluster) -> None:
    sentinel_cluster.stop_sentinel(0)
    sentinel_cluster.stop_sentinel(1)
    topology = discover(sentinel_cluster.config)
    assert topology.master == sentinel_cluster.master_address()


def test_an_unresponsive_sentinel_costs_one_connect_timeout_and_no_retry(
    sentinel_cluster: SentinelCluster, caplog: pytest.LogCaptureFixture
) -> None:
    live = sentinel_cluster.sentinel_addresses[0]
    with unresponsive_address() as dead:
        # Two Sentinels: the live one alone is no majority, so the dead one is waited for.
        config = with_changes(
            sentinel_cluster,
            sentinels=(dead, live),
            sentinel_connect_timeout=0.5,
            sentinel_socket_timeout=0.5,
        )
        with Discovery(config) as discovery, caplog.at_level(logging.WARNING, "vedette.discovery"):
            started = time.monotonic()
            topology = discovery.discover()
            first = time.monotonic() - started
            # It learned the other Sentinels: a majority now answers without the dead one.
            started = time.monotonic()
            again = discovery.discover()
            second = time.monotonic() - started
    assert topology.master == again.master == sentinel_cluster.master_address()
    assert 0.5 <= first < 0.9  # one connect timeout; a single retry would take 1.0 s
    assert second < 0.25
    warnings = [r.getMessage() for r in caplog.records if str(dead) in r.getMessage()]
    assert len(warnings) == 1  # logged when it went bad, not on every lookup
    assert "gives no answer" in warnings[0]


def test_all_sentinels_gone(sentinel_cluster: SentinelCluster) -> None:
    for index in range(3):
        sentinel_cluster.stop_sentinel(index)
    with pytest.raises(SentinelsUnreachableError) as caught:
        discover(sentinel_cluster.config)
    assert isinstance(caught.value, MasterNotFoundError)
    assert set(caught.value.answers) == set(map(str, sentinel_cluster.sentinel_addresses))
    assert all(answer.startswith("unreachable") for answer in caught.value.answers.values())
    assert "no Sentinel of 'vedette' could be reached" in str(caught.value)


def test_wrong_service_name_says_what_is_monitored(sentinel_cluster: SentinelCluster) -> None:
    with pytest.raises(ServiceNotFoundError) as caught:
        discover(with_changes(sentinel_cluster, service_name="vedete"))
    assert "no Sentinel monitors a service named 'vedete'; they monitor 'vedette'" in str(
        caught.value
    )
    assert caught.value.monitored == ("vedette",)
    assert isinstance(caught.value, MasterNotFoundError)


def test_sentinel_password(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(sentinel_password="sentinel-s3cret")
    assert discover(cluster.config).master == cluster.master_address()
    for wrong in (None, "wrong"):
        with pytest.raises(AuthenticationError) as caught:
            discover(with_changes(cluster, sentinel_password=wrong))
        for address in cluster.sentinel_addresses:
            assert f"authentication failed for Sentinel {address}" in str(caught.value)
        assert "s3cret" not in str(caught.value)


def test_sentinel_acl_user(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(sentinel_username="watcher", sentinel_password="watch-pw")
    assert discover(cluster.config).master == cluster.master_address()
    with pytest.raises(AuthenticationError, match="authentication failed for Sentinel") as caught:
        discover(with_changes(cluster, sentinel_username="intruder"))
    assert "intruder" not in str(caught.value)


def test_redis_password(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(password="redis-s3cret")
    assert discover(cluster.config).master == cluster.master_address()
    with pytest.raises(AuthenticationError) as caught:
        discover(with_changes(cluster, password="wrong"))
    assert f"authentication failed for Redis {cluster.master_address()}" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_redis_acl_user(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(username="app", password="app pw with spaces")
    assert discover(cluster.config).master == cluster.master_address()
    with pytest.raises(AuthenticationError, match="authentication failed for Redis"):
        discover(with_changes(cluster, username=None))  # the default user is switched off


def test_min_other_sentinels(sentinel_cluster: SentinelCluster) -> None:
    assert discover(with_changes(sentinel_cluster, min_other_sentinels=2)).agreeing >= 2
    with pytest.raises(MasterNotFoundError, match="fewer than min_other_sentinels=3"):
        discover(with_changes(sentinel_cluster, min_other_sentinels=3))


def test_learns_sentinels_and_uses_them_when_the_configured_one_dies(
    sentinel_cluster: SentinelCluster,
) -> None:
    config = with_changes(sentinel_cluster, sentinels=sentinel_cluster.sentinel_addresses[:1])
    with Discovery(config) as discovery:
        assert set(discovery.discover().sentinels) == set(sentinel_cluster.sentinel_addresses)
        assert set(discovery.sentinels) == set(sentinel_cluster.sentinel_addresses)
        sentinel_cluster.stop_sentinel(0)
        assert discovery.discover().master == sentinel_cluster.master_address()


def test_concurrent_lookups_share_one_discovery(sentinel_cluster: SentinelCluster) -> None:
    results: list[Address] = []
    with Discovery(sentinel_cluster.config) as discovery:
        threads = [
            threading.Thread(target=lambda: results.append(discovery.discover().master))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert results == [sentinel_cluster.master_address()] * 8


# --- NAT -------------------------------------------------------------------------------------


def test_nat_applies_to_master_replicas_and_sentinels(sentinel_cluster: SentinelCluster) -> None:
    nodes = (*sentinel_cluster.redis_addresses, *sentinel_cluster.sentinel_addresses)
    # "localhost:port" reaches the same server as "127.0.0.1:port" but is a different address:
    # seeing it come back proves the translation is applied, and ROLE proves it is dialled.
    nat = AddressMap({node: ("localhost", node.port) for node in nodes}, strict=True)
    configured, *others = sentinel_cluster.sentinel_addresses
    with Discovery(with_changes(sentinel_cluster, sentinels=[configured], nat=nat)) as discovery:
        topology = discovery.discover()
        assert topology.master == ("localhost", sentinel_cluster.master_address().port)
        assert topology.replicas
        assert all(replica.host == "localhost" for replica in topology.replicas)
        # The configured Sentinel is dialled as configured; the others as NAT says, and the
        # configured one, reported back by its peers as localhost:port, is not counted twice.
        expected = {configured, *(("localhost", other.port) for other in others)}
        assert set(topology.sentinels) == expected
        assert len(discovery.sentinels) == 3
        assert discovery.discover().asked == 3


def test_nat_target_is_what_gets_dialled(sentinel_cluster: SentinelCluster) -> None:
    (nowhere,) = free_ports(1)
    master = sentinel_cluster.master_address()
    config = with_changes(sentinel_cluster, nat=AddressMap({master: ("127.0.0.1", nowhere)}))
    with pytest.raises(MasterNotFoundError, match=f"127.0.0.1:{nowhere} unreachable"):
        discover(config)


def test_strict_nat_rejects_an_unmapped_address(sentinel_cluster: SentinelCluster) -> None:
    nat = AddressMap({sentinel_cluster.sentinel_addresses[0]: "127.0.0.1:1"}, strict=True)
    with pytest.raises(ConfigurationError, match=r"^nat: a Sentinel reported 127\.0\.0\.1:"):
        discover(with_changes(sentinel_cluster, nat=nat))


def test_unmapped_addresses_warn_once_each(
    sentinel_cluster: SentinelCluster, caplog: pytest.LogCaptureFixture
) -> None:
    master = sentinel_cluster.master_address()
    config = with_changes(sentinel_cluster, nat=AddressMap({master: ("localhost", master.port)}))
    with Discovery(config) as discovery, caplog.at_level(logging.WARNING, "vedette.nat"):
        for _ in range(3):
            assert discovery.discover().master == ("localhost", master.port)
    # Only the NAT's own lines: closing can let an asking thread log redis-py's DEBUG line
    # after `at_level` has restored the handler's level.
    warned = [r.getMessage().split()[1] for r in caplog.records if r.name == "vedette.nat"]
    others = {
        str(a) for a in (*sentinel_cluster.redis_addresses, *sentinel_cluster.sentinel_addresses)
    }
    assert sorted(warned) == sorted(others - {str(master)})


def test_closing_during_a_lookup_ends_it_with_a_vedette_error(
    sentinel_cluster: SentinelCluster,
) -> None:
    with unresponsive_address() as dead:
        config = with_changes(
            sentinel_cluster,
            sentinels=(dead, sentinel_cluster.sentinel_addresses[0]),
            sentinel_connect_timeout=2.0,
        )
        discovery = Discovery(config)
        outcome: list[object] = []

        def look_up() -> None:
            try:
                outcome.append(discovery.discover())
            except Exception as error:
                outcome.append(error)

        thread = threading.Thread(target=look_up)
        thread.start()
        wait_until(lambda: discovery._asking, 5, "the lookup to ask")
        discovery.close()
        thread.join(10)
    (result,) = outcome
    assert isinstance(result, Topology | vedette.VedetteError)  # never CancelledError
