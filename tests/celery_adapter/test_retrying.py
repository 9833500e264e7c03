"""`ensure_redis_call`: celery-redis-sentinel's helper, deciding by the Redis error kombu wraps."""

from __future__ import annotations

import pytest
import redis
from kombu.exceptions import OperationalError

import vedette
from vedette_celery import ensure_redis_call


def wrapped(error: redis.RedisError) -> OperationalError:
    try:
        raise OperationalError(str(error)) from error
    except OperationalError as raised:
        return raised


def test_a_wrapped_connection_error_is_retried() -> None:
    failures = [wrapped(redis.ConnectionError("master went away"))]

    def publish(value: int, *, twice: bool) -> int:
        if failures:
            raise failures.pop()
        return value * 2 if twice else value

    assert ensure_redis_call(publish, 21, twice=True, deadline=5) == 42


def test_an_error_that_never_heals_is_raised_at_once() -> None:
    calls = []

    def publish() -> None:
        calls.append(1)
        refused = vedette.ServiceNotFoundError(
            "no Sentinel monitors 'mymaster'", service_name="mymaster", answers={}, monitored=()
        )
        raise wrapped(refused)

    with pytest.raises(vedette.ServiceNotFoundError):
        ensure_redis_call(publish, deadline=5)
    assert calls == [1]


def test_other_errors_pass_unchanged() -> None:
    def publish() -> None:
        raise OperationalError("not a Redis problem")

    with pytest.raises(OperationalError, match="not a Redis problem"):
        ensure_redis_call(publish, deadline=5)
