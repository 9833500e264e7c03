"""`AsyncWriteLoop`: many coroutines writing through async clients, and the event loop's stalls.

The async twin of `WriteLoop`: an event loop on a thread of its own runs ``coroutines``
coroutines, spread over ``clients`` clients, that write 0, 1, 2 ... (each takes the next number),
and a ticker that measures how late the loop runs it: the longest time the loop was blocked.
The test's own thread drives the faults meanwhile, as with `WriteLoop`.

Garbage collections stop every thread of the process, the loop's included, whatever it runs:
the time each tick's lateness spent in one is recorded with it, so that a stall can be told from
a collection (`longest_stall` leaves them out; `longest_collection` reports them). What the
process held before the loop started is frozen out of the collector while it runs (`gc.freeze`),
as services that care about pauses do after start-up: a full collection then costs what the run
allocates, not a test runner's whole heap.

Examples:
    >>> with AsyncWriteLoop(
    ...     lambda: vedette.asyncio.connect(cluster.url),
    ...     lambda client, n: client.rpush("log", n),
    ...     coroutines=200,
    ... ) as loop:  # doctest: +SKIP
    ...     cluster.kill_master()
    ...     loop.wait_for_acks(100, after=clock.wait())
    >>> loop.longest_stall(after=switched)  # doctest: +SKIP
    0.004
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from vedette.testing._waiting import wait_until
from vedette.testing.writes import WriteRecord

__all__ = ["AsyncWriteLoop"]

# The ticker's period: a stall is how much later than this a tick comes.
_TICK = 0.002


class AsyncWriteLoop(WriteRecord):
    """Writes from many coroutines on an event loop of its own thread; records acks and stalls.

    Args:
        connect: Makes one client (called on the loop's thread, inside the loop).
        write: One write of ``n`` through a client; returning means acknowledged.
        coroutines: How many coroutines write at once.
        clients: How many clients they share (coroutine i uses client i % clients).
        pace: Seconds each coroutine waits between its writes.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        write: Callable[[Any, int], Awaitable[object]],
        *,
        coroutines: int = 200,
        clients: int = 1,
        pace: float = 0.0,
    ) -> None:
        super().__init__()
        self._connect = connect
        self._write = write
        self._coroutines = coroutines
        self._clients = clients
        self._pace = pace
        self._numbers = itertools.count()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vedette-async-writes", daemon=True)
        self.stalls: list[tuple[float, float, float]] = []
        """(monotonic time, seconds late, seconds of them in garbage collection) of each tick
        that came more than 1 ms late."""
        self._collections: list[tuple[float, float]] = []  # (start, end), any thread
        self._collecting: dict[int, float] = {}
        self.failure: BaseException | None = None
        """What ended the loop's thread, if it did not end cleanly."""

    def __enter__(self) -> AsyncWriteLoop:
        gc.collect()
        gc.freeze()
        gc.callbacks.append(self._on_collection)
        self._thread.start()
        wait_until(self._started.is_set, 30, "the event loop to start writing")
        if self.failure is not None:
            raise self.failure
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, timeout: float = 120.0) -> None:
        """Stop every coroutine after its write in flight; close the clients."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # already closed
                loop.call_soon_threadsafe(event.set)
        self._thread.join(timeout)
        with contextlib.suppress(ValueError):  # stopped twice
            gc.callbacks.remove(self._on_collection)
        gc.unfreeze()
        if self.failure is not None:
            raise self.failure

    def longest_stall(self, *, after: float = 0.0, before: float = float("inf")) -> float:
        """The longest the loop was blocked between two monotonic times, in seconds.

        Garbage collections are left out (`longest_collection`): they stop every thread.
        """
        with self._lock:
            return max(
                (late - collected for at, late, collected in self.stalls if after <= at <= before),
                default=0.0,
            )

    def longest_collection(self, *, after: float = 0.0, before: float = float("inf")) -> float:
        """The longest garbage collection in a tick between two monotonic times, in seconds."""
        with self._lock:
            return max(
                (collected for at, _, collected in self.stalls if after <= at <= before),
                default=0.0,
            )

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        """A `gc.callbacks` hook: note when each collection ran (on whichever thread)."""
        thread, now = threading.get_ident(), time.monotonic()
        if phase == "start":
            self._collecting[thread] = now
        elif (started := self._collecting.pop(thread, None)) is not None:
            self._collections.append((started, now))  # list.append: atomic under the GIL

    def _collected(self, start: float, end: float) -> float:
        """Seconds between ``start`` and ``end`` spent in garbage collections."""
        return sum(
            max(0.0, min(end, stop) - max(start, begin))
            for begin, stop in self._collections[-20:]
            if stop > start
        )

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:
            self.failure = error
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        clients = [self._connect() for _ in range(self._clients)]
        ticker = asyncio.create_task(self._tick())
        writers = [
            asyncio.create_task(self._writes(clients[i % len(clients)]))
            for i in range(self._coroutines)
        ]
        self._started.set()
        try:
            await self._stop_event.wait()
        finally:
            self._stopping = True
            await asyncio.gather(*writers)
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            for client in clients:
                await client.aclose()

    async def _writes(self, client: Any) -> None:
        while not self._stopping:
            n = next(self._numbers)
            try:
                await self._write(client, n)
            except Exception as error:
                self._failed(error)
            else:
                self._acked(n)
            self.attempted += 1
            if self._pace:
                await asyncio.sleep(self._pace)

    async def _tick(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(_TICK)
            now = time.monotonic()
            late = now - before - _TICK
            if late > 0.001:
                collected = min(late, self._collected(before, now))
                with self._lock:
                    self.stalls.append((now, late, collected))
