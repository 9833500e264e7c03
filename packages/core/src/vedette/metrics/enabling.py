"""Enabling a sink: `enable_prometheus`, `enable_opentelemetry`, and `disable`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from vedette.metrics.opentelemetry import OpenTelemetrySink
from vedette.metrics.prometheus import PrometheusSink
from vedette.metrics.recorder import Recorders, Sink, connect, disconnect_all, recorders

__all__ = ["disable", "enable_opentelemetry", "enable_prometheus"]

_made: dict[tuple[str, int], tuple[Any, Recorders]] = {}  # (system, id of destination) -> ...
_making = threading.Lock()


def enable_prometheus(registry: Any = None) -> None:
    """Record Vedette's metrics to `prometheus_client` from now on.

    Calling it again with the same registry does nothing more.

    Args:
        registry: A ``prometheus_client.CollectorRegistry``; None for ``prometheus_client``'s
            default registry (``prometheus_client.REGISTRY``).

    Raises:
        ConfigurationError: ``prometheus_client`` is not installed.
    """
    _enable("prometheus", registry, lambda: PrometheusSink(registry))


def enable_opentelemetry(meter_provider: Any = None) -> None:
    """Record Vedette's metrics through the OpenTelemetry API from now on (meter ``vedette``).

    Calling it again with the same provider does nothing more.

    Args:
        meter_provider: An OpenTelemetry ``MeterProvider``; None for the global one.

    Raises:
        ConfigurationError: The OpenTelemetry API is not installed.
    """
    _enable(
        "opentelemetry",
        meter_provider,
        lambda: OpenTelemetrySink(meter_provider, version=version("vedette")),
    )


def disable() -> None:
    """Record to no sink from now on (enabling one again resumes where its values were)."""
    disconnect_all()


def _enable(system: str, destination: Any, sink: Callable[[], Sink]) -> None:
    key = (system, id(destination))
    with _making:
        made = _made.get(key)
        if made is None or made[0] is not destination:
            made = _made[key] = (destination, recorders(sink()))
    connect(made[1])
