"""`ResumeClock`: how long a worker took to receive a job again after a master switch."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from vedette.metrics.instruments import WORKER_RESUME

if TYPE_CHECKING:
    from collections.abc import Callable

    from vedette.sentinel.events import FailoverEvent
    from vedette.sentinel.watcher import FailoverWatcher

__all__ = ["ResumeClock"]


class ResumeClock:
    """Observes ``vedette.worker.resume``: from a master switch to the first job received.

    An adapter makes one per worker, on the watcher of its broker's service, and calls
    `received` whenever its consumer hands a job to the framework. Only the first job after
    each switch is timed; with an idle queue, that is when the next job came.

    Args:
        watcher: The broker's watcher (``vedette.watcher_of(client)``).
        framework: ``"celery"``, ``"dramatiq"`` or ``"rq"``, as the metric's label.
    """

    def __init__(self, watcher: FailoverWatcher, framework: str) -> None:
        self._service = watcher.config.service_name
        self._framework = framework
        self._switched: float | None = None  # monotonic time of the last switch not yet timed
        self._lock = threading.Lock()  # never held while recording, nor by the watcher's thread
        self._stop: Callable[[], None] | None = watcher.subscribe(
            self._on_event, follow_parent=True
        )

    def _on_event(self, event: FailoverEvent) -> None:
        if type(event).__name__ == "MasterSwitched":  # no import: the metrics sit below events
            since = (datetime.now(timezone.utc) - event.at).total_seconds()
            self._switched = time.monotonic() - max(0.0, since)

    def received(self) -> None:
        """A job was received: the first since a switch observes how long that took."""
        if self._switched is None:  # the common case: no lock
            return
        switched = self._take()  # consumer threads woken by the same switch: one observation
        if switched is None:
            return
        WORKER_RESUME.observe(
            time.monotonic() - switched, service=self._service, framework=self._framework
        )

    def _take(self) -> float | None:
        with self._lock:
            switched, self._switched = self._switched, None
            return switched

    def close(self) -> None:
        """Stop listening to the watcher."""
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()
