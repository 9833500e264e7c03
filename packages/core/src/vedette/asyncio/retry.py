"""Retrying coroutines through a failover: `ensure_call`, `ensured`, and the connections' hook.

The same decisions as the sync side (`vedette.retry.Attempts`: what is retried, the backoff,
the deadline, the messages), awaited instead of slept: a pause never blocks the event loop, and
it ends as soon as any watcher of the process sees the master switch (its thread rings the
process's switch signal, which wakes the loop).

Examples:
    >>> import vedette.asyncio
    >>> await vedette.asyncio.ensure_call(client.lpush, "jobs", "payload")  # doctest: +SKIP
    >>> @vedette.asyncio.ensured(deadline=30)
    ... async def enqueue(payload: str) -> None:
    ...     await client.lpush("jobs", payload)
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from vedette.process.state import state
from vedette.retry import Attempts, ConnectionRetryRules, call_attempts, lost_replies_retried

if TYPE_CHECKING:
    from vedette.config.sentinel_config import SentinelConfig

__all__ = ["AsyncFailoverRetry", "ensure_call", "ensured", "pause", "retry_after"]

P = ParamSpec("P")
T = TypeVar("T")

# How often a pause reads switch counts a parent's watcher writes (in a forked child).
_FOLLOW_POLL = 0.01
# The connections' retries running in this task (their ids): a nested call tries once.
_RUNNING: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "vedette_retries_running", default=frozenset()
)


async def pause(seconds: float, switches: int) -> None:
    """Sleep ``seconds``, or less if the master switches (after ``switches`` were counted)."""
    signal = state.switch_signal
    poll = _FOLLOW_POLL if signal.follows_parent else None
    await signal.wakers.until(lambda: signal.count != switches, seconds, poll=poll)


async def retry_after(
    error: Exception,
    attempt: Callable[[], Awaitable[T]],
    attempts: Attempts,
    screen: Callable[[Exception], Awaitable[None]] | None = None,
) -> T:
    """`vedette.retry.retry_after` for coroutines: the pauses are awaited."""
    try:
        while True:
            if screen is not None:
                await screen(error)
            switches = state.switch_signal.count
            seconds = attempts.pause_after(error)
            if seconds:
                await pause(seconds, switches)
            try:
                result = await attempt()
            except Exception as failure:
                error = failure
            else:
                attempts.ended(ran=True)
                return result
    finally:
        attempts.ended(ran=False)  # cancelled, or raised: nothing more, if it ran
        del error  # frame -> error -> traceback -> frame: freed now, not by the collector


async def ensure_call(
    fn: Callable[..., Awaitable[T]],
    /,
    *args: Any,
    deadline: float | None = None,
    idempotent: bool = False,
    **kwargs: Any,
) -> T:
    """Await ``fn(*args, **kwargs)``, retrying it through a failover.

    `vedette.ensure_call`'s rules, for coroutines; a pause between attempts never blocks the loop.

    Args:
        fn: A coroutine function (or anything returning an awaitable).
        *args: Its positional arguments.
        deadline: Seconds to keep trying; default `vedette.DEFAULT_DEADLINE`.
        idempotent: ``fn`` may run twice without harm: an `OutcomeUnknownError` is retried too.
        **kwargs: Its keyword arguments.

    Raises:
        FailoverTimeout: Still failing with retryable errors when the deadline passed.
    """
    attempt = functools.partial(fn, *args, **kwargs)
    with lost_replies_retried(idempotent):
        try:
            return await attempt()
        except Exception as error:
            attempts = call_attempts(fn, deadline, idempotent=idempotent)
            return await retry_after(error, attempt, attempts)


Coro = Callable[P, Coroutine[Any, Any, T]]


@overload
def ensured(fn: Coro[P, T], /) -> Coro[P, T]: ...
@overload
def ensured(
    *, deadline: float | None = None, idempotent: bool = False
) -> Callable[[Coro[P, T]], Coro[P, T]]: ...
def ensured(
    fn: Coro[P, T] | None = None,
    /,
    *,
    deadline: float | None = None,
    idempotent: bool = False,
) -> Coro[P, T] | Callable[[Coro[P, T]], Coro[P, T]]:
    """`ensure_call` as a decorator of ``async def``: ``@ensured`` or ``@ensured(deadline=30)``."""

    def decorate(function: Coro[P, T]) -> Coro[P, T]:
        if not inspect.iscoroutinefunction(function):
            raise TypeError(
                f"vedette.asyncio.ensured decorates coroutine functions; {function!r} is not one "
                "(use vedette.ensured)"
            )

        @functools.wraps(function)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return await ensure_call(
                function, *args, deadline=deadline, idempotent=idempotent, **kwargs
            )

        return wrapper

    return decorate if fn is None else decorate(fn)


class AsyncFailoverRetry(Retry):
    """redis-py's async retry hook, one per connection: `vedette.retry.FailoverRetry`'s rules.

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
        super().__init__(NoBackoff(), -1)
        self.rules = ConnectionRetryRules(config, retry_readonly=retry_readonly, replaced=replaced)

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Await ``do()``, retrying through a failover; ``fail(error)`` cleans up after each.

        redis-py's own nested calls (a reconnect in the same retry) make one attempt each, so
        one deadline covers the command. Nested in the same task, that is: a subscriber's
        reader blocked in ``listen()`` does not take retries away from a ``subscribe()`` sent
        by another task on the same connection.
        """
        running = _RUNNING.get()
        if id(self) in running:
            return await do()
        token = _RUNNING.set(running | {id(self)})
        try:
            try:
                return await do()
            except Exception as error:
                return await self._again(error, do, fail, is_retryable, with_failure_count)
        finally:
            _RUNNING.reset(token)

    async def _again(
        self,
        error: Exception,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        accept: Callable[[Exception], bool] | None,
        with_failure_count: bool,
    ) -> T:
        rules = self.rules
        failures = 0

        async def screen(error: Exception) -> None:
            nonlocal failures
            failures += 1
            try:
                cleaned = fail(error, failures) if with_failure_count else fail(error)
                if inspect.isawaitable(cleaned):
                    await cleaned
            except Exception as raised:
                rules.screen_cleanup(error, raised)
            rules.screen(error, accept)

        return await retry_after(error, do, rules.attempts(), screen)
