"""Results through a failover: a client waiting on a result gets it from the new master."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from dramatiq import Message

from vedette.testing import SentinelCluster
from vedette_dramatiq import SentinelBroker, SentinelResultBackend
from vedette_harness.workers import DramatiqWorkers


def test_a_wait_for_a_result_goes_on_through_a_kill_9(
    sentinel_cluster: SentinelCluster, dramatiq_worker_factory: DramatiqWorkers, tmp_path: Path
) -> None:
    dramatiq_worker_factory(sentinel_cluster)
    broker = SentinelBroker(config=sentinel_cluster.config, middleware=[])
    backend = SentinelResultBackend(config=replace(sentinel_cluster.config, db=1))
    # Delayed: the worker holds it in memory through the failover, then enqueues and runs it.
    message: Message[Any] = broker.enqueue(Message("default", "record", (7,), {}, {}), delay=5000)
    got: list[Any] = []
    waiting = threading.Thread(
        target=lambda: got.append(backend.get_result(message, block=True, timeout=60_000))
    )
    waiting.start()
    sentinel_cluster.kill_master()
    sentinel_cluster.wait_for_switch(60)
    waiting.join(60)
    assert got == [7]
    assert backend.get_result(message) == 7  # readable afterwards


def test_a_worker_process_watches_once_for_its_broker_and_its_results(
    sentinel_cluster: SentinelCluster, dramatiq_worker_factory: DramatiqWorkers
) -> None:
    # Dramatiq's main process never loads the broker, so each worker process watches on its
    # own; but once only, for the broker (db 0) and the result backend (db 1) alike.
    dramatiq_worker_factory(sentinel_cluster)
    broker = SentinelBroker(config=sentinel_cluster.config, middleware=[])
    backend = SentinelResultBackend(config=replace(sentinel_cluster.config, db=1))
    message: Message[Any] = broker.enqueue(Message("default", "vedette_threads", (), {}, {}))
    names = backend.get_result(message, block=True, timeout=30_000)
    reconcilers = [name for name in names if name.endswith("-reconciler")]
    assert len(reconcilers) == 1, names
    broker.client.close()
