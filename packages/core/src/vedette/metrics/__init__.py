"""Metrics: what Vedette saw of each failover, for Prometheus and OpenTelemetry.

Nothing is recorded until a sink is enabled, and neither system is a dependency: install the
extra (``vedette[prometheus]``, ``vedette[opentelemetry]``) and enable it once per process, at
start-up:

    >>> import vedette.metrics
    >>> vedette.metrics.enable_prometheus()  # doctest: +SKIP

The metrics (`CATALOG`; docs/operations.md has the table) come from the core and from each
adapter. Forked worker processes (Celery's prefork pool, RQ's work horses, Dramatiq's worker
processes) are counted with `prometheus_client`'s multiprocess mode: set
``PROMETHEUS_MULTIPROC_DIR`` before the worker starts. What the watcher sees (switches, the
Sentinels, the workers' resume time) is recorded once, by the process that watches.
"""

from vedette.metrics.catalog import CATALOG, Kind, Metric
from vedette.metrics.enabling import disable, enable_opentelemetry, enable_prometheus
from vedette.metrics.instruments import DRAMATIQ_RECONCILIATIONS, RQ_CLAIMS_RECOVERED
from vedette.metrics.recorder import Counter, Gauge, Histogram
from vedette.metrics.resume import ResumeClock

__all__ = [
    # Enabling
    "disable",
    "enable_opentelemetry",
    "enable_prometheus",
    # The catalog
    "CATALOG",
    "Kind",
    "Metric",
    # For the adapters
    "Counter",
    "DRAMATIQ_RECONCILIATIONS",
    "Gauge",
    "Histogram",
    "RQ_CLAIMS_RECOVERED",
    "ResumeClock",
]
