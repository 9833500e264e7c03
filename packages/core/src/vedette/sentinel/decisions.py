"""What discovery decides from the Sentinels' answers: no sockets, no threads, no redis client.

- `parse_answer`: one Sentinel's replies as an `Answer` (addresses after NAT, unusable replicas
  and down Sentinels left out).
- `has_majority` and `candidates`: whether a majority agree yet, and the masters worth a role
  check, best first (most votes, then highest epoch; after the best, only newer epochs).
- `SwitchMemory`: the masters this process saw replaced, and which answers that makes stale.
- `topology`: the `Topology` of a verified master, and the Sentinels the answers teach.
- `no_master_error`: the error to raise when no answer gave a usable master.

`vedette.Discovery` asks the Sentinels, checks the master's role, and feeds these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from vedette.address import Address
from vedette.errors import (
    AuthenticationError,
    MasterNotFoundError,
    SentinelsUnreachableError,
    ServiceNotFoundError,
)
from vedette.failures import Failure, permission_denied

__all__ = [
    "Answer",
    "SwitchMemory",
    "Topology",
    "candidates",
    "fields",
    "has_majority",
    "no_master_error",
    "parse_answer",
    "topology",
]

# Flags with which Sentinel marks a replica it does not consider usable; a peer Sentinel is
# left out only when down: "disconnected" there is the answering Sentinel's own link, often
# just not (re)connected yet.
_UNUSABLE_REPLICA = frozenset({"s_down", "o_down", "disconnected"})
_UNUSABLE_SENTINEL = frozenset({"s_down", "o_down"})


@dataclass(frozen=True, slots=True)
class Topology:
    """The master of a service as the Sentinels describe it, after NAT and a role check."""

    service_name: str
    """The service (master) name that was looked up."""
    master: Address
    """The verified master."""
    replicas: tuple[Address, ...]
    """Replicas the Sentinels consider healthy and in sync with the master."""
    sentinels: tuple[Address, ...]
    """Every Sentinel known to monitor the service: those that answered and those they know."""
    config_epoch: int
    """The configuration epoch of the answer: it grows by one with every failover."""
    agreeing: int
    """How many Sentinels named this master."""
    asked: int
    """How many Sentinels were asked."""
    failover_in_progress: bool = False
    """Whether a Sentinel that answered reports a failover of this master under way (it is
    the failover's leader, or tries to become it)."""
    master_down: bool = False
    """Whether a Sentinel that names this master flags it objectively down (``o_down``)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One Sentinel's answer, or why it gave none."""

    sentinel: Address
    """The Sentinel asked, as it was dialled."""
    sentinel_id: str | None = None
    """Its run id (``SENTINEL MYID``, Redis 6.2+), None if unknown."""
    master: Address | None = None
    """The master it names (after NAT), None if it gave no usable answer."""
    epoch: int = -1
    """The config epoch of the master it names."""
    failing_over: bool = False
    """Whether it flags a failover of that master under way."""
    down: bool = False
    """Whether it flags that master objectively down (``o_down``)."""
    replicas: tuple[Address, ...] = ()
    """The replicas it considers usable (after NAT)."""
    peers: tuple[tuple[str, Address], ...] = ()
    """(run id, address after NAT) of the other Sentinels it knows and does not flag down."""
    failure: Failure | None = None
    """Why it gave no usable answer, None if it did."""
    reason: str = ""
    """That reason, for messages and logs."""
    monitored: tuple[str, ...] = field(default=())
    """The services it monitors, when it does not monitor the one asked for."""
    closed: bool = False
    """`Discovery.close` cut the question: the answer says nothing of the Sentinel."""

    @classmethod
    def cut(cls, sentinel: Address) -> Answer:
        """The answer of a question `Discovery.close` cut short."""
        return cls(sentinel, failure="unreachable", reason="closed while asking", closed=True)

    def describe(self) -> str:
        """What the Sentinel said, for an error's ``answers``: the master it names, or why not."""
        if self.master is not None:
            return f"names {self.master} as master (config epoch {self.epoch})"
        return self.reason


def fields(reply: Iterable[str]) -> dict[str, str]:
    """Sentinel's flat ``[key, value, key, value ...]`` reply as a dict."""
    items = list(reply)
    return dict(zip(items[::2], items[1::2], strict=True))


def parse_answer(
    address: Address,
    sentinel_id: str | None,
    master: Iterable[str],
    replicas: Iterable[Iterable[str]],
    others: Iterable[Iterable[str]],
    *,
    translate: Callable[[Address], Address],
    min_other_sentinels: int,
) -> Answer:
    """One Sentinel's replies about a service as its `Answer`.

    Args:
        address: The Sentinel asked.
        sentinel_id: Its run id, None if unknown.
        master: Its ``SENTINEL MASTER`` reply (flat fields).
        replicas: Its ``SENTINEL REPLICAS`` reply (flat fields per replica).
        others: Its ``SENTINEL SENTINELS`` reply (flat fields per other Sentinel).
        translate: What to dial for a reported address (`vedette.AddressMap.translate`).
        min_other_sentinels: Fewer other Sentinels seen than this: the answer is ignored.

    Raises:
        ConfigurationError: ``translate`` refuses an address (strict NAT mode).
    """
    state = fields(master)
    seen_others = int(state.get("num-other-sentinels", "0"))
    if seen_others < min_other_sentinels:
        return Answer(
            address,
            failure="error",
            reason=f"ignored: sees {seen_others} other Sentinels, fewer than "
            f"min_other_sentinels={min_other_sentinels}",
        )
    flags = state.get("flags", "").split(",")
    return Answer(
        address,
        sentinel_id=sentinel_id,
        master=_reported(state, translate),
        epoch=int(state.get("config-epoch", "0")),
        failing_over="failover_in_progress" in flags,
        down="o_down" in flags,
        replicas=tuple(
            _reported(entry, translate)
            for entry in map(fields, replicas)
            if _usable(entry, _UNUSABLE_REPLICA) and entry.get("master-link-status") == "ok"
        ),
        peers=tuple(
            (entry.get("runid", ""), _reported(entry, translate))
            for entry in map(fields, others)
            if _usable(entry, _UNUSABLE_SENTINEL)
        ),
    )


def _reported(entry: dict[str, str], translate: Callable[[Address], Address]) -> Address:
    return translate(Address(entry["ip"], int(entry["port"])))


def _usable(entry: dict[str, str], unusable: frozenset[str]) -> bool:
    return not unusable.intersection(entry.get("flags", "").split(","))


def has_majority(answers: Iterable[Answer], asked: int) -> bool:
    """Whether more than half of the ``asked`` Sentinels name one master in ``answers``."""
    votes: dict[Address, int] = {}
    for answer in answers:
        if answer.master is not None:
            votes[answer.master] = votes.get(answer.master, 0) + 1
    return any(count * 2 > asked for count in votes.values())


def candidates(answers: Mapping[Address, Answer], sentinels: Sequence[Address]) -> list[Address]:
    """The masters to check, best first.

    The best is named by the most Sentinels; among as many, by the highest config epoch; then by
    the Sentinel asked first. The others follow in the same order, but only those named at a
    newer epoch than the best: an answer from an older configuration is stale, and never
    overrules the best.

    Args:
        answers: The answers of the lookup (stale ones already left out: `SwitchMemory.fresh`).
        sentinels: The Sentinels asked, in order; every answer's Sentinel is one of them.
    """
    groups: dict[Address, list[Answer]] = {}
    for answer in answers.values():
        if answer.master is not None:
            groups.setdefault(answer.master, []).append(answer)
    if not groups:
        return []

    def epoch(master: Address) -> int:
        return max(answer.epoch for answer in groups[master])

    def first_asker(master: Address) -> int:
        return min(sentinels.index(answer.sentinel) for answer in groups[master])

    ranked = sorted(groups, key=lambda m: (-len(groups[m]), -epoch(m), first_asker(m)))
    best = ranked[0]
    return [best, *(master for master in ranked[1:] if epoch(master) > epoch(best))]


class SwitchMemory:
    """The masters this process saw replaced, and the newest epoch each master was named at.

    Right after a failover the Sentinels that lost the election still name the old master for a
    few milliseconds: an answer naming a replaced master is stale unless its config epoch is as
    new as the replacement's. Not locked: `vedette.Discovery` writes under its lock.
    """

    def __init__(self) -> None:
        # A master seen replaced -> (its replacement, the newest epoch it was known at then).
        self._demoted: dict[Address, tuple[Address, int]] = {}
        self._named: dict[Address, int] = {}  # newest config epoch an answer named each master at

    def note_answer(self, answer: Answer) -> None:
        """Take in the epoch at which ``answer`` names its master (if it names one)."""
        if answer.master is not None:
            self._named[answer.master] = max(answer.epoch, self._named.get(answer.master, -1))

    def note_switch(self, old: Address | None, new: Address) -> None:
        """Record that the master was switched from ``old`` to ``new``; see `is_stale`."""
        if old is not None and old != new:
            self._demoted[old] = (new, self._named.get(old, -1))
        self._demoted.pop(new, None)

    def is_stale(self, master: Address, epoch: int) -> bool:
        """Whether naming ``master`` at config ``epoch`` is older than a switch seen since.

        It is, unless ``master`` was never replaced, or ``epoch`` is newer than what was known
        of ``master`` when it was replaced and no older than the newest epoch naming its
        replacement (while that is unknown: stale).
        """
        demoted = self._demoted.get(master)
        if demoted is None:
            return False
        replacement, known = demoted
        if epoch <= known:
            return True
        newest = self._named.get(replacement)
        return newest is None or epoch < newest  # its replacement's epoch unknown yet: stale

    def fresh(self, answers: Mapping[Address, Answer]) -> dict[Address, Answer]:
        """The answers that do not name a master this process saw replaced since."""
        return {
            address: answer
            for address, answer in answers.items()
            if answer.master is None or not self.is_stale(answer.master, answer.epoch)
        }


def topology(
    master: Address,
    answers: Mapping[Address, Answer],
    *,
    service_name: str,
    sentinels: Sequence[Address],
    configured: Sequence[Address],
) -> tuple[Topology, tuple[Address, ...]]:
    """The topology of ``master`` (verified) as the answers describe it.

    Args:
        master: The master, its role checked; at least one answer names it.
        answers: Every answer of the lookup, keyed by the Sentinel asked.
        service_name: The service looked up.
        sentinels: The Sentinels asked.
        configured: The configured Sentinels (always asked: never learned).

    Returns:
        The topology, and the Sentinels it knows that are not configured (to ask next time).
        The same Sentinel may be configured under one address and reported (after NAT) under
        another: run ids tell, so no Sentinel is asked, or counted, twice.
    """
    agreeing = [answer for answer in answers.values() if answer.master == master]
    answered_ids = {answer.sentinel_id for answer in answers.values() if answer.sentinel_id}
    known = dict.fromkeys(answer.sentinel for answer in agreeing)
    for answer in agreeing:
        for run_id, address in answer.peers:
            if run_id not in answered_ids:
                known[address] = None
    learned = tuple(address for address in known if address not in configured)
    described = Topology(
        service_name=service_name,
        master=master,
        replicas=tuple(sorted(agreeing[0].replicas)),  # one order: connections alternate
        sentinels=tuple(known),
        config_epoch=max(answer.epoch for answer in agreeing),
        agreeing=len(agreeing),
        asked=len(sentinels),
        failover_in_progress=any(answer.failing_over for answer in answers.values()),
        master_down=any(answer.down for answer in agreeing),
    )
    return described, learned


def no_master_error(
    answers: Mapping[Address, Answer], tried: Mapping[Address, str], *, service_name: str
) -> Exception:
    """The error to raise when no answer gave a usable master.

    In this order: candidates were checked and refused (`MasterNotFoundError`, "not usable");
    every reachable Sentinel refused the credentials (`AuthenticationError`), its TLS
    certificate was refused (`AuthenticationError`), or refused a command (`NoPermissionError`),
    or does not monitor the service (`ServiceNotFoundError`); none was reachable
    (`SentinelsUnreachableError`); the answers named only replaced masters
    (`MasterNotFoundError`, "have not caught up"); none named a master.

    Args:
        answers: Every answer of the lookup, keyed by the Sentinel asked.
        tried: The candidates checked, and why each is not a usable master.
        service_name: The service looked up.
    """
    name = service_name
    described = {str(address): answer.describe() for address, answer in answers.items()}
    if tried:
        problems = "; ".join(f"{address} {problem}" for address, problem in tried.items())
        return MasterNotFoundError(
            f"the Sentinels name a master for {name!r} that is not usable: {problems}",
            service_name=name,
            answers=described,
        )
    reachable = [answer for answer in answers.values() if answer.failure != "unreachable"]
    if reachable and all(answer.failure == "auth" for answer in reachable):
        return AuthenticationError(
            ", ".join(answer.reason for answer in reachable)
            + "; check sentinel_username and sentinel_password"
        )
    if reachable and all(answer.failure == "tls" for answer in reachable):
        return AuthenticationError(", ".join(answer.reason for answer in reachable))
    if reachable and all(answer.failure == "permission" for answer in reachable):
        refusing = ", ".join(str(answer.sentinel) for answer in reachable)
        return permission_denied(
            reachable[0].reason, f"Sentinel {refusing}", setting="sentinel_username"
        )
    if reachable and all(answer.failure == "unknown_service" for answer in reachable):
        monitored = tuple(sorted({n for answer in reachable for n in answer.monitored}))
        listed = ", ".join(map(repr, monitored)) or "nothing"
        return ServiceNotFoundError(
            f"no Sentinel monitors a service named {name!r}; they monitor {listed}",
            service_name=name,
            answers=described,
            monitored=monitored,
        )
    if not reachable:
        return SentinelsUnreachableError(
            f"no Sentinel of {name!r} could be reached", service_name=name, answers=described
        )
    stale = {str(a.master) for a in answers.values() if a.master is not None}
    if stale:
        return MasterNotFoundError(
            f"the Sentinels that answered still name {', '.join(sorted(stale))} as master of "
            f"{name!r}, which this process saw replaced: they have not caught up yet",
            service_name=name,
            answers=described,
        )
    return MasterNotFoundError(
        f"no Sentinel named a master for {name!r}", service_name=name, answers=described
    )
