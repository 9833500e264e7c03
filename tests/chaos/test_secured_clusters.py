"""Passwords, ACL users and TLS, on Redis and separately on the Sentinels, through a failover.

Each secured cluster runs the same drill: writes through `vedette.connect()` (which needs the
Redis credentials, and the Sentinel ones for discovery and the watcher's subscriptions), a kill -9
of the master, then reads through `vedette.connect_replica()`. No secret may reach the logs.
"""

import dataclasses
import logging
from typing import TypedDict

import pytest

import vedette
from vedette.testing import (
    ClusterFactory,
    SentinelCluster,
    SwitchClock,
    TLSFiles,
    WriteLoop,
)

SECRETS = ("redis-pw:1", "sentinel-pw/2")


class Credentials(TypedDict, total=False):
    """Keyword arguments of the cluster factory: what secures one cluster."""

    username: str
    password: str
    sentinel_username: str
    sentinel_password: str


SECURED: dict[str, Credentials] = {
    "redis password": {"password": SECRETS[0]},
    "sentinel password": {"sentinel_password": SECRETS[1]},
    "both passwords": {"password": SECRETS[0], "sentinel_password": SECRETS[1]},
    "ACL users on both": {
        "username": "app",
        "password": SECRETS[0],
        "sentinel_username": "watcher",
        "sentinel_password": SECRETS[1],
    },
}


def drill(cluster: SentinelCluster, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="vedette"):
        client = vedette.connect(
            cluster.url + ("&" if "?" in cluster.url else "?") + "wait_replicas=1"
        )
        client.delete("log")
        with SwitchClock(cluster) as clock, WriteLoop(lambda n: client.rpush("log", n)) as loop:
            loop.wait_for_acks(50, after=0)
            cluster.kill_master()
            switched = clock.wait()
            loop.wait_for_acks(50, after=switched)
        pool = client.connection_pool
        assert isinstance(pool, vedette.MasterPool)
        assert pool.watcher.master == cluster.master_address()  # events came through
        client.close()
        report = loop.report(int(n) for n in cluster.client().lrange("log", 0, -1))
        assert report.lost == ()
        assert report.errors == ()
        # The surviving replica is re-pointed at the new master after the switch; until the
        # Sentinels see its link up again, connect_replica rightly falls back to the master.
        cluster.wait_healthy()
        with vedette.connect_replica(cluster.url) as reader:
            assert reader.execute_command("ROLE")[0] == b"slave"
            assert reader.llen("log") >= len(loop.acked) - 1  # asynchronous, but close
    assert caplog.records  # the drill logged (switches, lost Sentinels...)
    for secret in SECRETS:
        assert secret not in caplog.text


@pytest.mark.parametrize("credentials", SECURED.values(), ids=SECURED.keys())
def test_credentials(
    sentinel_cluster_factory: ClusterFactory,
    caplog: pytest.LogCaptureFixture,
    credentials: Credentials,
) -> None:
    drill(sentinel_cluster_factory(replicas=2, **credentials), caplog)


def test_tls_everywhere(
    sentinel_cluster_factory: ClusterFactory,
    caplog: pytest.LogCaptureFixture,
    tls_files: TLSFiles,
) -> None:
    cluster = sentinel_cluster_factory(replicas=2, tls=tls_files, **SECURED["ACL users on both"])
    assert cluster.url.startswith("rediss+sentinel://")
    drill(cluster, caplog)


def test_tls_without_the_ca_fails_at_once(
    sentinel_cluster_factory: ClusterFactory, tls_files: TLSFiles
) -> None:
    cluster = sentinel_cluster_factory(tls=tls_files)
    untrusting = dataclasses.replace(cluster.config, ssl_ca_certs=None)  # system CAs only
    with (
        vedette.connect(untrusting) as client,
        pytest.raises(vedette.AuthenticationError) as raised,
    ):
        client.ping()  # not retried for retry_deadline (60 s): a certificate does not heal
    assert "TLS certificate is not trusted" in str(raised.value)
    assert "check ssl_ca_certs" in str(raised.value)
