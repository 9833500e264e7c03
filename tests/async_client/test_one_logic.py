"""The async side decides nothing of its own, and its waiting never blocks the event loop.

No cluster here: the waits are rung by threads (as the watcher's are), the retries are fed errors,
and the events come from a `ScriptedWatcher`. The layer rule (tests/contract/test_architecture.py)
puts ``vedette.asyncio`` above ``vedette.client``; the test at the end checks that it makes no
error and no decision itself: every error it raises is made by the shared code.
"""

from __future__ import annotations

import ast
import asyncio
import threading
import time
from pathlib import Path

import pytest
import redis

import vedette
import vedette.asyncio
from vedette import FailoverTimeout, MasterSwitched, OutcomeUnknownError, SentinelConfig
from vedette.asyncio.master import AsyncConfirmsWrites
from vedette.process.state import state
from vedette.process.switch_signal import MasterSwitchSignal
from vedette.process.wakers import Wakers
from vedette.testing import ScriptedWatcher

ASYNC_PACKAGE = Path(vedette.asyncio.__file__).parent


def test_a_ring_from_another_thread_wakes_the_loop_at_once() -> None:
    wakers = Wakers()
    flag = threading.Event()

    def change() -> None:
        flag.set()
        wakers.ring()

    async def scenario() -> tuple[bool, float, float]:
        threading.Timer(0.2, change).start()
        started = time.monotonic()
        woken = await wakers.until(flag.is_set, 5)
        waited = time.monotonic() - started
        started = time.monotonic()
        timed_out = await wakers.until(lambda: False, 0.1)  # nothing rings: the timeout ends it
        return woken and not timed_out, waited, time.monotonic() - started

    ok, waited, timeout = asyncio.run(scenario())
    assert ok
    assert 0.2 <= waited < 2  # woken by the ring, long before the 5 s timeout
    assert 0.1 <= timeout < 2
    wakers.ring()  # nobody waits any more: a ring is harmless


def test_polling_sees_a_change_that_rings_nothing() -> None:
    # A forked child reads its parent's watcher from shared memory: nothing rings there.
    flag = threading.Event()
    threading.Timer(0.1, flag.set).start()
    assert asyncio.run(Wakers().until(flag.is_set, 5, poll=0.01))


def test_a_master_switch_ends_an_async_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    # A signal of its own: a watcher left running by another test must not ring this one.
    signal = MasterSwitchSignal()
    monkeypatch.setattr(state, "switch_signal", signal)

    async def scenario() -> float:
        started = time.monotonic()
        threading.Timer(0.3, signal.notify).start()  # rung from another thread, as a watcher
        await vedette.asyncio.retry.pause(30, signal.count)  # the backoff: 30 s
        return time.monotonic() - started

    assert 0.3 <= asyncio.run(scenario()) < 5  # the switch ended it, not the 30 s


def test_ensure_call_follows_the_sync_rules() -> None:
    lost = OutcomeUnknownError("reply lost", command="EVALSHA")
    attempts: list[int] = []

    async def failing(times: int, error: Exception, value: int) -> int:
        attempts.append(value)
        if len(attempts) <= times:
            raise error
        return value

    async def scenario() -> None:
        with pytest.raises(OutcomeUnknownError):  # a lost reply: not retried
            await vedette.asyncio.ensure_call(failing, 1, lost, 1)
        attempts.clear()
        assert await vedette.asyncio.ensure_call(failing, 2, lost, 7, idempotent=True) == 7
        assert len(attempts) == 3
        attempts.clear()
        with pytest.raises(redis.ResponseError):  # not a failover: raised at once
            await vedette.asyncio.ensure_call(failing, 5, redis.ResponseError("WRONGTYPE"), 1)
        assert len(attempts) == 1
        attempts.clear()
        with pytest.raises(FailoverTimeout, match=r"still failing after 0\.3 s") as caught:
            await vedette.asyncio.ensure_call(
                failing, 1000, redis.ConnectionError("down"), 1, deadline=0.3
            )
        assert caught.value.attempts == len(attempts) > 1

    asyncio.run(scenario())


def test_ensured_decorates_coroutine_functions_only() -> None:
    @vedette.asyncio.ensured
    async def answer(value: int) -> int:
        return value

    assert asyncio.run(answer(42)) == 42
    assert answer.__name__ == "answer"

    def plain() -> None: ...

    with pytest.raises(TypeError, match=r"use vedette\.ensured"):
        vedette.asyncio.ensured(plain)  # type: ignore[arg-type]


