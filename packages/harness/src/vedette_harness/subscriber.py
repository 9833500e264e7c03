"""Helpers several test files share."""

from __future__ import annotations

import threading
import time

import redis


class Subscriber:
    """A pub/sub subscriber polling with ``get_message(timeout=0.1)`` on its own thread.

    What a framework's listener does; it records every message (with the monotonic time it came)
    and every error ``get_message`` raised.
    """

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.received: list[tuple[bytes, float]] = []
        self.errors: list[Exception] = []
        self._pubsub = client.pubsub()
        self._pubsub.subscribe(channel)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-subscriber", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._pubsub.get_message(timeout=0.1)
            except Exception as error:
                self.errors.append(error)
                continue
            if message and message["type"] == "message":
                self.received.append((message["data"], time.monotonic()))

    @property
    def messages(self) -> list[bytes]:
        """What was received, in order."""
        return [data for data, _ in self.received]

    def stop(self) -> None:
        """Stop polling and unsubscribe."""
        self._stop.set()
        self._thread.join(30)
        self._pubsub.close()
