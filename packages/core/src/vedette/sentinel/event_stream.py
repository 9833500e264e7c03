"""`EventStream`: a blocking iterator over a watcher's events (`FailoverWatcher.events`).

The watcher's dispatcher thread puts each event in every open stream's inbox; a stream ends
when the watcher closes, when it is closed, or after a while without an event.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import TYPE_CHECKING

from vedette.sentinel.events import FailoverEvent

if TYPE_CHECKING:  # the watcher makes streams: it imports this module
    from vedette.sentinel.watcher import FailoverWatcher

__all__ = ["EventStream"]


class EventStream(Iterator[FailoverEvent]):
    """A blocking iterator over a watcher's events; see `FailoverWatcher.events`.

    It ends when the watcher closes, when `close` is called, or after ``timeout`` seconds
    without an event.
    """

    def __init__(self, watcher: FailoverWatcher, timeout: float | None) -> None:
        self._watcher = watcher
        self._timeout = timeout
        self._inbox: queue.Queue[FailoverEvent | None] = queue.Queue()

    def _put(self, event: FailoverEvent) -> None:
        self._inbox.put(event)

    def _finish(self) -> None:
        self._inbox.put(None)

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

    def close(self) -> None:
        """Stop receiving events."""
        self._watcher._forget(self)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
