"""Waiting on a condition, with a deadline: how tests wait, instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable

from vedette.testing.errors import WaitTimeout

__all__ = ["wait_until"]


def wait_until(
    condition: Callable[[], object], timeout: float, what: str, *, interval: float = 0.01
) -> None:
    """Call ``condition`` every ``interval`` seconds until it returns something true.

    Args:
        condition: What to wait for.
        timeout: Seconds to wait at most.
        what: What is waited for, for the error message ("the old master to restart").
        interval: Seconds between checks.

    Raises:
        WaitTimeout: ``condition`` was still false after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
