"""The hub's lookups: concurrent callers share one, and its failure, through an outage.

No cluster: the discovery is replaced by one that fails after a while, as asking Sentinels that
name a dead master does. However many threads (or coroutines, through worker threads) retry
through an outage, the Sentinels are asked once per lookup in flight, not once per caller.
"""

from __future__ import annotations

import threading
import time

import pytest

import vedette
from vedette import MasterNotFoundError, SentinelConfig
from vedette.client.hub import Hub
from vedette.sentinel.discovery import Topology
from vedette.testing import ScriptedWatcher


def failing_hub(monkeypatch: pytest.MonkeyPatch, calls: list[float]) -> Hub:
    config = SentinelConfig(sentinels=["127.0.0.1:1"], service_name="outage", min_backoff=0.2)
    hub = Hub(config, ScriptedWatcher(config))  # no master known: every caller must look up

    def discover(*, every_sentinel: bool = False) -> Topology:
        calls.append(time.monotonic())
        time.sleep(0.1)  # asking the Sentinels, and the master they name, takes a while
        raise MasterNotFoundError(
            "the master is not usable", service_name="outage", answers={"a:1": "dead"}
        )

    monkeypatch.setattr(hub.discovery, "discover", discover)
    return hub


def test_callers_waiting_for_a_failed_lookup_share_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[float] = []
    hub = failing_hub(monkeypatch, calls)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            hub.master_address()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(errors) == 20
    assert all(isinstance(error, MasterNotFoundError) for error in errors)
    assert all(error.answers == {"a:1": "dead"} for error in errors)  # type: ignore[attr-defined]
    assert len(calls) == 1  # one lookup for twenty callers


def test_a_failure_is_reused_for_min_backoff_then_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[float] = []
    hub = failing_hub(monkeypatch, calls)
    for _ in range(3):
        with pytest.raises(MasterNotFoundError):
            hub.master_address()
    assert len(calls) == 1  # the two after it came within min_backoff (0.2 s)
    time.sleep(0.25)
    with pytest.raises(MasterNotFoundError):
        hub.master_address()
    assert len(calls) == 2
    assert vedette.is_retryable(MasterNotFoundError("x", service_name="s", answers={}))
