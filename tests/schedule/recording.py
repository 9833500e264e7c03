"""Dispatchers for the tests: they record each run instead of sending it to a framework."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


class FileLog(Dispatcher):
    """Appends each run as a JSON line to a file that several scheduler processes share.

    ``knows``: answer `dispatched` from the file (as RQ can from its job hashes); otherwise say
    it cannot tell. ``die_after``: kill -9 this process right after that many sends, before the
    scheduler records the last one.
    """

    def __init__(self, path: Path, owner: str, *, knows: bool = True, die_after: int = 0) -> None:
        self.path = path
        self.owner = owner
        self.knows = knows
        self.die_after = die_after
        self.sent = 0

    def dispatch(self, run: Run) -> None:
        line = {
            "id": run.id,
            "slot": run.slot,
            "owner": self.owner,
            "late": run.late,
            "at": time.time(),
        }
        with self.path.open("a") as log:
            log.write(json.dumps(line) + "\n")
        self.sent += 1
        if self.sent == self.die_after:
            os.kill(os.getpid(), 9)

    def dispatched(self, run: Run) -> bool | None:
        if not self.knows:
            return None
        return any(record["id"] == run.id for record in read_log(self.path))


def read_log(path: Path) -> list[dict[str, object]]:
    """The runs a `FileLog` recorded, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


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
