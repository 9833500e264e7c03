"""Measuring a failover from the client's side: a write loop and a ``+switch-master`` clock.

`WriteLoop` writes 0, 1, 2 ... through any callable on its own thread and records which writes
were acknowledged, and when. `WriteReport` compares them with what the final master holds: lost,
duplicated, and the longest pause. `SwitchClock` notes when the Sentinels published
``+switch-master``, on its own plain subscriptions, independent of the client under test.

Examples:
    >>> with SentinelCluster() as cluster, SwitchClock(cluster) as clock:  # doctest: +SKIP
    ...     client = vedette.connect(cluster.url)
    ...     with WriteLoop(lambda n: client.rpush("log", n)) as loop:
    ...         cluster.kill_master()
    ...         cluster.wait_for_switch()
    ...         loop.wait_for_acks(10, after=clock.wait(10))
    ...     report = loop.report(map(int, cluster.client().lrange("log", 0, -1)))
    ...     assert report.lost == ()
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

import redis

from vedette.testing._waiting import wait_until
from vedette.testing.cluster import SentinelCluster

__all__ = ["SwitchClock", "WriteLoop", "WriteRecord", "WriteReport"]


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What a `WriteLoop` saw, against what the master finally holds."""

    attempted: int
    """Writes attempted."""
    acknowledged: int
    """Writes that returned without an error."""
    lost: tuple[int, ...]
    """Acknowledged writes the master does not hold."""
    duplicated: tuple[int, ...]
    """Writes the master holds more than once (a retry of a write that had succeeded)."""
    errors: tuple[str, ...]
    """Errors the write callable raised, as ``Type: message``."""
    longest_pause: float
    """Longest time between two consecutive acknowledgements, in seconds."""


class WriteRecord:
    """What writes were acknowledged, and when, and which failed: what a write loop records."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempted = 0
        self.acked: list[tuple[int, float]] = []
        """(n, monotonic time) of each acknowledged write."""
        self.errors: list[tuple[float, BaseException]] = []
        """(monotonic time, error) of each failed write."""
        self._times: list[float] = []  # of the acknowledgements, in order: searched by bisection

    def _acked(self, n: int) -> None:
        with self._lock:
            now = time.monotonic()
            self.acked.append((n, now))
            self._times.append(now)

    def _failed(self, error: BaseException) -> None:
        with self._lock:
            self.errors.append((time.monotonic(), error))

    def first_ack_after(self, moment: float) -> float | None:
        """Monotonic time of the first acknowledgement after ``moment``, if any."""
        with self._lock:
            index = bisect.bisect_right(self._times, moment)
            return self._times[index] if index < len(self._times) else None

    def wait_for_acks(self, count: int, *, after: float, timeout: float = 30.0) -> None:
        """Wait until ``count`` writes were acknowledged after the monotonic time ``after``."""

        def enough() -> bool:  # a bisection: the writers wait for this lock meanwhile
            with self._lock:
                return len(self._times) - bisect.bisect_right(self._times, after) >= count

        wait_until(enough, timeout, f"{count} acknowledged writes")

    def report(self, stored: Iterable[int]) -> WriteReport:
        """Compare the acknowledged writes with ``stored``, what the master holds."""
        held = Counter(stored)
        with self._lock:
            acked, errors = list(self.acked), list(self.errors)
        times = sorted(at for _, at in acked)
        return WriteReport(
            attempted=self.attempted,
            acknowledged=len(acked),
            lost=tuple(sorted(n for n, _ in acked if n not in held)),
            duplicated=tuple(sorted(n for n, count in held.items() if count > 1)),
            errors=tuple(f"{type(error).__name__}: {error}" for _, error in errors),
            longest_pause=max((b - a for a, b in itertools.pairwise(times)), default=0.0),
        )


class WriteLoop(WriteRecord):
    """Calls ``write(n)`` for n = 0, 1, 2 ... on a thread until stopped; records the outcome.

    Args:
        write: One write; returning means acknowledged, raising means not.
        pace: Seconds to wait between writes (0: as fast as possible).
    """

    def __init__(self, write: Callable[[int], object], *, pace: float = 0.0) -> None:
        super().__init__()
        self._write = write
        self._pace = pace
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vedette-write-loop", daemon=True)

    def __enter__(self) -> WriteLoop:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start writing."""
        self._thread.start()

    def stop(self, timeout: float = 120.0) -> None:
        """Stop after the write in flight, waiting for it at most ``timeout`` seconds."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                self._write(n)
            except Exception as error:
                self._failed(error)
            else:
                self._acked(n)
            n += 1
            self.attempted = n
            if self._pace:
                self._stop.wait(self._pace)


class SwitchClock:
    """Records when the Sentinels of a cluster publish ``+switch-master``.

    It subscribes to every Sentinel on plain redis-py connections, a thread each; `switched_at`
    holds the monotonic time each new master was first announced.
    """

    def __init__(self, cluster: SentinelCluster) -> None:
        self._cluster = cluster
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.switched_at: dict[str, float] = {}
        """Monotonic time of the first ``+switch-master`` naming each new master (``host:port``)."""
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> SwitchClock:
        for index in range(len(self._cluster.sentinel_addresses)):
            pubsub = self._cluster.sentinel(index).pubsub()  # type: ignore[no-untyped-call, unused-ignore]
            pubsub.subscribe("+switch-master")
            thread = threading.Thread(
                target=self._run, args=(pubsub,), name="vedette-switch-clock", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    def _run(self, pubsub: redis.client.PubSub) -> None:
        try:
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.1)
                if message and message["type"] == "message":
                    _, _, _, host, port = str(message["data"]).split()
                    with self._lock:
                        self.switched_at.setdefault(f"{host}:{port}", time.monotonic())
        except redis.RedisError:
            pass  # that Sentinel died; the others still speak
        finally:
            pubsub.close()

    def wait(self, timeout: float = 30.0) -> float:
        """Wait for the first switch; its monotonic time."""
        wait_until(lambda: self.switched_at, timeout, "a +switch-master announcement")
        with self._lock:
            return min(self.switched_at.values())
