"""pytest fixtures for tests against real Sentinel clusters.

Enable them in a ``conftest.py``::

    pytest_plugins = ["vedette.testing.pytest_plugin"]

A cluster starts in a fraction of a second, so each test gets a fresh one and may break it at will.
Annotate the factory fixture with `vedette.testing.ClusterFactory`::

    def test_with_auth(sentinel_cluster_factory: ClusterFactory) -> None:
        cluster = sentinel_cluster_factory(password="s3cret")
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from vedette.testing.cluster import ClusterFactory, SentinelCluster

__all__ = ["sentinel_cluster", "sentinel_cluster_factory"]


@pytest.fixture
def sentinel_cluster_factory() -> Iterator[ClusterFactory]:
    """Start clusters with custom options (``SentinelCluster``'s arguments).

    All are stopped after the test, whatever its outcome.
    """
    clusters: list[SentinelCluster] = []

    def start(**options: Any) -> SentinelCluster:
        cluster = SentinelCluster(**options)
        clusters.append(cluster)
        cluster.start()
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()


@pytest.fixture
def sentinel_cluster(sentinel_cluster_factory: ClusterFactory) -> SentinelCluster:
    """A fresh, healthy cluster: a master, one replica, three Sentinels (quorum 2)."""
    return sentinel_cluster_factory()
