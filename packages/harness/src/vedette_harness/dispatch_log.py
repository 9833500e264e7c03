"""Runs a scheduler sends to the framework ``test``, noted in a file several processes share.

`FileLog` is the dispatcher of `vedette_harness.scheduler_process`; `read_log` reads what it
noted, in the takeover tests and benchmarks/schedule_takeover.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from vedette.schedule import Dispatcher, Run

__all__ = ["FileLog", "read_log"]


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
        """Append the run (its id, slot, this owner, lateness, the time) to the file."""
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
        """Whether the file holds the run (``knows``), or None: cannot tell."""
        if not self.knows:
            return None
        return any(record["id"] == run.id for record in read_log(self.path))


def read_log(path: Path) -> list[dict[str, object]]:
    """The runs a `FileLog` recorded, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
