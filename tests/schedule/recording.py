"""Dispatchers for the tests: they record each run instead of sending it to a framework."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from vedette.schedule import Dispatcher, Run, ScheduleRunner


class Recording(Dispatcher):
    """Keeps every run it is given; fails the first ``failures`` sends."""

    def __init__(self, failures: int = 0) -> None:
        self.runs: list[Run] = []
        self.failures = failures
        self._lock = threading.Lock()

    def dispatch(self, run: Run) -> None:
        with self._lock:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("the broker is away")
            self.runs.append(run)


@contextmanager
def running(runner: ScheduleRunner) -> Iterator[ScheduleRunner]:
    """``runner.run()`` in a thread for the block; stopped (within 10 s) after it."""
    thread = threading.Thread(target=runner.run, name=f"runner {runner.lease.owner}")
    thread.start()
    try:
        yield runner
    finally:
        runner.stop()
        thread.join(10)
        assert not thread.is_alive()


def slots_of(dispatcher: Recording, name: str) -> list[int]:
    """The slots of ``name``'s runs the dispatcher was given, in order."""
    return [run.slot for run in list(dispatcher.runs) if run.entry.name == name]
