"""The Celery app real ``celery worker`` processes run: ``celery -A vedette_harness.celery_app``.

Its settings come from the environment: ``VEDETTE_BROKER_URL``, ``VEDETTE_RESULT_BACKEND``,
``VEDETTE_BROKER_OPTIONS`` (transport options, JSON) and ``VEDETTE_ACKS_LATE``
(`vedette_harness.workers.CeleryWorkers` sets them). It does not import vedette_celery: the
``celery`` command registers the schemes by itself, so the settings are all a worker needs.
With ``PROMETHEUS_MULTIPROC_DIR`` set, it records Vedette's metrics (docs/operations.md).
"""

import json
import os
import threading
import time

from celery import Celery

import vedette.metrics
from vedette_harness.execution_log import record_execution

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    vedette.metrics.enable_prometheus()  # the one-line set-up, in the worker's app module

# The same transport options for the broker and the results, as celery-redis-sentinel's README.
options = json.loads(os.environ.get("VEDETTE_BROKER_OPTIONS") or "{}")
app = Celery("vedette_tests")
app.conf.update(
    broker_url=os.environ["VEDETTE_BROKER_URL"],
    broker_transport_options=options,
    result_backend=os.environ.get("VEDETTE_RESULT_BACKEND") or None,
    result_backend_transport_options=options,
    broker_connection_retry_on_startup=True,
    task_acks_late=os.environ.get("VEDETTE_ACKS_LATE") == "1",
)


@app.task(name="record")  # type: ignore[untyped-decorator]  # Celery is untyped
def record(number: int) -> int:
    """Note the run in the execution log; the result is the number."""
    record_execution(number)
    return number


@app.task(name="total")  # type: ignore[untyped-decorator]  # Celery is untyped
def total(numbers: list[int]) -> int:
    """A chord's callback: the sum of its header's results."""
    return sum(numbers)


@app.task(name="vedette_threads")  # type: ignore[untyped-decorator]  # Celery is untyped
def vedette_threads(busy: float = 0.0) -> tuple[int, list[str]]:
    """The pool process's id and the names of its Vedette threads, after ``busy`` seconds."""
    time.sleep(busy)  # keeps this process busy: tasks sent meanwhile go to the others
    names = sorted(t.name for t in threading.enumerate() if t.name.startswith("vedette-"))
    return os.getpid(), names
