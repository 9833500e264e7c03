"""A scheduler process for the takeover tests: it leads a store and logs runs to a file.

python -m vedette_harness.scheduler_process URL PREFIX LOG OWNER [--lease S] [--die-after N]
[--unsure]

Its dispatcher, for the framework ``test``, is `vedette_harness.dispatch_log.FileLog`.
"""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from types import FrameType

import vedette
from vedette.schedule import ScheduleRunner, ScheduleStore
from vedette_harness.dispatch_log import FileLog

__all__ = ["main"]


def main() -> None:
    """Lead the store at URL with PREFIX, as OWNER, until SIGTERM."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("log", type=Path)
    parser.add_argument("owner")
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--die-after", type=int, default=0)
    parser.add_argument("--unsure", action="store_true")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    store = ScheduleStore(vedette.connect(options.url), prefix=options.prefix)
    dispatcher = FileLog(
        options.log, options.owner, knows=not options.unsure, die_after=options.die_after
    )
    runner = ScheduleRunner(
        store, {"test": dispatcher}, lease=options.lease, owner=options.owner, idle=0.05
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    runner.run()


if __name__ == "__main__":
    main()
