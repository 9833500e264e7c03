"""The shared harness's own checks: what it reports must be seen, not assumed."""

from __future__ import annotations

from pathlib import Path

from vedette.testing import SentinelCluster
from vedette_harness.stream import run_stream


def test_writes_to_the_old_master_after_the_promotion_are_reported(
    sentinel_cluster: SentinelCluster, tmp_path: Path
) -> None:
    # A client that does not follow the master keeps writing to the old one after promotion.
    old_master = sentinel_cluster.client(sentinel_cluster.master_address())
    report = run_stream(
        sentinel_cluster,
        lambda number: old_master.rpush("jobs", number),
        fault="failover",
        log=tmp_path / "executions.log",
        count=1000,
        drain_timeout=0.1,
    )
    assert report.written_to_old_master, report.summary()
    assert all(" s RPUSH jobs " in write for write in report.written_to_old_master)
