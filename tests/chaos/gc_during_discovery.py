"""A client used by the garbage collector while another client of its service discovers.

Run as ``python -m tests.chaos.gc_during_discovery URL [SECOND_URL]``. Celery's
``AsyncResult.__del__`` unsubscribes through the result backend's client, whenever a collection
happens to run. Here a ``gc.callbacks`` hook uses a second client (of the same configuration, or
of ``SECOND_URL``) each time a collection starts while the first client's first command hands a
question to discovery's asking threads (so: while that thread holds what it holds then). The
collector runs at almost every allocation meanwhile.

Prints one line, ``first=OK nested=N slowest=S errors=[...] fork=OK``, and exits 0; a deadlock
shows as the caller's timeout. Afterwards a fork with an at-fork handler (``subprocess`` with a
``preexec_fn``) must work too: a thread stuck inside ``concurrent.futures`` blocks every fork.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from types import FrameType
from typing import Any

import vedette


def in_discovery(frame: FrameType | None) -> bool:
    """Whether the current thread is handing a question to discovery's asking threads.

    What it holds then (discovery's lock, and ``concurrent.futures``' global lock while its
    ``submit`` runs) is what a finalizer on the same thread must not wait for.
    """
    while frame is not None:
        if frame.f_code.co_name == "submit":
            return True
        frame = frame.f_back
    return False


def main(url: str, second_url: str) -> None:
    first, second = vedette.connect(url), vedette.connect(second_url)
    nested: list[float] = []
    errors: list[str] = []

    def collecting(phase: str, info: dict[str, Any]) -> None:
        if phase != "start" or not in_discovery(sys._getframe(1)):
            return
        started = time.monotonic()
        try:
            second.set("set-by-a-finalizer", 1)
        except Exception as error:  # reported, not raised: the collector would swallow it
            errors.append(f"{type(error).__name__}: {error}")
        nested.append(time.monotonic() - started)

    gc.callbacks.append(collecting)
    threshold = gc.get_threshold()
    gc.set_threshold(1)
    try:
        first.ping()
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(collecting)
    subprocess.run(["true"], preexec_fn=lambda: None, check=True, timeout=10)
    slowest = max(nested, default=0.0)
    print(f"first=OK nested={len(nested)} slowest={slowest:.3f} errors={errors} fork=OK")
    first.close()
    second.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else sys.argv[1])
