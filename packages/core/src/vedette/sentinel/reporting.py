"""What a watcher tells operators of each event: one log line, with fields, and its metrics.

Each event is logged once, on the logger ``vedette.watcher``, with ``extra=`` fields a
structured log handler can use: ``event`` (the event's type, in snake case), ``service``, the
event's addresses (after NAT, as ``host:port``) and, for a switch, how long the failover took.
The switch is logged at WARNING, as are a master down, a failover aborted and a Sentinel lost;
the rest at INFO. docs/operations.md has the table.

Once per process: a process with two watchers of one service (two configurations that differ in
how they reach the Sentinels) hears each event twice, often at the same instant on two threads;
what another watcher of the process told in the last few seconds is neither logged nor counted
again.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import fields
from datetime import datetime
from typing import Any

from vedette.metrics.instruments import (
    FAILOVERS_ABORTED,
    FAILOVERS_STARTED,
    MASTER_SWITCHES,
    OUTCOME_UNKNOWN,
    SENTINELS_REACHABLE,
)
from vedette.process.reentry import CalledBack, OwnedLock
from vedette.sentinel.events import (
    FailoverAborted,
    FailoverEvent,
    FailoverStarted,
    MasterDown,
    MasterSwitched,
    MasterUp,
    PromotionStarted,
    SentinelLost,
)

__all__ = ["EventReport", "event_name"]

logger = logging.getLogger("vedette.watcher")

_WARNING = (MasterSwitched, MasterDown, FailoverAborted, SentinelLost)
# A failover that began longer ago than this (seconds) ended unheard: the switch is a new one.
_STALE = 600.0
# Seconds within which another watcher's report of the same event is the same event.
_SAME_EVENT = 10.0
_TOLD_KEPT = 256
# The last report of each event in this process: (what it said) -> (reporter, monotonic time).
_told: dict[tuple[object, ...], tuple[int, float]] = {}
_telling = OwnedLock()  # one watcher at a time reads and writes _told


def event_name(event: FailoverEvent) -> str:
    """The event's type in snake case: ``master_switched``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


class EventReport:
    """Logs and counts the events of one watcher; times each failover for the switch's line.

    Args:
        service: The service watched.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._began: datetime | None = None  # the first event of the failover under way
        self._promoted: datetime | None = None  # ... and its promotion

    def published(self, event: FailoverEvent) -> None:
        """Log and count ``event`` (on the thread that learnt of it, outside the lock)."""
        self._follow(event)
        if self._told_by_another(event):
            return
        extra = self._fields(event)
        text = event.describe()
        if isinstance(event, MasterSwitched):
            text += self._timing(event, extra)
            MASTER_SWITCHES.add(service=self.service, via=event.via)
        elif isinstance(event, FailoverStarted):
            FAILOVERS_STARTED.add(service=self.service)
        elif isinstance(event, FailoverAborted):
            FAILOVERS_ABORTED.add(service=self.service)
        level = logging.WARNING if isinstance(event, _WARNING) else logging.INFO
        logger.log(level, "service %r: %s", self.service, text, extra=extra)

    def _told_by_another(self, event: FailoverEvent) -> bool:
        """Whether another watcher of this process told ``event`` a moment ago."""
        said = tuple(
            getattr(event, spec.name) for spec in fields(event) if spec.name not in ("at", "via")
        )
        key, now = (type(event), *said), time.monotonic()
        try:
            with _telling:
                last = _told.get(key)
                _told[key] = (id(self), now)
                if len(_told) > _TOLD_KEPT:  # Sentinels lost with ever new reasons: forget old ones
                    for stale in [k for k, (_, at) in _told.items() if now - at >= _SAME_EVENT]:
                        _told.pop(stale, None)
        except CalledBack:  # a finalizer interrupted this very check: telling twice beats waiting
            return False
        return last is not None and last[0] != id(self) and now - last[1] < _SAME_EVENT

    def started(self) -> None:
        """The watcher runs: its counters exist from now on, at 0 until something happens."""
        for via in ("event", "reconciliation"):
            MASTER_SWITCHES.add(0, service=self.service, via=via)
        for counter in (FAILOVERS_STARTED, FAILOVERS_ABORTED, OUTCOME_UNKNOWN):
            counter.add(0, service=self.service)

    def sentinels(self, reachable: int) -> None:
        """The watcher is subscribed to ``reachable`` Sentinels now."""
        SENTINELS_REACHABLE.set(reachable, service=self.service)

    def _fields(self, event: FailoverEvent) -> dict[str, Any]:
        extra: dict[str, Any] = {"event": event_name(event)}
        for spec in fields(event):
            value = getattr(event, spec.name)
            if spec.name == "at":
                continue
            key = {"old": "old_master", "new": "new_master"}.get(spec.name, spec.name)
            extra[key] = value if value is None or isinstance(value, str) else str(value)
        return extra

    def _timing(self, event: MasterSwitched, extra: dict[str, Any]) -> str:
        """How long the failover took, for the switch's line and its fields."""
        text = ""
        if self._began is not None and (event.at - self._began).total_seconds() > _STALE:
            self._began = self._promoted = None  # its end went unheard (Sentinels unreachable)
        if self._began is not None:
            took = (event.at - self._began).total_seconds()
            extra["failover_seconds"] = round(took, 3)
            text += f"; {took:.2f} s after the failover began"
        if self._promoted is not None:
            held = (event.at - self._promoted).total_seconds()
            extra["promotion_seconds"] = round(held, 3)
            text += f", commands held {held:.2f} s for the promotion"
        return text

    def _follow(self, event: FailoverEvent) -> None:
        if isinstance(event, MasterDown | FailoverStarted | PromotionStarted):
            self._began = self._began or event.at
            if isinstance(event, PromotionStarted):
                self._promoted = self._promoted or event.at
        elif isinstance(event, MasterSwitched | FailoverAborted | MasterUp):
            self._began = self._promoted = None
