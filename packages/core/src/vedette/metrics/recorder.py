"""The one internal recorder: instruments the core and the adapters record to, and their sinks.

An instrument (`Counter`, `Histogram`, `Gauge`) stands for one `Metric` of the catalog. It
records to every sink enabled (`vedette.metrics.enable_prometheus`,
`vedette.metrics.enable_opentelemetry`); with none, a recording is one empty loop.

Recording never waits for a lock the same thread may hold: code called back on a thread inside
Vedette (a finalizer, ``__del__``: `vedette.process.reentry`) could have interrupted a sink in
the middle of a recording, under the sink's own lock, so what it records is put off until the
thread is out of the way (`later`).

Recordings go through one lock, which a fork waits for: the sinks' own locks (plain ones, one for
every value in ``prometheus_client``'s multiprocess mode) are never inherited held by a forked
child, whose first recording would wait for them forever.

A sink that fails (a multiprocess directory removed under a running worker) never fails what
was being recorded: the error is logged, once per metric, on ``vedette.metrics``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from vedette.metrics.catalog import CATALOG, Metric
from vedette.process.reentry import called_back, later

__all__ = [
    "Counter",
    "Gauge",
    "Histogram",
    "Instrument",
    "Recorders",
    "Sink",
    "connect",
    "disconnect_all",
    "instrument",
    "recorders",
]

logger = logging.getLogger("vedette.metrics")


class Sink(Protocol):
    """Where recordings go: one per system (Prometheus, OpenTelemetry) and destination."""

    def recorder(self, metric: Metric) -> Callable[[float, Mapping[str, str]], None]:
        """The function that records one value of ``metric`` with its labels."""


class Instrument:
    """One metric of the catalog, recorded to every sink enabled."""

    __slots__ = ("_to", "metric")

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self._to: tuple[Callable[[float, Mapping[str, str]], None], ...] = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.metric.name!r})"

    def _record(self, value: float, labels: Mapping[str, str]) -> None:
        to = self._to  # read once: a sink added meanwhile gets the next recording
        if not to:
            return
        if called_back():  # see the module: the sinks' locks may be this thread's
            later(lambda: self._send(to, value, labels), "vedette-metrics")
            return
        self._send(to, value, labels)

    def _send(
        self,
        to: tuple[Callable[[float, Mapping[str, str]], None], ...],
        value: float,
        labels: Mapping[str, str],
    ) -> None:
        with _sending:
            for record in to:
                try:
                    record(value, labels)
                except Exception:
                    self._failed()

    def _failed(self) -> None:
        name = self.metric.name
        if name not in _failed:
            _failed.add(name)
            logger.warning("recording %s failed; the metric may be missing", name, exc_info=True)


class Counter(Instrument):
    """A count that only goes up."""

    __slots__ = ()

    def add(self, amount: float = 1, /, **labels: str) -> None:
        """Count ``amount`` more, with these labels."""
        self._record(amount, labels)


class Histogram(Instrument):
    """A distribution of observed values (durations, in seconds)."""

    __slots__ = ()

    def observe(self, value: float, /, **labels: str) -> None:
        """Record one observation, with these labels."""
        self._record(value, labels)


class Gauge(Instrument):
    """A value that goes up and down."""

    __slots__ = ()

    def set(self, value: float, /, **labels: str) -> None:
        """Set the value for these labels."""
        self._record(value, labels)


_KINDS: dict[str, type[Instrument]] = {
    "counter": Counter,
    "histogram": Histogram,
    "gauge": Gauge,
}
_INSTRUMENTS: dict[str, Instrument] = {
    metric.name: _KINDS[metric.kind](metric) for metric in CATALOG
}
_adding = threading.Lock()  # only enabling takes it, never a recording
_sending = threading.Lock()  # every recording; see the module
_failed: set[str] = set()  # metrics whose recording failed (logged once each)


def _before_fork() -> None:
    _sending.acquire()


def _after_fork_in_parent() -> None:
    _sending.release()


def _after_fork_in_child() -> None:
    global _sending
    _sending = threading.Lock()  # the parent's is held by its forking thread


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )

Recorders = dict[str, Callable[[float, Mapping[str, str]], None]]
"""A sink's recording function for each metric, by name."""


def instrument(name: str) -> Instrument:
    """The instrument of the catalog's metric ``name`` (``"vedette.failover.switches"``)."""
    return _INSTRUMENTS[name]


def recorders(sink: Sink) -> Recorders:
    """``sink``'s recording function for every metric of the catalog (made once per sink)."""
    return {name: sink.recorder(inst.metric) for name, inst in _INSTRUMENTS.items()}


def connect(made: Recorders) -> None:
    """Record every metric through ``made`` too, from now on."""
    with _adding:
        for name, inst in _INSTRUMENTS.items():
            if made[name] not in inst._to:
                inst._to = (*inst._to, made[name])


def disconnect_all() -> None:
    """Record to no sink from now on."""
    with _adding:
        for inst in _INSTRUMENTS.values():
            inst._to = ()
