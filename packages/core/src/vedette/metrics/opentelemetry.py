"""The OpenTelemetry sink: each metric of the catalog as an instrument of one ``Meter``.

Only the OpenTelemetry API is used: the application configures the SDK (its readers and
exporters) and passes its ``MeterProvider``, or sets the global one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vedette.errors import ConfigurationError
from vedette.metrics.catalog import Metric

__all__ = ["OpenTelemetrySink"]


def _api() -> Any:
    try:
        from opentelemetry import metrics
    except ImportError:
        raise ConfigurationError(
            "vedette.metrics.enable_opentelemetry",
            "needs the OpenTelemetry API, which is not installed: "
            "pip install 'vedette[opentelemetry]'",
        ) from None
    return metrics


class OpenTelemetrySink:
    """Instruments for the catalog, from the meter ``vedette`` of ``meter_provider``.

    Args:
        meter_provider: An OpenTelemetry ``MeterProvider``; None for the global one.
        version: Vedette's version, given to the meter.
    """

    def __init__(self, meter_provider: Any = None, *, version: str = "") -> None:
        self.meter = _api().get_meter("vedette", version, meter_provider=meter_provider)

    def recorder(self, metric: Metric) -> Callable[[float, Mapping[str, str]], None]:
        """An instrument for ``metric``; the function that records to it."""
        meter, name, unit = self.meter, metric.name, metric.unit or "1"
        if metric.kind == "counter":
            counter = meter.create_counter(name, unit=unit, description=metric.description)
            return lambda value, labels: counter.add(value, attributes=labels)
        if metric.kind == "histogram":
            histogram = meter.create_histogram(
                name,
                unit=unit,
                description=metric.description,
                explicit_bucket_boundaries_advisory=list(metric.buckets),
            )
            return lambda value, labels: histogram.record(value, attributes=labels)
        gauge = meter.create_gauge(name, unit=unit, description=metric.description)
        return lambda value, labels: gauge.set(value, attributes=labels)
