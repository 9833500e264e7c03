"""How RQ's processes wait out a failover: a worker never gives up because the master is away.

A Vedette client already retries each command through a failover, for up to ``retry_deadline``
(60 s by default). A worker, its work horse and its scheduler have nothing better to do than to
wait longer than that, so what they must do (a heartbeat, claiming a job, recording its outcome)
is retried *patiently*, for as long as it takes; what they may skip (a monitoring heartbeat, a
maintenance pass) is *tolerated*: logged, and done again next time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import vedette

__all__ = ["patiently", "tolerated"]

T = TypeVar("T")

logger = logging.getLogger(__name__)


def patiently(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, retried through failovers for as long as it takes.

    Only for calls that may run twice (a lost reply is retried too). Errors that are not a
    failover's (a wrong password, a bug) propagate at once.
    """
    while True:
        try:
            return vedette.ensure_call(fn, *args, deadline=math.inf, idempotent=True, **kwargs)
        except vedette.FailoverTimeout as error:  # a promotion, or a reply, that took too long
            logger.warning("%s: %s; trying again", getattr(fn, "__qualname__", fn), error)


@contextmanager
def tolerated(log: logging.Logger, what: str) -> Iterator[None]:
    """Log a failover's error raised in the block, and go on; any other error propagates."""
    try:
        yield
    except Exception as error:
        if not vedette.is_failover(error):
            raise
        log.warning("%s was cut short by a failover (%s: %s)", what, type(error).__name__, error)