def test_events_in_an_async_for_with_no_blocked_loop() -> None:
    config = SentinelConfig(sentinels=["127.0.0.1:1"], service_name="mymaster")

    async def scenario(watcher: ScriptedWatcher) -> tuple[MasterSwitched, int]:
        ticks: list[float] = []

        async def tick() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.005)

        ticker = asyncio.ensure_future(tick())
        line = "+switch-master mymaster 10.0.0.5 6379 10.0.0.6 6379"
        threading.Timer(0.2, watcher.play, args=(line,)).start()
        with watcher.events(timeout=5) as events:
            async for event in events:
                assert isinstance(event, MasterSwitched)
                switched = event
                break
        ticker.cancel()
        return switched, len(ticks)

    with ScriptedWatcher(config, master="10.0.0.5:6379") as watcher:
        switched, ticks = asyncio.run(scenario(watcher))
    assert switched.new == ("10.0.0.6", 6379)
    assert ticks >= 10  # the loop ran on while the stream waited (0.2 s, a tick each 5 ms)


def test_an_async_stream_ends_after_its_timeout() -> None:
    config = SentinelConfig(sentinels=["127.0.0.1:1"], service_name="mymaster")

    async def drain(watcher: ScriptedWatcher) -> list[object]:
        return [event async for event in watcher.events(timeout=0.2)]

    with ScriptedWatcher(config, master="10.0.0.5:6379") as watcher:
        started = time.monotonic()
        assert asyncio.run(drain(watcher)) == []
    assert time.monotonic() - started < 1


# Errors the async package may raise itself: redis-py's, for its I/O. Vedette's own errors and
# every message a failover produces come from the shared code (vedette.client.flight, retry...).
VEDETTE_ERRORS = {name for name in vedette.__all__ if name.endswith(("Error", "Timeout"))}


def test_the_async_package_makes_no_vedette_error_itself() -> None:
    made = [
        f"{path.name}:{node.lineno} {node.func.id}"
        for path in sorted(ASYNC_PACKAGE.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in VEDETTE_ERRORS - {"ConfigurationError"}
    ]
    assert made == []


def test_the_async_package_uses_the_shared_decisions() -> None:
    imported = {
        f"{node.module}.{alias.name}"
        for path in ASYNC_PACKAGE.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert {
        "vedette.client.flight.Flight",  # late and lost replies, WATCH, subscriptions
        "vedette.client.flight.on_switch",  # stay, move or restart after a switch
        "vedette.client.hub.Hub",  # the master, the watcher, the switch that cuts
        "vedette.client.durability.WaitLedger",  # wait_replicas
        "vedette.failures.translate",  # error translation
        "vedette.retry.Attempts",  # what is retried, backoff, deadline
        "vedette.retry.ConnectionRetryRules",
        "vedette.servers.role.role_dialogue",  # the role check
    } <= imported


def test_closing_a_stream_ends_an_async_iteration() -> None:
    config = SentinelConfig(sentinels=["127.0.0.1:1"], service_name="mymaster")

    async def scenario(watcher: ScriptedWatcher) -> list[object]:
        stream = watcher.events()  # no timeout: only close() ends it
        asyncio.get_running_loop().call_later(0.1, stream.close)
        return [event async for event in stream]

    with ScriptedWatcher(config, master="10.0.0.5:6379") as watcher:
        assert asyncio.run(asyncio.wait_for(scenario(watcher), 5)) == []


def test_a_pipeline_packed_for_a_cancelled_execute_leaves_the_connection_as_it_was() -> None:
    # redis-py 8.2 packs a large pipeline in a worker thread; if its execute() is cancelled
    # meanwhile, the connection goes back to the pool and the next command packs on the loop.
    config = SentinelConfig(sentinels=["127.0.0.1:1"], service_name="mymaster", wait_replicas=1)
    pool = vedette.asyncio.AsyncMasterPool(config)
    connection = pool.make_connection()
    assert isinstance(connection, AsyncConfirmsWrites)
    pool.hub.writes = frozenset({"lpush"})
    pipeline = [("LPUSH", "q", str(n)) for n in range(3)]
    stale = threading.Thread(target=connection.pack_commands, args=(pipeline,))
    stale.start()
    stale.join()
    connection.pack_command("GET", "k")  # the next borrower's command
    assert connection.flight.pending == ("GET", "k")
    assert connection._batch is not None  # the stale batch: only its own send would apply it
    assert not connection._ledger.owed
    pool.hub.writes = None
    asyncio.run(pool.disconnect())  # lets go of the watcher the connection started
