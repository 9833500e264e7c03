"""Clusters shared by a module's schedule tests, and a fresh prefix and store per test."""

import uuid
from collections.abc import Iterator

import pytest

import vedette
from vedette.schedule import ScheduleStore
from vedette.testing import LocalRedisCluster, SentinelCluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[SentinelCluster]:
    with SentinelCluster() as started:
        yield started


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster() as started:
        yield started


@pytest.fixture
def prefix() -> str:
    """A store prefix no other test uses (the clusters are shared by a module's tests)."""
    return f"test:{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store(cluster: SentinelCluster, prefix: str) -> Iterator[ScheduleStore]:
    """A store on the Sentinel cluster's master, through Vedette's client."""
    client = vedette.connect(cluster.url)
    yield ScheduleStore(client, prefix=prefix)
    client.close()
