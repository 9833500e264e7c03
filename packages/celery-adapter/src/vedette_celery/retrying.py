"""`ensure_redis_call`: celery-redis-sentinel's retry helper, on Vedette's `ensure_call`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import redis
from kombu.exceptions import OperationalError

import vedette

__all__ = ["ensure_redis_call"]

T = TypeVar("T")


def ensure_redis_call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)``, retrying it through a failover (`vedette.ensure_call`).

    Kept under celery-redis-sentinel's name. kombu wraps Redis errors in its
    ``OperationalError``: the Redis error it wraps decides whether to retry, and is what is
    raised when retrying ends. Vedette's clients already retry each command; this is for code
    that sends several, or needs a longer deadline (``deadline=`` seconds, keyword-only).
    """
    deadline = kwargs.pop("deadline", None)

    def attempt() -> T:
        try:
            return fn(*args, **kwargs)
        except OperationalError as error:
            cause = error.__cause__ or error.__context__
            if isinstance(cause, redis.RedisError):
                raise cause from error
            raise

    return vedette.ensure_call(attempt, deadline=deadline)
