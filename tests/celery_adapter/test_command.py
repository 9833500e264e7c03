"""``celery vedette``: what cannot work fails in one line, with Celery's exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

from vedette.testing import ClusterFactory, unresponsive_address

EX_UNAVAILABLE, EX_FAILURE = 69, 1  # celery.platforms: what `celery inspect` exits with


def celery_vedette(broker_url: str) -> subprocess.CompletedProcess[str]:
    """``celery -A vedette_harness.celery_app vedette`` on ``broker_url``."""
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "vedette_harness.celery_app", "vedette"],
        env={**os.environ, "VEDETTE_BROKER_URL": broker_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_sentinel_reachable() -> None:
    with unresponsive_address() as first, unresponsive_address() as second:
        url = f"redis-sentinel://{first},{second}/vedette/0?sentinel_connect_timeout=0.2"
        done = celery_vedette(url)
    assert done.returncode == EX_UNAVAILABLE, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()  # no traceback, no warning per Sentinel
    assert line.startswith("Error: SentinelsUnreachableError: no Sentinel of 'vedette' could be")
    assert f"Sentinel {first}: timed out" in line


def test_refused_credentials_and_bad_settings(sentinel_cluster_factory: ClusterFactory) -> None:
    cluster = sentinel_cluster_factory(password="s3cret")
    hosts = ",".join(map(str, cluster.sentinel_addresses))
    done = celery_vedette(f"redis-sentinel://:wr0ng@{hosts}/vedette/0")
    assert done.returncode == EX_UNAVAILABLE, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("Error: AuthenticationError: authentication failed for Redis ")
    assert "wr0ng" not in line
    assert "s3cret" not in line

    done = celery_vedette(f"redis-sentinel://:wr0ng@{hosts}/vedette/0?socket_timeout=soon")
    assert done.returncode == EX_FAILURE, done.stderr
    assert done.stderr.splitlines() == [
        "Error: ConfigurationError: broker_url (socket_timeout): expected a number of seconds, "
        "got 'soon'"
    ]

    done = celery_vedette(f"redis-sentinel://:s3cret@{hosts}/vedette/0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"service 'vedette': master {cluster.master_address()}"
