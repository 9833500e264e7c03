"""Typed failover events, as `FailoverWatcher` publishes them.

Every event names the service and carries ``at``, the moment (UTC) the watcher learnt of it.
Addresses are after NAT: the ones this process connects to. Each is published once per
occurrence, however many Sentinels report it.

```
FailoverEvent
├── MasterDown          a majority of Sentinels agree the master is down (+odown)
├── MasterUp            ... and no longer (-odown)
├── FailoverStarted     a Sentinel started a failover (+try-failover)
├── PromotionStarted    the leader is promoting a replica: writes to the old master would be lost
├── FailoverAborted     the failover was given up (-failover-abort-*): the old master stays
├── MasterSwitched      the Sentinels switched to a new master (+switch-master, or reconciliation)
├── SentinelLost        the watcher's connection to one Sentinel broke
└── SentinelRecovered   ... and is back
```
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import ClassVar, Literal

from vedette.address import Address

__all__ = [
    "FailoverAborted",
    "FailoverEvent",
    "FailoverStarted",
    "MasterDown",
    "MasterSwitched",
    "MasterUp",
    "PromotionStarted",
    "SentinelLost",
    "SentinelRecovered",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class FailoverEvent:
    """Base class of every event."""

    service: str
    """The service (master) name the event is about."""
    at: datetime
    """When the watcher learnt of it (timezone-aware, UTC)."""

    _template: ClassVar[str] = ""

    def describe(self) -> str:
        """One line for a log or a terminal, without the time and service."""
        values = {spec.name: getattr(self, spec.name) for spec in fields(self)}
        return self._template.format_map(
            {name: "unknown" if value is None else value for name, value in values.items()}
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class MasterDown(FailoverEvent):
    """A quorum of Sentinels agree the master is unreachable (``+odown``); a failover follows."""

    master: Address

    _template: ClassVar[str] = "master {master} is down (objectively, by quorum)"


@dataclass(frozen=True, kw_only=True, slots=True)
class MasterUp(FailoverEvent):
    """The Sentinels no longer consider the master down (``-odown``)."""

    master: Address

    _template: ClassVar[str] = "master {master} is reachable again"


@dataclass(frozen=True, kw_only=True, slots=True)
class FailoverStarted(FailoverEvent):
    """A Sentinel started a failover of ``master`` (``+try-failover``)."""

    master: Address

    _template: ClassVar[str] = "failover of master {master} started"


@dataclass(frozen=True, kw_only=True, slots=True)
class PromotionStarted(FailoverEvent):
    """The leading Sentinel is turning ``replica`` into the master.

    From now until `MasterSwitched` (or `FailoverAborted`), anything written to ``master`` is
    about to be discarded: clients hold their commands instead.
    """

    master: Address
    replica: Address

    _template: ClassVar[str] = "promoting replica {replica} to replace master {master}"


@dataclass(frozen=True, kw_only=True, slots=True)
class FailoverAborted(FailoverEvent):
    """The failover was given up; ``master`` stays the master.

    ``reason`` is Sentinel's, e.g. ``no-good-slave`` or ``not-elected``.
    """

    master: Address
    reason: str

    _template: ClassVar[str] = "failover of master {master} aborted ({reason})"


@dataclass(frozen=True, kw_only=True, slots=True)
class MasterSwitched(FailoverEvent):
    """The Sentinels switched the service to a new master.

    ``via`` says how the watcher learnt it: ``"event"`` (a Sentinel published
    ``+switch-master``) or ``"reconciliation"`` (asking the Sentinels showed a different master
    than the last known one, so an event was missed).
    """

    old: Address | None
    new: Address
    via: Literal["event", "reconciliation"] = "event"

    _template: ClassVar[str] = "master switched from {old} to {new} (via {via})"


@dataclass(frozen=True, kw_only=True, slots=True)
class SentinelLost(FailoverEvent):
    """The watcher lost its subscription to ``sentinel``; it keeps reconnecting."""

    sentinel: Address
    reason: str

    _template: ClassVar[str] = "lost Sentinel {sentinel}: {reason}"


@dataclass(frozen=True, kw_only=True, slots=True)
class SentinelRecovered(FailoverEvent):
    """The watcher is subscribed to ``sentinel`` again."""

    sentinel: Address

    _template: ClassVar[str] = "Sentinel {sentinel} is back"
