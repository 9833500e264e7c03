"""Retrying through a failover: which errors deserve another attempt, and how long to keep going.

A failover makes Redis refuse work for a few seconds in ways that say "try again soon": the
connection drops or times out, a demoted master answers ``READONLY``, a replica being promoted
answers ``LOADING`` or ``MASTERDOWN``, a blocked command is ``UNBLOCKED``, or no Sentinel names a
master yet. Those, and only those, are retried, with jittered exponential backoff under one
overall deadline; any other error (a wrong password, a typo in the service name, a bad command)
propagates at once. A retry does not wait out its backoff when a `FailoverWatcher` in this process
sees the new master: it starts at once.

Examples:
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
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar, overload

import redis
from redis.backoff import NoBackoff

from vedette.errors import FailoverTimeout, OutcomeUnknownError
from vedette.failures import is_retryable, retry_reason
from vedette.metrics.instruments import COMMANDS_RETRIED, OUTCOME_UNKNOWN
from vedette.metrics.pauses import PauseClock, pause_clock
from vedette.process.reentry import CALLED_BACK_DEADLINE, called_back
from vedette.process.state import state

if TYPE_CHECKING:
    from vedette.config.sentinel_config import SentinelConfig

__all__ = [
    "DEFAULT_DEADLINE",
    "Attempts",
    "Backoff",
    "FailoverRetry",
    "deadline_for",
    "ensure_call",
    "ensured",
]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_DEADLINE = 60.0
"""Seconds `ensure_call` keeps trying by default: Sentinel's default ``down-after-milliseconds``
(30 s) plus an election, with room to spare. The same as `SentinelConfig.retry_deadline`."""


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
            yield state.jitter.uniform(ceiling / 2, ceiling)
            ceiling = min(self.maximum, ceiling * self.factor)


def ensure_call(
    fn: Callable[..., T],
    /,
    *args: Any,
    deadline: float | None = None,
    idempotent: bool = False,
    **kwargs: Any,
) -> T:
    """Call ``fn(*args, **kwargs)``, retrying it through a failover.

    Retryable errors (see `is_retryable`) are retried with jittered backoff until ``deadline``
    seconds have passed since the first failure; a master switch seen by any `FailoverWatcher`
    in this process ends the pause at once. Other errors propagate unchanged.

    ``fn`` runs again only after an error that says it did not complete, unless it is declared
    ``idempotent``. If ``fn`` sends several commands, those before the failure are not undone:
    make it idempotent, or accept that they may run twice. A Vedette client already retries each
    command (see docs/failover.md, "What a retry may repeat"); ensure_call is for longer
    deadlines, for code around the commands, and for scripts that may safely run twice.

    Args:
        fn: What to call.
        *args: Its positional arguments.
        deadline: Seconds to keep trying; default `DEFAULT_DEADLINE`; ``math.inf`` for as long
            as it takes.
        idempotent: ``fn`` may run twice without harm (a script written so, say): an
            `OutcomeUnknownError` (its reply was lost) is retried too.
        **kwargs: Its keyword arguments. (``deadline`` and ``idempotent`` are keyword-only, so
            they never reach ``fn``.)

    Raises:
        FailoverTimeout: Still failing with retryable errors when the deadline passed; the last
            error is chained as ``__cause__``.
    """
    attempt = functools.partial(fn, *args, **kwargs)
    with lost_replies_retried(idempotent):
        try:
            return attempt()
        except Exception as error:
            return retry_after(error, attempt, call_attempts(fn, deadline, idempotent=idempotent))


# Set while an idempotent `ensure_call` runs: a command's lost reply is retried, not raised.
_lost_replies_retried: ContextVar[bool] = ContextVar("vedette_lost_replies_retried", default=False)


@contextmanager
def lost_replies_retried(idempotent: bool) -> Iterator[None]:
    """Mark an ``idempotent`` call's run (this thread or task) for the commands it sends.

    Their lost replies are retried by the call, so they are not counted as
    ``vedette.commands.outcome_unknown``.
    """
    if not idempotent:
        yield
        return
    token = _lost_replies_retried.set(True)
    try:
        yield
    finally:
        _lost_replies_retried.reset(token)


def call_attempts(fn: Callable[..., Any], deadline: float | None, *, idempotent: bool) -> Attempts:
    """The plan `ensure_call` (sync or async) follows after ``fn`` first failed."""
    return Attempts(
        deadline=DEFAULT_DEADLINE if deadline is None else deadline,
        backoff=Backoff(),
        what=describe_call(fn),
        idempotent=idempotent,
    )


def describe_call(fn: Callable[..., Any]) -> str:
    """What ``fn`` does, for a log line or an error: its name, or the command it sends.

    A redis-py ``Script`` (what ``register_script`` returns) has no name: it is shown as the
    command it sends, ``EVALSHA`` and the start of its digest.
    """
    while isinstance(fn, functools.partial):
        fn = fn.func
    sha = getattr(fn, "sha", None)
    if isinstance(sha, str) and hasattr(fn, "registered_client"):
        return f"EVALSHA {sha[:12]}"
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) else type(fn).__name__


@overload
def ensured(fn: Callable[P, T], /) -> Callable[P, T]: ...
@overload
def ensured(
    *, deadline: float | None = None, idempotent: bool = False
) -> Callable[[Callable[P, T]], Callable[P, T]]: ...
def ensured(
    fn: Callable[P, T] | None = None,
    /,
    *,
    deadline: float | None = None,
    idempotent: bool = False,
) -> Callable[P, T] | Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator form of `ensure_call`: ``@ensured`` or ``@ensured(deadline=30)``."""

    def decorate(function: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return ensure_call(function, *args, deadline=deadline, idempotent=idempotent, **kwargs)

        return wrapper

    return decorate if fn is None else decorate(fn)


class Attempts:
    """When to try again after a failure, and when to stop: the retry decisions, without I/O.

    The sync retry loops (`retry_after`, `FailoverRetry`) and the async ones
    (`vedette.asyncio.retry`) ask it after each failure how long to pause; it raises when they
    must stop.

    Args:
        deadline: Seconds to keep trying, from now.
        backoff: Pauses between attempts.
        what: What is attempted, for log lines and the timeout's message.
        timeout_error: At the deadline, raise `FailoverTimeout` (chaining the last error);
            False re-raises the last error itself, as redis-py does when its retries run out.
        at_once: Make the first retry without a pause (the master already switched).
        idempotent: Retry an `OutcomeUnknownError` too (the attempt may run twice).
        service: The service a client's command is for: each retry is counted
            (``vedette.commands.retried``) and the wait timed (`vedette.metrics.pauses`).
    """

    def __init__(
        self,
        *,
        deadline: float,
        backoff: Backoff,
        what: str,
        timeout_error: bool = True,
        at_once: bool = False,
        idempotent: bool = False,
        service: str | None = None,
    ) -> None:
        self._deadline = deadline
        self._began = time.monotonic()
        self._end = self._began + deadline
        self._pauses = backoff.delays()
        self._what = what
        self._timeout_error = timeout_error
        self._at_once = at_once
        self._idempotent = idempotent
        self._service = service
        self._clock: PauseClock | None = None  # once this command waits, its service's clock
        self.made = 1
        """Attempts made so far."""

    def pause_after(self, error: Exception) -> float:
        """Seconds to pause before the next attempt, after ``error``; counts that attempt.

        Raises:
            Exception: ``error`` itself, when it is not worth retrying (or, without
                ``timeout_error``, at the deadline).
            FailoverTimeout: The deadline passed with only retryable errors.
        """
        retryable = is_retryable(error) or (
            self._idempotent and isinstance(error, OutcomeUnknownError)
        )
        if not retryable:
            # Raised to the caller: counted, unless an idempotent call around it runs it again.
            lost = isinstance(error, OutcomeUnknownError) and not _lost_replies_retried.get()
            if lost and self._service is not None:
                OUTCOME_UNKNOWN.add(service=self._service)
            self.ended(ran=False)
            raise error
        remaining = self._end - time.monotonic()
        if remaining <= 0:
            self._give_up(error)
        if self._service is not None:
            if self.made == 1:
                clock = pause_clock(self._service)
                self._clock = clock if clock.waiting(self._began) else None
            COMMANDS_RETRIED.add(service=self._service, reason=retry_reason(error))
        pause = 0.0 if self._at_once else min(next(self._pauses), remaining)
        self._at_once = False
        logger.debug(
            "%s failed (%s: %s); attempt %d in at most %.3f s",
            self._what,
            type(error).__name__,
            error,
            self.made + 1,
            pause,
        )
        self.made += 1
        return pause

    def ended(self, *, ran: bool) -> None:
        """The attempts are over: the last one ran (``ran``), or they stopped; once only."""
        clock, self._clock = self._clock, None
        if clock is not None:
            clock.ended(ran=ran)

    def _give_up(self, error: Exception) -> NoReturn:
        self.ended(ran=False)
        logger.warning(
            "%s: still failing after %g s and %d attempts: %s: %s",
            self._what,
            self._deadline,
            self.made,
            type(error).__name__,
            error,
        )
        if not self._timeout_error:
            raise error
        raise FailoverTimeout(
            f"{self._what}: still failing after {self._deadline:g} s and {self.made} attempts; "
            f"last error: {type(error).__name__}: {error}",
            deadline=self._deadline,
            attempts=self.made,
        ) from error


def retry_after(
    error: Exception,
    attempt: Callable[[], T],
    attempts: Attempts,
    screen: Callable[[Exception], None] | None = None,
) -> T:
    """The retry loop of `ensure_call` and of the connections' hook, after a first failure.

    Args:
        error: What the first attempt raised.
        attempt: One more attempt.
        attempts: When to try again, and when to stop.
        screen: Called with each failure first (a connection cleans up there); what it raises
            propagates.

    Raises:
        FailoverTimeout: The deadline passed with only retryable errors.
    """
    try:
        while True:
            if screen is not None:
                screen(error)
            switches = state.switch_signal.count
            pause = attempts.pause_after(error)
            if pause:
                state.switch_signal.wait(switches, pause)
            try:
                result = attempt()
            except Exception as failure:
                error = failure
            else:
                attempts.ended(ran=True)
                return result
    finally:
        attempts.ended(ran=False)  # raised: nothing more, if it ran
        del error  # frame -> error -> traceback -> frame: freed now, not by the collector


def deadline_for(config: SentinelConfig) -> float:
    """Seconds a client's call may wait for a failover: ``retry_deadline``, or less if called back.

    A finalizer (or ``__del__``) that uses a client holds up the thread it interrupted: it gets
    `CALLED_BACK_DEADLINE` at most (`vedette.process.reentry`).
    """
    if called_back():
        return min(config.retry_deadline, CALLED_BACK_DEADLINE)
    return config.retry_deadline


class FailoverRetry(redis.retry.Retry):
    """redis-py's retry hook, one per Vedette connection: retries under the deadline.

    redis-py calls it around each command (and each connect). When the command succeeds it adds
    nothing but a flag; after a failure it follows `Attempts` with the config's backoff and
    ``retry_deadline``. Inside that, redis-py's own nested calls (a reconnect wrapped in the same
    retry) make a single attempt each, so one deadline covers the whole command.

    Args:
        config: Gives the deadline and the backoff.
        retry_readonly: Whether ``READONLY`` is retried (a write reached a demoted master). Not
            for a replica client, where it means the caller wrote to a replica.
        replaced: Whether the connection's server was replaced since it connected: then the
            first retry is made at once.
    """

    def __init__(
        self,
        config: SentinelConfig,
        *,
        retry_readonly: bool = True,
        replaced: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(NoBackoff(), -1)
        self.rules = ConnectionRetryRules(config, retry_readonly=retry_readonly, replaced=replaced)
        self._active = False  # a call of this connection is running: nested calls try once

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Run ``do``, retrying through a failover; ``fail(error)`` cleans up after each error."""
        if self._active:
            return do()
        self._active = True
        try:
            try:
                return do()
            except Exception as error:
                return self._again(error, do, fail, is_retryable, with_failure_count)
        finally:
            self._active = False

    def _again(
        self,
        error: Exception,
        do: Callable[[], T],
        fail: Callable[..., Any],
        accept: Callable[[Exception], bool] | None,
        with_failure_count: bool,
    ) -> T:
        rules = self.rules
        failures = 0

        def screen(error: Exception) -> None:
            nonlocal failures
            failures += 1
            try:
                fail(error, failures) if with_failure_count else fail(error)
            except Exception as raised:
                rules.screen_cleanup(error, raised)
            rules.screen(error, accept)

        return retry_after(error, do, rules.attempts(), screen)


class ConnectionRetryRules:
    """What a Vedette connection's retry decides, for the sync and the async retry hooks alike.

    Args:
        config: Gives the deadline and the backoff.
        retry_readonly: Whether ``READONLY`` is retried.
        replaced: Whether the connection's server was replaced since it connected.
    """

    def __init__(
        self,
        config: SentinelConfig,
        *,
        retry_readonly: bool = True,
        replaced: Callable[[], bool] | None = None,
    ) -> None:
        self.config = config
        self._retry_readonly = retry_readonly
        # Weakly: the connection holds this retry, and a cycle would keep both alive until the
        # garbage collector runs (a pool-less connection's watcher stops when it is freed).
        self._replaced = None if replaced is None else weakref.WeakMethod(replaced)

    def attempts(self) -> Attempts:
        """The plan for one command's attempts after its first failure."""
        config = self.config
        return Attempts(
            deadline=deadline_for(config),
            backoff=Backoff.from_config(config),
            what=f"command on {config.service_name!r}",
            timeout_error=False,
            at_once=self._was_replaced(),
            service=config.service_name,
        )

    @staticmethod
    def screen_cleanup(error: Exception, raised: Exception) -> None:
        """redis-py's clean-up after ``error`` raised ``raised``: propagate it unless retryable.

        A `WatchError` (the transaction must not be retried) propagates; a failover error while
        reconnecting (redis-py's pub/sub reconnects there) is just the next failure.
        """
        if raised is not error and not is_retryable(raised):
            raise raised

    def screen(self, error: Exception, accept: Callable[[Exception], bool] | None) -> None:
        """Raise ``error`` if redis-py's own check, or the connection's kind, refuses a retry."""
        if accept is not None and not accept(error):
            raise error
        if isinstance(error, redis.ReadOnlyError) and not self._retry_readonly:
            raise error

    def _was_replaced(self) -> bool:
        replaced = self._replaced() if self._replaced is not None else None
        return replaced is not None and replaced()
