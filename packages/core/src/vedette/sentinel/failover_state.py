"""What a watcher knows about a failover, and the events news makes: no threads, no I/O.

`FailoverState` takes three kinds of input, each returning the event to publish (or None when it
is not news):

- `FailoverState.on_notice`: one Sentinel notification (``+odown``, ``+switch-master`` ...),
  parsed by `parse_notice`. Several Sentinels report the same occurrence: only the first counts.
- `FailoverState.on_topology`: an answer of discovery (reconciliation). It catches what the
  notifications missed: a switch, the end of a failover, a master no longer down.
- `FailoverState.on_sentinel`: the watcher's own subscription to a Sentinel broke or came back.

`vedette.FailoverWatcher` feeds it from its threads, under its lock; `vedette.testing` feeds it
scripts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from vedette.address import Address
from vedette.config.nat import AddressMap
from vedette.errors import VedetteError
from vedette.sentinel.decisions import Topology
from vedette.sentinel.events import (
    FailoverAborted,
    FailoverEvent,
    FailoverStarted,
    MasterDown,
    MasterSwitched,
    MasterUp,
    PromotionStarted,
    SentinelLost,
    SentinelRecovered,
)

__all__ = ["FailoverState", "Notice", "parse_notice"]

logger = logging.getLogger("vedette.watcher")


@dataclass(frozen=True, slots=True)
class Notice:
    """One Sentinel notification about a master, addresses after NAT."""

    kind: str
    service: str
    master: Address
    instance: Address | None = None  # the replica or Sentinel the notification is about
    new_master: Address | None = None  # +switch-master only


def parse_notice(channel: str, payload: str, nat: AddressMap) -> Notice | None:
    """Read a notification; None for those that are not about a master's failover.

    Payloads: ``+switch-master`` is ``<name> <old-ip> <old-port> <new-ip> <new-port>``; the others
    describe an instance: ``master <name> <ip> <port>`` or
    ``<type> <name> <ip> <port> @ <master-name> <master-ip> <master-port>``, then maybe details.
    """
    words = payload.split()
    translate = nat.translate
    try:
        if channel == "+switch-master":
            name, old_host, old_port, new_host, new_port = words[:5]
            old = translate(Address(old_host, int(old_port)))
            new = translate(Address(new_host, int(new_port)))
            return Notice(channel, name, old, new_master=new)
        if words[0] == "master":
            return Notice(channel, words[1], translate(Address(words[2], int(words[3]))))
        if len(words) >= 8 and words[4] == "@":
            instance = translate(Address(words[2], int(words[3])))
            master = translate(Address(words[6], int(words[7])))
            return Notice(channel, words[5], master, instance=instance)
    except (IndexError, ValueError):
        logger.debug("ignored unreadable Sentinel notification %r: %r", channel, payload)
    except VedetteError as error:  # an unmapped address, in strict NAT mode
        logger.error("ignored Sentinel notification %r: %s", channel, error)
    return None


@dataclass(slots=True)
class _Failover:
    """The failover under way."""

    master: Address
    trying: set[Address] = field(default_factory=set)  # Sentinels that announced +try-failover
    leader: Address | None = None
    promoting: bool = False


class FailoverState:
    """The master, the failover under way, the masters down, the Sentinels heard.

    Not thread-safe: its owner serialises calls.

    Args:
        service: The service name; notices about other services are ignored.
        master: The master already known, if any (a forked child starts from its parent's).
    """

    def __init__(self, service: str, master: Address | None = None) -> None:
        self.service = service
        self.master = master
        """The last known master."""
        self.switches = 0
        """Master switches seen (the first master learnt is not one)."""
        self._failover: _Failover | None = None
        self._down: set[Address] = set()  # masters reported +odown
        self._sentinel_up: dict[Address, bool] = {}

    @property
    def promoting(self) -> bool:
        """Whether a replica is being promoted: writes to the current master would be lost."""
        return self._failover is not None and self._failover.promoting

    def sentinel_up(self, sentinel: Address) -> bool | None:
        """Whether the subscription to ``sentinel`` is up (None: not tried yet)."""
        return self._sentinel_up.get(sentinel)

    @property
    def failing_over(self) -> bool:
        """Whether a failover is known to be under way."""
        return self._failover is not None

    def on_notice(self, sentinel: Address, notice: Notice, now: datetime) -> FailoverEvent | None:
        """Apply one notification from ``sentinel``; the event to publish, if it is news."""
        if notice.service != self.service:
            return None
        kind, master, service = notice.kind, notice.master, self.service
        failover = self._failover
        if kind == "+switch-master":
            assert notice.new_master is not None
            return self.switch_to(notice.new_master, now, via="event")
        if kind == "+odown" and master not in self._down:
            self._down.add(master)
            return MasterDown(service=service, at=now, master=master)
        if kind == "-odown" and master in self._down:
            self._down.discard(master)
            return MasterUp(service=service, at=now, master=master)
        if kind in ("+try-failover", "+elected-leader"):
            started = failover is None
            if failover is None:
                failover = self._failover = _Failover(master)
            if kind == "+try-failover":
                failover.trying.add(sentinel)
            else:
                failover.leader = sentinel
            return FailoverStarted(service=service, at=now, master=master) if started else None
        if kind == "+failover-state-send-slaveof-noone" and notice.instance is not None:
            if failover is None:
                failover = self._failover = _Failover(master, leader=sentinel)
            if failover.promoting:
                return None
            failover.promoting = True
            return PromotionStarted(service=service, at=now, master=master, replica=notice.instance)
        if kind.startswith("-failover-abort-") and failover is not None:
            if failover.leader is not None and sentinel != failover.leader:
                return None  # a Sentinel that lost the election; the leader goes on
            failover.trying.discard(sentinel)
            if failover.leader is None and failover.trying:
                return None  # other candidates are still trying
            self._failover = None
            reason = kind.removeprefix("-failover-abort-")
            return FailoverAborted(service=service, at=now, master=master, reason=reason)
        return None

    def on_topology(
        self, topology: Topology, now: datetime, *, complete: bool
    ) -> FailoverEvent | None:
        """Compare with what the Sentinels say now; the event for what the notices missed.

        Args:
            topology: The Sentinels' answer.
            now: When.
            complete: Whether every Sentinel answered: only then does "no failover under way"
                or "not down" mean something (the leader alone reports a failover).
        """
        if topology.master != self.master:
            return self.switch_to(topology.master, now, via="reconciliation")
        if not complete:
            return None
        failover = self._failover
        if failover is not None and not topology.failover_in_progress:
            # The failover ended without a switch and its abort notice was missed.
            self._failover = None
            return FailoverAborted(
                service=self.service,
                at=now,
                master=failover.master,
                reason="ended without a switch (reconciliation)",
            )
        if topology.master in self._down and not topology.master_down:
            self._down.discard(topology.master)  # its -odown was missed
            return MasterUp(service=self.service, at=now, master=topology.master)
        return None

    def on_sentinel(
        self, sentinel: Address, *, up: bool, reason: str, now: datetime
    ) -> FailoverEvent | None:
        """A subscription to ``sentinel`` came back (``up``) or broke."""
        was = self._sentinel_up.get(sentinel)
        self._sentinel_up[sentinel] = up
        if up and was is False:
            return SentinelRecovered(service=self.service, at=now, sentinel=sentinel)
        if not up and was is not False:
            return SentinelLost(service=self.service, at=now, sentinel=sentinel, reason=reason)
        return None

    def forget_failover(self) -> None:
        """Drop what is known of a failover under way (a forked child reads its parent's)."""
        self._failover = None

    def switch_to(
        self, new: Address, now: datetime, *, via: Literal["event", "reconciliation"]
    ) -> MasterSwitched | None:
        """Record ``new`` as the master; the event, unless it was known already."""
        old = self.master
        self._failover = None
        self._down.clear()  # the old master is no longer a master; the new one is up
        if new == old:
            return None
        self.master = new
        if old is None:
            return None  # the first master learnt: nothing switched
        self.switches += 1
        return MasterSwitched(service=self.service, at=now, old=old, new=new, via=via)
