"""The Prometheus sink: each metric of the catalog as a `prometheus_client` collector.

With ``PROMETHEUS_MULTIPROC_DIR`` set in the worker's environment (before ``prometheus_client``
is first imported), every process writes its values to that directory and forked children
(Celery's prefork pool, RQ's work horses, Dramatiq's processes) are counted too; expose them with
``prometheus_client.multiprocess.MultiProcessCollector`` (docs/operations.md, per framework).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vedette.errors import ConfigurationError
from vedette.metrics.catalog import Metric

__all__ = ["PrometheusSink"]


def _client() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise ConfigurationError(
            "vedette.metrics.enable_prometheus",
            "needs prometheus_client, which is not installed: pip install 'vedette[prometheus]'",
        ) from None
    return prometheus_client


class PrometheusSink:
    """Collectors for the catalog, registered in ``registry``.

    Args:
        registry: A ``prometheus_client.CollectorRegistry``; None for its default registry.
    """

    def __init__(self, registry: Any = None) -> None:
        client = _client()
        self._client = client
        self.registry = client.REGISTRY if registry is None else registry

    def recorder(self, metric: Metric) -> Callable[[float, Mapping[str, str]], None]:
        """A collector for ``metric``, registered; the function that records to it."""
        client, options = self._client, {"registry": self.registry, "labelnames": metric.labels}
        name, text = metric.prometheus_name, metric.description
        if metric.kind == "counter":
            counter = client.Counter(name, text, **options)
            return lambda value, labels: counter.labels(**labels).inc(value)
        if metric.kind == "histogram":
            histogram = client.Histogram(name, text, buckets=metric.buckets, **options)
            return lambda value, labels: histogram.labels(**labels).observe(value)
        gauge = client.Gauge(name, text, multiprocess_mode=metric.multiprocess_mode, **options)
        return lambda value, labels: gauge.labels(**labels).set(value)
