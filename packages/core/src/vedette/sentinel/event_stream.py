"""`EventStream`: an iterator over a watcher's events (`FailoverWatcher.events`).

The watcher's dispatcher thread puts each event in every open stream's inbox; a stream ends
when the watcher closes, when it is closed, or after a while without an event. A thread iterates
it (``for``, blocking); a coroutine iterates it asynchronously (``async for``), woken by the
dispatcher thread without blocking its event loop.
"""

from __future__ import annotations

import queue
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from vedette.process.wakers import Wakers
from vedette.sentinel.events import FailoverEvent

if TYPE_CHECKING:  # the watcher makes streams: it imports this module
    from vedette.sentinel.watcher import FailoverWatcher

__all__ = ["EventStream"]


class EventStream(Iterator[FailoverEvent], AsyncIterator[FailoverEvent]):
    """An iterator over a watcher's events, blocking or async; see `FailoverWatcher.events`.

    It ends when the watcher closes, when `close` is called, or after ``timeout`` seconds
    without an event.

    Examples:
        >>> async for event in watcher.events():  # doctest: +SKIP
        ...     print(event.describe())
    """

    def __init__(self, watcher: FailoverWatcher, timeout: float | None) -> None:
        self._watcher = watcher
        self._timeout = timeout
        self._inbox: queue.Queue[FailoverEvent | None] = queue.Queue()
        self._arrived = Wakers()  # wakes an async iteration

    def _put(self, event: FailoverEvent) -> None:
        self._inbox.put(event)
        self._arrived.ring()

    def _finish(self) -> None:
        self._inbox.put(None)
        self._arrived.ring()

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> FailoverEvent:
        try:
            event = self._inbox.get(timeout=self._timeout)
        except queue.Empty:
            event = None
        if event is None:
            self.close()
            raise StopIteration
        return event

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> FailoverEvent:
        inbox = self._inbox
        while True:
            if not await self._arrived.until(lambda: not inbox.empty(), self._timeout):
                self.close()
                raise StopAsyncIteration
            try:
                event = inbox.get_nowait()
            except queue.Empty:  # another consumer of the stream took it: wait on
                continue
            if event is None:
                self.close()
                raise StopAsyncIteration
            return event

    def close(self) -> None:
        """Stop receiving events; an iteration waiting for one ends."""
        self._watcher._forget(self)
        self._finish()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
