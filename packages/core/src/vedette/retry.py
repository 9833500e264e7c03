"""Retrying through a failover: which errors deserve another attempt, and how long to keep going.

A failover makes Redis refuse work for a few seconds in ways that say "try again soon": the
connection drops or times out, a demoted master answers ``READONLY``, a replica being promoted
answers ``LOADING`` or ``MASTERDOWN``, a blocked command is ``UNBLOCKED``, or no Sentinel names a
master yet. Those, and only those, are retried, with jittered exponential backoff under one
overall deadline; any other error (a wrong password, a typo in the service name, a bad command)
propagates at once. A retry does not wait out its backoff when a `FailoverWatcher` in this process
sees the new master: it starts at once.

Usage:
    >>> import vedette
    >>> client = vedette.connect("redis+sentinel://10.0.0.1,10.0.0.2/mymaster")  # doctest: +SKIP
    >>> vedette.ensure_call(client.lpush, "jobs", "payload", deadline=30)  # doctest: +SKIP
    >>> @vedette.ensured(deadline=30)
    ... def enqueue(payload: str) -> None:
    ...     client.lpush("jobs", payload)
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

import redis

from vedette._wakeup import master_switched
from vedette.errors import (
    AuthenticationError,
    FailoverTimeout,
    MasterNotFoundError,
    ServiceNotFoundError,
)

if TYPE_CHECKING:
    from vedette.config import SentinelConfig

__all__ = ["DEFAULT_DEADLINE", "Backoff", "ensure_call", "ensured", "is_retryable"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_DEADLINE = 60.0
"""Seconds `ensure_call` keeps trying by default: Sentinel's default ``down-after-milliseconds``
(30 s) plus an election, with room to spare. The same as `SentinelConfig.retry_deadline`."""

# Error replies that mean "not executed, the topology is changing": Redis prefixes each with
# its code, which redis-py keeps in the message of the errors it has no class for.
_RETRYABLE_REPLIES = ("READONLY", "LOADING", "MASTERDOWN", "UNBLOCKED")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Pauses between attempts: exponential growth with jitter, capped.

    Each pause is drawn uniformly between half and all of ``minimum * factor**n`` (capped at
    ``maximum``), so clients that failed together do not retry together.
    """

    minimum: float = 0.05
    """First pause, in seconds."""
    maximum: float = 2.0
    """Longest pause, in seconds."""
    factor: float = 2.0
    """Growth of each pause over the previous one."""

    @classmethod
    def from_config(cls, config: SentinelConfig) -> Backoff:
        """The pauses set by ``min_backoff``, ``max_backoff`` and ``backoff_factor``."""
        return cls(config.min_backoff, config.max_backoff, config.backoff_factor)

    def delays(self) -> Iterator[float]:
        """An endless series of pauses, in seconds."""
        ceiling = self.minimum
        while True:
            yield random.uniform(ceiling / 2, ceiling)
            ceiling = min(self.maximum, ceiling * self.factor)


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` is one a failover causes, so another attempt may succeed.

    Retryable: connection errors and timeouts, ``READONLY``, ``LOADING``, ``MASTERDOWN`` and
    ``UNBLOCKED`` replies, and `MasterNotFoundError`. Not retryable: authentication failures,
    `ServiceNotFoundError` (a wrong service name does not fix itself), a full connection pool,
    and every other error.
    """
    if isinstance(error, AuthenticationError | ServiceNotFoundError | redis.AuthenticationError):
        return False
    if isinstance(error, MasterNotFoundError):
        return True
    if isinstance(error, redis.exceptions.MaxConnectionsError):
        return False
    if isinstance(error, redis.ConnectionError | redis.TimeoutError | redis.ReadOnlyError):
        return True
    if isinstance(error, redis.ResponseError):
        # redis-py 6+ has a class for MASTERDOWN and strips the code from its message.
        masterdown = type(error).__name__ == "MasterDownError"
        return masterdown or str(error).startswith(_RETRYABLE_REPLIES)
    return False


def ensure_call(
    fn: Callable[..., T], /, *args: Any, deadline: float | None = None, **kwargs: Any
) -> T:
    """Call ``fn(*args, **kwargs)``, retrying it through a failover.

    Retryable errors (see `is_retryable`) are retried with jittered backoff until ``deadline``
    seconds have passed since the first attempt; a master switch seen by any `FailoverWatcher`
    in this process ends the pause at once. Other errors propagate unchanged.

    ``fn`` may run more than once: if a connection breaks after a command was sent, Redis may or
    may not have executed it. Make ``fn`` idempotent, or accept at-least-once.

    Args:
        fn: What to call.
        *args: Its positional arguments.
        deadline: Seconds to keep trying; default `DEFAULT_DEADLINE`. (It is keyword-only, so it
            never reaches ``fn``.)
        **kwargs: Its keyword arguments.

    Raises:
        FailoverTimeout: Still failing with retryable errors when the deadline passed; the last
            error is chained as ``__cause__``.
    """
    name = getattr(fn, "__qualname__", repr(fn))
    return call_with_retries(
        functools.partial(fn, *args, **kwargs),
        deadline=DEFAULT_DEADLINE if deadline is None else deadline,
        backoff=Backoff(),
        what=name,
    )


@overload
def ensured(fn: Callable[P, T], /) -> Callable[P, T]: ...
@overload
def ensured(*, deadline: float | None = None) -> Callable[[Callable[P, T]], Callable[P, T]]: ...
def ensured(
    fn: Callable[P, T] | None = None, /, *, deadline: float | None = None
) -> Callable[P, T] | Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator form of `ensure_call`: ``@ensured`` or ``@ensured(deadline=30)``."""

    def decorate(function: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return ensure_call(function, *args, deadline=deadline, **kwargs)

        return wrapper

    return decorate if fn is None else decorate(fn)


def call_with_retries(
    attempt: Callable[[], T],
    *,
    deadline: float,
    backoff: Backoff,
    what: str,
    after_failure: Callable[[Exception], None] | None = None,
    timeout_error: bool = True,
) -> T:
    """The retry loop shared by `ensure_call` and the master-following client.

    Args:
        attempt: One attempt.
        deadline: Seconds to keep trying.
        backoff: Pauses between attempts.
        what: What is attempted, for log lines and the timeout's message.
        after_failure: Called with each error before it is classified (the client drops the
            broken connection there); an exception it raises propagates.
        timeout_error: At the deadline, raise `FailoverTimeout` (chaining the last error);
            False re-raises the last error itself, as redis-py does when its retries run out.

    Raises:
        FailoverTimeout: The deadline passed with only retryable errors.
    """
    end = time.monotonic() + deadline
    pauses = backoff.delays()
    attempts = 0
    while True:
        switches = master_switched.count
        attempts += 1
        try:
            return attempt()
        except Exception as error:
            if after_failure is not None:
                after_failure(error)
            if not is_retryable(error):
                raise
            remaining = end - time.monotonic()
            if remaining <= 0:
                logger.warning(
                    "%s: still failing after %g s and %d attempts: %s: %s",
                    what,
                    deadline,
                    attempts,
                    type(error).__name__,
                    error,
                )
                if not timeout_error:
                    raise
                raise FailoverTimeout(
                    f"{what}: still failing after {deadline:g} s and {attempts} attempts; "
                    f"last error: {type(error).__name__}: {error}",
                    deadline=deadline,
                    attempts=attempts,
                ) from error
            pause = min(next(pauses), remaining)
            logger.debug(
                "%s failed (%s: %s); attempt %d in at most %.3f s",
                what,
                type(error).__name__,
                error,
                attempts + 1,
                pause,
            )
            master_switched.wait(switches, pause)
