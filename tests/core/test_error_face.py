"""One error face: the same fault raises the same type from every entry point, promptly.

A wrong service name is ``ServiceNotFoundError`` from ``discover()``, from a client and from
``ensure_call`` alike, raised at once (never retried); a wrong Sentinel password is an
``AuthenticationError`` that is redis-py's too. Every error is both Vedette's and redis-py's,
none is an ``OSError``, and a fault that retrying cannot fix is raised at once by every path.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner

import vedette
from vedette import (
    AuthenticationError,
    FailoverTimeout,
    SentinelConfig,
    SentinelsUnreachableError,
    ServiceNotFoundError,
    VedetteError,
)
from vedette.cli import main
from vedette.testing import ClusterFactory, SentinelCluster
from vedette.testing._process import free_ports

# A deadline no test may wait out: what is not retried must fail long before it.
PATIENCE = 30.0


def through_discover(config: SentinelConfig) -> Any:
    return vedette.discover(config)


def through_connect(config: SentinelConfig) -> Any:
    with vedette.connect(config) as client:
        return client.ping()


def through_connect_replica(config: SentinelConfig) -> Any:
    with vedette.connect_replica(config) as client:
        return client.get("k")


def through_ensure_call(config: SentinelConfig) -> Any:
    with vedette.connect(dataclasses.replace(config, retry_deadline=0.5)) as client:
        return vedette.ensure_call(client.ping, deadline=1.0)


ENTRY_POINTS: dict[str, Callable[[SentinelConfig], Any]] = {
    "discover": through_discover,
    "connect": through_connect,
    "connect_replica": through_connect_replica,
    "ensure_call": through_ensure_call,
}

FAULTS = ["wrong service name", "wrong Sentinel password", "wrong Redis password"]
EXPECTED: dict[str, type[VedetteError]] = {
    "wrong service name": ServiceNotFoundError,
    "wrong Sentinel password": AuthenticationError,
    "wrong Redis password": AuthenticationError,
}


@pytest.fixture(scope="module")
def secured() -> Iterator[SentinelCluster]:
    with SentinelCluster(password="redis-pw", sentinel_password="sentinel-pw") as cluster:
        yield cluster


def faulty(cluster: SentinelCluster, fault: str) -> SentinelConfig:
    config = dataclasses.replace(cluster.config, retry_deadline=PATIENCE)
    if fault == "wrong service name":
        return dataclasses.replace(config, service_name="vedete")
    if fault == "wrong Sentinel password":
        return dataclasses.replace(config, sentinel_password="nope")
    return dataclasses.replace(config, password="nope")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_that_does_not_heal_is_raised_at_once_with_one_type(
    secured: SentinelCluster, fault: str, entry: str
) -> None:
    started = time.monotonic()
    with pytest.raises(VedetteError) as raised:
        ENTRY_POINTS[entry](faulty(secured, fault))
    assert time.monotonic() - started < 5  # never retried
    error = raised.value
    assert type(error) is EXPECTED[fault]
    assert isinstance(error, redis.RedisError)  # frameworks catch redis-py's errors
    assert not isinstance(error, OSError)
    assert not vedette.is_retryable(error)
    assert "nope" not in str(error)
    assert "pw" not in str(error)


@pytest.mark.parametrize("fault", FAULTS)
def test_the_command_line_names_the_same_error(secured: SentinelCluster, fault: str) -> None:
    url = secured.url
    if fault == "wrong service name":
        url = url.replace("/vedette", "/vedete")
    elif fault == "wrong Sentinel password":
        url = url.replace("sentinel_password=sentinel-pw", "sentinel_password=nope")
    else:
        url = url.replace(":redis-pw@", ":nope@")
    for command in (["status", url], ["watch", url, "--timeout", "2"]):
        started = time.monotonic()
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1, result.output
        assert result.output.startswith(f"Error: {EXPECTED[fault].__name__}: ")
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_no_sentinel_reachable(entry: str) -> None:
    config = SentinelConfig(
        sentinels=[("127.0.0.1", port) for port in free_ports(2)],
        service_name="svc",
        retry_deadline=0.5,
    )
    with pytest.raises(VedetteError) as raised:
        ENTRY_POINTS[entry](config)
    error: BaseException | None = raised.value
    if entry == "ensure_call":  # retried until its deadline: the cause is the same error
        assert isinstance(error, FailoverTimeout)
        error = error.__cause__
    assert type(error) is SentinelsUnreachableError
    assert isinstance(error, redis.ConnectionError)
    assert not isinstance(error, OSError)
    assert vedette.is_retryable(error)


def test_watch_without_sentinels_fails_at_once() -> None:
    url = "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in free_ports(2)) + "/svc"
    started = time.monotonic()
    result = CliRunner().invoke(main, ["watch", url, "--timeout", "2"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: SentinelsUnreachableError: no Sentinel of 'svc'")
    assert time.monotonic() - started < 5  # not the 60 s of retry_deadline


def test_a_tls_certificate_nobody_trusts(
    sentinel_cluster_factory: ClusterFactory, tls_files: Any
) -> None:
    cluster = sentinel_cluster_factory(tls=tls_files)
    untrusting = dataclasses.replace(cluster.config, ssl_ca_certs=None, retry_deadline=PATIENCE)
    for entry, call in ENTRY_POINTS.items():
        with pytest.raises(AuthenticationError, match="check ssl_ca_certs"):
            call(untrusting)
        assert entry
