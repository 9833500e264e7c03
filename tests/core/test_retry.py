"""ensure_call and the retry policy: which errors are retried, deadlines, waking on a switch."""

import threading
import time
from collections.abc import Callable

import pytest
import redis

import vedette
from vedette import Backoff, FailoverTimeout, ensure_call, ensured
from vedette.process.state import state
from vedette.process.switch_signal import MasterSwitchSignal
from vedette.testing._process import free_ports


def failing(times: int, error: Exception, calls: list[float]) -> Callable[[int], int]:
    def call(value: int) -> int:
        calls.append(time.monotonic())
        if len(calls) <= times:
            raise error
        return value

    return call


def test_retries_until_success() -> None:
    calls: list[float] = []
    assert ensure_call(failing(3, redis.ConnectionError("down"), calls), 7) == 7
    assert len(calls) == 4


def test_non_retryable_propagates_at_once() -> None:
    calls: list[float] = []
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        ensure_call(failing(5, redis.ResponseError("WRONGTYPE wrong"), calls), 1)
    assert len(calls) == 1


def test_deadline_raises_failover_timeout_with_the_last_error() -> None:
    calls: list[float] = []
    error = redis.ConnectionError("down")
    started = time.monotonic()
    with pytest.raises(FailoverTimeout) as caught:
        ensure_call(failing(1000, error, calls), 1, deadline=0.5)
    assert 0.5 <= time.monotonic() - started < 1.0
    assert caught.value.__cause__ is error
    assert caught.value.attempts == len(calls) > 2
    assert isinstance(caught.value, redis.TimeoutError)  # not an OSError: a redis error


def test_a_master_switch_ends_the_pause_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A signal of its own: a watcher left running by another test must not ring this one.
    signal = MasterSwitchSignal()
    monkeypatch.setattr(state, "switch_signal", signal)
    calls: list[float] = []
    # A long backoff: only the switch signal can make the second attempt come quickly.
    started = time.monotonic()  # before the timer starts: it rings 0.3 s after this at least
    threading.Timer(0.3, signal.notify).start()
    with pytest.raises(FailoverTimeout):
        vedette.retry.retry_after(
            redis.ConnectionError("down"),
            lambda: failing(1000, redis.ConnectionError("down"), calls)(1),
            vedette.retry.Attempts(
                deadline=1.5, backoff=Backoff(minimum=10, maximum=10), what="test"
            ),
        )
    assert calls
    assert 0.3 <= calls[0] - started < 0.8  # without the signal: not before 10 s


def test_a_lost_reply_is_retried_only_for_an_idempotent_call() -> None:
    lost = vedette.OutcomeUnknownError("reply lost", command="EVALSHA")
    calls: list[float] = []
    with pytest.raises(vedette.OutcomeUnknownError):
        ensure_call(failing(1, lost, calls), 1)
    assert len(calls) == 1
    calls.clear()
    assert ensure_call(failing(2, lost, calls), 7, idempotent=True) == 7
    assert len(calls) == 3

    once = failing(1, lost, [])

    @ensured(idempotent=True)
    def script(value: int) -> int:
        return once(value)

    assert script(3) == 3


def test_an_endless_deadline_keeps_trying() -> None:
    calls: list[float] = []
    assert ensure_call(failing(3, redis.ConnectionError("down"), calls), 5, deadline=float("inf"))
    assert len(calls) == 4


def test_decorator_forms() -> None:
    calls: list[float] = []
    flaky = failing(1, redis.TimeoutError("slow"), calls)

    @ensured
    def bare(value: int) -> int:
        return flaky(value)

    @ensured(deadline=5)
    def configured(value: int) -> int:
        return flaky(value)

    assert bare(1) == 1
    assert configured(2) == 2
    assert bare.__name__ == "bare"


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    pauses = Backoff(minimum=0.1, maximum=0.4, factor=2).delays()
    first, second, third, fourth = (next(pauses) for _ in range(4))
    assert 0.05 <= first <= 0.1
    assert 0.1 <= second <= 0.2
    assert 0.2 <= third <= 0.4
    assert 0.2 <= fourth <= 0.4


def test_a_timed_out_script_is_named_by_its_command() -> None:
    # Dramatiq's enqueue is a registered script: the timeout once named the Script object.
    closed = redis.Redis(port=free_ports(1)[0], socket_connect_timeout=0.1)
    script = closed.register_script("return 1")
    with pytest.raises(FailoverTimeout) as raised:
        ensure_call(script, deadline=0.2)
    assert str(raised.value).startswith(f"EVALSHA {script.sha[:12]}: still failing after 0.2 s")
    assert "object at 0x" not in str(raised.value)
