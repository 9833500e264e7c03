"""A result backend no Sentinel answers for: Celery gives up within ``retry_deadline``.

Vedette's pool retries each command until ``retry_deadline``; Celery's own retries on top of it
(its ``retry_policy``, the result consumer's reconnect loop) would repeat that deadline about 20
times. Each call below must raise one error within the deadline plus what the dead Sentinels
cost the last lookup, and the error must say what is wrong.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
import redis
from celery import Celery
from kombu.exceptions import OperationalError

from vedette.testing import SentinelCluster, unresponsive_address
from vedette_harness.celery_producer import celery_url, producer_app

DEADLINE = 3.0
# The last lookup may start just before the deadline and wait on each dead Sentinel (connect
# timeout 0.5 s, two of them); the rest is room for a loaded machine.
BOUND = DEADLINE + 2 * 0.5 + 3.0


@pytest.fixture(params=["URL option", "transport option"])
def dead_backend(
    request: pytest.FixtureRequest, sentinel_cluster: SentinelCluster
) -> Iterator[Celery]:
    """A producer on a live broker, whose result backend's Sentinels never answer."""
    broker = celery_url(sentinel_cluster)
    with unresponsive_address() as first, unresponsive_address() as second:
        backend = f"redis-sentinel://{first},{second}/vedette/1?sentinel_connect_timeout=0.5"
        if request.param == "URL option":
            app = producer_app(broker, f"{backend}&retry_deadline={DEADLINE:g}")
        else:
            app = producer_app(broker, backend)
            app.conf.result_backend_transport_options = {"retry_deadline": DEADLINE}
        yield app
        app.close()
        # Dropping the app collects the results still waited for, whose AsyncResult.__del__
        # unsubscribes from their channels on the dead backend (Celery 5.3 to 5.6 do, even
        # after an explicit removal): that too ends within the bound, and what it raises goes
        # where Python puts errors raised in __del__.
        unraisable: list[Any] = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sys, "unraisablehook", unraisable.append)
            del app
            started = time.monotonic()
            gc.collect()
            took = time.monotonic() - started
        assert took < BOUND, f"{took:.1f} s"
        for report in unraisable:
            assert_clear(report.exc_value)


def timed(call: Callable[[], Any]) -> tuple[float, BaseException]:
    """How long ``call`` took to fail, and what it raised."""
    started = time.monotonic()
    # kombu wraps a Redis error raised while publishing (a connection error, as Vedette's are).
    with pytest.raises((redis.ConnectionError, OperationalError)) as raised:
        call()
    return time.monotonic() - started, raised.value


def assert_clear(error: BaseException) -> None:
    """The error, or one it was raised from, says that no Sentinel answered."""
    chain = []
    link: BaseException | None = error
    while link is not None:
        chain.append(f"{type(link).__name__}: {link}")
        link = link.__cause__ or link.__context__
    assert any("Sentinel" in link for link in chain), chain
    assert not any("must be restarted" in link for link in chain), chain


def test_sending_a_task_gives_up_within_the_deadline(dead_backend: Celery) -> None:
    took, error = timed(lambda: dead_backend.send_task("record", (1,)))
    assert took < BOUND, f"{took:.1f} s"
    assert_clear(error)


def test_waiting_for_a_result_gives_up_within_the_deadline(dead_backend: Celery) -> None:
    result = dead_backend.AsyncResult("a-task-id")
    took, error = timed(partial(result.get, timeout=1))
    assert took < BOUND, f"{took:.1f} s"
    assert_clear(error)
    # What its garbage collection does (AsyncResult.__del__): unsubscribe from its channel. The
    # subscription went with the connection, so there is nothing to undo and nothing raised into
    # a finalizer; it gives up within the deadline too.
    started = time.monotonic()
    dead_backend.backend.remove_pending_result(result)
    took = time.monotonic() - started
    assert took < BOUND, f"{took:.1f} s"


def test_storing_a_result_gives_up_within_the_deadline(dead_backend: Celery) -> None:
    backend = dead_backend.backend
    took, error = timed(lambda: backend.store_result("a-task-id", 42, "SUCCESS"))
    assert took < BOUND, f"{took:.1f} s"
    assert_clear(error)
    took, error = timed(lambda: backend.set("celery-task-meta-a-task-id", "{}"))
    assert took < BOUND, f"{took:.1f} s"
    assert_clear(error)
