"""Clients used from finalizers: never wait for what their own thread holds, never for long.

Celery's ``AsyncResult.__del__`` unsubscribes through the result backend's client whenever the
garbage collector frees one, which may be in the middle of any allocation, also inside Vedette
on the same thread: holding a lock, or waiting for a lookup that thread asked for. A soak once
stopped a producer for good so (docs/failover.md, "Finalizers").
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from typing import Any

import pytest
import redis

import vedette
from vedette.testing import SentinelCluster, wait_until


def run_script(*arguments: str) -> str:
    """``python -m tests.chaos.gc_during_discovery ...``: its line of output, or a failure."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.chaos.gc_during_discovery", *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("deadlocked: the first command or the fork after it never returned")
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("second", ["same configuration", "another database"])
def test_a_collection_during_discovery_may_use_a_client_of_the_same_service(
    sentinel_cluster: SentinelCluster, second: str
) -> None:
    url = sentinel_cluster.url
    other = url if second == "same configuration" else url.replace("/vedette", "/vedette/1")
    for _ in range(3):  # it hung every time before
        output = run_script(url, other)
        assert "first=OK" in output
        assert "errors=[]" in output
        assert "fork=OK" in output
        slowest = float(output.split("slowest=")[1].split()[0])
        assert slowest < 1.0  # each use from the collector: milliseconds, not a wait for itself


def test_a_finalizer_gives_up_after_a_short_deadline(sentinel_cluster: SentinelCluster) -> None:
    client = vedette.connect(sentinel_cluster.url)
    client.ping()
    sentinel_cluster.kill_master()  # no master for the next second or two
    outcome: dict[str, Any] = {}

    def collecting(phase: str, info: dict[str, Any]) -> None:
        if phase != "start" or outcome:
            return
        started = time.monotonic()
        try:
            client.set("from-a-finalizer", 1)
            outcome["error"] = None
        except redis.RedisError as error:
            outcome["error"] = error
        outcome["took"] = time.monotonic() - started

    gc.callbacks.append(collecting)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(collecting)
    # Not retry_deadline (60 s): one second of retries, then the failover's own error.
    assert outcome["took"] < 2.5
    assert isinstance(outcome["error"], redis.ConnectionError)
    client.set("after", 1)  # the thread itself still waits the failover out
    client.close()


def test_a_client_first_used_at_interpreter_exit_works(sentinel_cluster: SentinelCluster) -> None:
    # An atexit handler (or a result freed then) runs after concurrent.futures refuses new work
    # ("cannot schedule new futures after interpreter shutdown"): the lookup is made directly.
    code = (
        "import atexit, sys, vedette\n"
        "client = vedette.connect(sys.argv[1])\n"
        "atexit.register(lambda: client.set('at-exit', 1))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, sentinel_cluster.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stderr == ""
    assert sentinel_cluster.client().get("at-exit") == b"1"


def test_a_client_freed_inside_vedette_lets_its_watcher_stop_once_outside(
    sentinel_cluster: SentinelCluster,
) -> None:
    # A client freed by the collector while its thread asks the Sentinels (holding discovery's
    # lock) releases its watcher: stopping it there would take that very lock. Seen on redis-py
    # 5.0 as "Exception ignored in Redis.__del__" (CalledBack); 8.2's __del__ swallows it, and
    # discovery's connections to the Sentinels then stayed open for the life of the process.
    sentinels = [sentinel_cluster.sentinel(i) for i in range(3)]

    def connections() -> list[int]:
        return [len(sentinel.client_list()) for sentinel in sentinels]

    before = connections()
    client = vedette.connect(sentinel_cluster.url)
    client.ping()
    watcher = vedette.shared_watcher(vedette.SentinelConfig.from_url(sentinel_cluster.url))
    running = not watcher.closed  # (the client's own watcher)
    assert running
    assert connections() != before
    unraisable: list[Any] = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with watcher.discovery._lock:  # as a lookup holds it
            del client  # its __del__ runs here, as a collection there would run it
        assert watcher.closed
        wait_until(lambda: connections() == before, 10, "the Sentinels to see every link closed")
    finally:
        sys.unraisablehook = hook
    assert unraisable == []
