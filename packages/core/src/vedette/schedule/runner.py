"""`ScheduleRunner`: the scheduler process's loop.

It stands by until it wins the store's lease, then dispatches each due run exactly once, and goes
back to standing by when the lease is lost.

A tick is one claim script (the due entries, checked against the fencing token, and the inbox),
the dispatches, and one settle script: a constant number of round trips, however many entries
are due. A run is recorded as sent only after its dispatcher returned; a failed send keeps the
claim open and is tried again with the same run id. Each run's id depends only on the entry and
its slot, so a scheduler that took over can tell the framework which run it is.

Nothing an entry or a document holds stops the loop: a document refused from the inbox is
recorded with the reason (`ScheduleStore.rejected`) and the ones after it are still taken; an
entry that cannot be read is parked at ``+inf`` with the reason in its ``err`` field, and
reported once. What stops it is an error no retry can fix (refused credentials or permissions,
an unknown service, an invalid setting): `ScheduleRunner.run` raises it.

Exactly once, and where it rests on the dispatcher: a leader that stops between sending a run
and recording it (kill -9 in that window of one round trip) leaves the claim open; the next
leader waits a lease's duration for it, then asks the dispatcher (`Dispatcher.dispatched`)
whether the run was sent, and sends it again, with the same id, only if the dispatcher cannot
tell. A claim whose record a Redis failover lost is recognised by the leader that sent it
(it remembers recent run ids).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.client import NEVER_DECODE

from vedette.errors import (
    AuthenticationError,
    ConfigurationError,
    NoPermissionError,
    ServiceNotFoundError,
)
from vedette.failures import is_retryable
from vedette.metrics.instruments import (
    SCHEDULE_DISPATCHED,
    SCHEDULE_LATENESS,
    SCHEDULE_LEADER_CHANGES,
    SCHEDULE_LEADING,
    SCHEDULE_LEASES_LOST,
    SCHEDULE_SKIPPED,
    SCHEDULE_TICKS,
)
from vedette.schedule import _limits, _scripts
from vedette.schedule._entry_hash import decode, history, slot_field
from vedette.schedule.dispatch import Dispatcher, Run, run_id
from vedette.schedule.entries import Entry, entry_from_document
from vedette.schedule.lease import DEFAULT_LEASE, Lease
from vedette.schedule.store import ScheduleStore

__all__ = ["ScheduleRunner", "Step", "decide"]

logger = logging.getLogger(__name__)

_REMEMBERED_RUNS = 10_000  # run ids this process sent, to recognise a settle a failover lost
_INBOX_BATCH = 100  # documents taken from the inbox per tick

# Errors no retry can fix: the configuration (or the server's ACL rules) must change. redis-py's
# own classes too, for a store on a plain client.
_FATAL: tuple[type[BaseException], ...] = (
    AuthenticationError,
    redis.AuthenticationError,
    NoPermissionError,
    redis.exceptions.NoPermissionError,
    ServiceNotFoundError,
    ConfigurationError,
)


@dataclass(frozen=True, slots=True)
class Step:
    """What to do with one claimed slot of an entry."""

    dispatch: bool
    """Send a run for the slot."""

    late: bool
    """The slot is past the entry's maximum lateness (a missed run)."""

    next_run: int | None
    """The entry's next slot (ms), None if it has no more runs."""

    streak: int
    """Missed runs sent in a row, after this step."""


def decide(entry: Entry, slot: int, now: int, streak: int) -> Step:
    """Apply the entry's missed-run policy to its ``slot`` (ms), seen at ``now`` (ms).

    ``streak`` counts the missed runs already sent in a row. A run on time is always sent; a
    missed one is sent while the streak is below what the policy allows; past that the entry
    skips ahead to its first slot that is on time again.
    """
    lateness = entry.missed.max_lateness * 1000
    following = entry.schedule.next_after(slot)
    if now - slot <= lateness:
        return Step(dispatch=True, late=False, next_run=following, streak=0)
    if streak < entry.missed.allowed:
        return Step(dispatch=True, late=True, next_run=following, streak=streak + 1)
    on_time = entry.schedule.next_after(now - int(lateness) - 1)
    return Step(dispatch=False, late=True, next_run=on_time, streak=0)


class ScheduleRunner:
    """Leads a store when it can, and dispatches its runs while it leads.

    Run several (on several hosts) for a standby: one leads, the others take over within the
    lease's duration (plus one poll) when it stops. `run` does not return because of a failover
    or a dispatcher: errors are logged, the lease is re-acquired or left, and the loop goes on.
    An error no retry can fix stops it: `run` closes the runner and raises it (refused
    credentials, a ``NOPERM`` reply, an unknown service, an invalid setting).

    Examples:
        >>> runner = ScheduleRunner(store, {"rq": rq_dispatcher})  # doctest: +SKIP
        >>> threading.Thread(target=runner.run).start()  # doctest: +SKIP
        >>> runner.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        store: ScheduleStore,
        dispatchers: Mapping[str, Dispatcher],
        *,
        lease: float = DEFAULT_LEASE,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        idle: float = 1.0,
        batch: int = 1000,
    ) -> None:
        """Lead ``store`` when possible, sending runs through ``dispatchers``.

        Args:
            store: The schedule.
            dispatchers: A dispatcher per framework name (``"celery"``, ``"dramatiq"``, ``"rq"``).
            lease: Seconds of the leader's lease (`Lease`).
            owner: This scheduler's name in its fencing token.
            clock: Seconds since the epoch; tests inject one.
            idle: The longest pause between two ticks (new entries are seen within it).
            batch: The most entries claimed by one tick (more are claimed by the next, at once).
        """
        if not (0.01 <= idle <= 60):
            raise ConfigurationError("idle", f"must be 0.01-60 seconds, not {idle!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigurationError("batch", f"must be a positive integer, not {batch!r}")
        self.store = store
        self.dispatchers = dict(dispatchers)
        self.lease = Lease(store, duration=lease, owner=owner)
        self.clock = clock
        self.idle = idle
        self.batch = batch
        self._claim = store.client.register_script(_scripts.CLAIM)
        self._settle = store.client.register_script(_scripts.SETTLE)
        self._inbox_done = store.client.register_script(_scripts.INBOX_DONE)
        self._stopping = threading.Event()
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._reported: dict[str, str] = {}
        self._renewed = 0.0
        self._failures = 0  # passes failed in a row
        # Every series exists from the start, at 0: an alert sees the first change, and a
        # standby that never led says so.
        prefix = store.prefix
        SCHEDULE_LEADING.set(0, schedule=prefix)
        for counter in (SCHEDULE_LEADER_CHANGES, SCHEDULE_LEASES_LOST, SCHEDULE_DISPATCHED):
            counter.add(0, schedule=prefix)
        for outcome in ("ok", "failed"):
            SCHEDULE_TICKS.add(0, schedule=prefix, outcome=outcome)

    def __repr__(self) -> str:
        return f"ScheduleRunner({self.store!r}, owner={self.lease.owner!r})"

    # --- The loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Stand by, lead and dispatch until `stop`; then `close`.

        Raises:
            AuthenticationError: Redis or the Sentinels refused the credentials (redis-py's
                ``AuthenticationError`` too, on a plain client). After closing, as for all of
                these: no retry can fix them.
            NoPermissionError: The ACL user may not run a command (redis-py's too).
            ServiceNotFoundError: No Sentinel monitors the service.
            ConfigurationError: A setting is invalid.
        """
        try:
            while not self._stopping.is_set():
                self._stopping.wait(self.step())
        finally:
            self.close()

    def step(self) -> float:
        """One pass of `run`'s loop: stand by, or lead (renew the lease, tick).

        For a host that has its own loop (``celery beat``). Returns the seconds to pause before
        the next pass. Errors are logged and the pass is tried again, except those no retry can
        fix, which it raises (see `run`).
        """
        poll = min(1.0, self.lease.duration / 10)
        try:
            pause = self._lead() if self.lease.token is not None else self._stand_by(poll)
        except _FATAL:
            raise
        except Exception as error:
            self._failed(error)
            return poll
        if self._failures:
            logger.info(
                "schedule %s: ticks work again, after %d failed",
                self.store.prefix,
                self._failures,
                extra={"event": "schedule_recovered", "schedule": self.store.prefix},
            )
            self._failures = 0
        return pause

    def _failed(self, error: Exception) -> None:
        """A pass failed: one line for the first of a series, the traceback at DEBUG."""
        SCHEDULE_TICKS.add(schedule=self.store.prefix, outcome="failed")
        self._failures += 1
        if self._failures == 1:
            logger.warning(
                "schedule %s: tick failed (%s: %s); trying again every pass until it works",
                self.store.prefix,
                type(error).__name__,
                error,
                extra={"event": "schedule_tick_failed", "schedule": self.store.prefix},
            )
        logger.debug(
            "schedule %s: tick %d failed", self.store.prefix, self._failures, exc_info=True
        )

    def close(self) -> None:
        """Give the lease up (a standby takes over at once) and close the dispatchers."""
        leading = self.lease.token is not None
        try:
            self.lease.release()
        except Exception:
            logger.warning("schedule %s: could not release the lease", self.store.prefix)
        if leading:
            SCHEDULE_LEADING.set(0, schedule=self.store.prefix)
        for dispatcher in self.dispatchers.values():
            dispatcher.close()

    def stop(self) -> None:
        """Make `run` return after the current tick."""
        self._stopping.set()

    def _stand_by(self, poll: float) -> float:
        if not self.lease.acquire():
            return poll
        self._renewed = time.monotonic()
        prefix = self.store.prefix
        SCHEDULE_LEADER_CHANGES.add(schedule=prefix)
        SCHEDULE_LEADING.set(1, schedule=prefix)
        logger.info(
            "schedule %s: leading as %s",
            prefix,
            self.lease.token,
            extra={"event": "schedule_leading", "schedule": prefix, "token": self.lease.token},
        )
        return 0.0

    def _stepped_down(self, why: str) -> None:
        """This scheduler no longer leads (``why``): count it, and say so in one line."""
        prefix = self.store.prefix
        SCHEDULE_LEASES_LOST.add(schedule=prefix)
        SCHEDULE_LEADING.set(0, schedule=prefix)
        logger.warning(
            "schedule %s: %s; standing by",
            prefix,
            why,
            extra={"event": "schedule_lease_lost", "schedule": prefix},
        )

    def _lead(self) -> float:
        """Renew when a third of the lease has passed, tick, and say how long to pause."""
        if time.monotonic() - self._renewed >= self.lease.duration / 3:
            try:
                renewed = self.lease.renew()
            except _FATAL:
                raise
            except Exception:
                renewed = None  # unreachable: keep the token until the lease would have run out
            if renewed:
                self._renewed = time.monotonic()
            elif renewed is False:
                self._stepped_down("lease lost")
                return 0.0
        if not self.lease.held:
            self.lease.step_down()
            self._stepped_down("lease not renewed in time")
            return 0.0
        pause = self.tick()
        SCHEDULE_TICKS.add(schedule=self.store.prefix, outcome="ok")
        if pause is None:
            return 0.0
        until_renewal = self._renewed + self.lease.duration / 3 - time.monotonic()
        return max(0.0, min(pause, self.idle, until_renewal))

    # --- One tick ----------------------------------------------------------------------------

    def tick(self) -> float | None:
        """Claim, dispatch and settle what is due.

        Returns the seconds until the next run is due, or None if more is due at once. Only the
        leader ticks: the claim checks its token.
        """
        token = self.lease.token
        if token is None:
            return self.idle
        now = int(self.clock() * 1000)
        store = self.store
        reply = self._undecoded(
            self._claim,
            keys=[store.due_key, store.leader_key, store.inbox_key],
            args=[
                token,
                now,
                self.batch,
                store.entry_prefix,
                _INBOX_BATCH,
                self.lease.millis,
                _limits.MAX_DOCUMENT_BYTES,
            ],
        )
        if not reply:
            self.lease.step_down()
            self._stepped_down(f"{token} no longer leads")
            return 0.0
        # Any bytes may come back (documents, hashes written by hand): those that are not UTF-8
        # are kept as lone surrogates, and sent back as the same bytes (_limits.raw).
        parsed = json.loads(_limits.decoded(reply))
        claims: list[list[Any]] = parsed["claims"] or []  # cjson writes an empty list as {}
        documents: list[str | list[Any]] = parsed["documents"] or []
        for name in parsed["broken"] or []:
            self._report(name, "is not a hash (its key holds another type) and is skipped")
        later: str | bool = parsed["later"]
        if documents:
            for document in documents:
                self._accept(document)
            self._inbox_done(keys=[store.leader_key, store.inbox_key], args=[token, len(documents)])
        outcomes = [self._handle(claim) for claim in claims]
        if outcomes:
            settled = _limits.raw(json.dumps(outcomes, ensure_ascii=False))
            self._settle(keys=[store.due_key], args=[token, store.entry_prefix, settled])
        if len(claims) >= self.batch or any(
            o[2] != "f" and o[3] != "+inf" and int(o[3]) <= now for o in outcomes
        ):
            return None
        if not isinstance(later, str):
            return self.idle
        return max(0.0, (float(later) - now) / 1000)

    def _undecoded(self, script: Any, *, keys: list[str], args: list[Any]) -> Any:
        """Run a registered script with its reply left as bytes, as ``script(keys, args)`` would.

        Whatever the client's ``decode_responses``: a reply that is not UTF-8 would otherwise
        fail in the client, before the runner could refuse what holds it.
        """
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        client = self.store.client
        try:
            return client.execute_command(*command, **{NEVER_DECODE: True})
        except redis.exceptions.NoScriptError:  # a new master (failover) that never saw it
            client.script_load(script.script)
            return client.execute_command(*command, **{NEVER_DECODE: True})

    def _handle(self, claim: Sequence[Any]) -> tuple[str, ...]:
        """Decide, and dispatch, one claimed slot; the settle script's arguments for it."""
        name, slot_text, clock, taken, fields = claim
        fields = fields or {}  # cjson writes an empty object as {} too: never a list here
        try:
            entry = decode(name, fields)
            slot = slot_field("slot", slot_text)
            _, runs, streak = history(fields)
            step = decide(entry, slot, slot_field("cn", clock), streak)
        except Exception as error:
            # A ConfigurationError: the hash, or the score, was written by hand. Anything else
            # would be a check missing in vedette.schedule: the entry is parked all the same,
            # so that it cannot stop the others.
            reason = _limits.printable(str(error) or type(error).__name__)
            self._report(name, f"cannot be read and is skipped: {reason}")
            return (name, slot_text, "0", "+inf", "0", f"cannot be read: {reason}", "")
        next_run = "+inf" if step.next_run is None else str(step.next_run)
        sent = "0"
        if not step.dispatch:
            SCHEDULE_SKIPPED.add(schedule=self.store.prefix, reason="missed")
        else:
            run = Run(
                entry=entry,
                slot=slot,
                id=run_id(self.store.prefix, name, slot),
                late=step.late,
                recovered=taken == 1,
            )
            problem = self._send(run)
            if problem is not None:
                return (name, slot_text, "f", next_run, str(step.streak), problem, "")
            sent = "1"
        self._reported.pop(name, None)
        count = str(runs + 1) if sent == "1" else ""
        return (name, slot_text, sent, next_run, str(step.streak), "", count)

    def _send(self, run: Run) -> str | None:
        """Dispatch a run unless it is known to be sent; why it failed, or None."""
        if run.id in self._sent:
            return None  # this process sent it; its record was lost (a failover) or not made
        dispatcher = self.dispatchers.get(run.entry.target.framework)
        if dispatcher is None:
            problem = (
                f"no dispatcher for framework {run.entry.target.framework!r} in this scheduler"
            )
            self._report(run.entry.name, problem)
            return problem
        try:
            if not (run.recovered and dispatcher.dispatched(run)):
                dispatcher.dispatch(run)
        except Exception as error:
            problem = _limits.printable(f"dispatch failed: {type(error).__name__}: {error}")
            self._report(run.entry.name, f"{problem}; trying again")
            return problem
        self._sent[run.id] = None
        prefix = self.store.prefix
        SCHEDULE_DISPATCHED.add(schedule=prefix)
        SCHEDULE_LATENESS.observe(max(0.0, self.clock() - run.slot / 1000), schedule=prefix)
        while len(self._sent) > _REMEMBERED_RUNS:
            self._sent.popitem(last=False)
        return None

    def _accept(self, document: str | list[Any]) -> None:
        """Add an entry pushed to the inbox, or record why it was refused.

        ``document`` is the text the claim script sent (bytes that are not UTF-8 as lone
        surrogates), or ``[its start, its size]`` for one too large to be sent whole.
        """
        if isinstance(document, list):
            start, size = document
            self._refuse(
                start,
                f"entry: is {size:,} bytes; the limit is {_limits.MAX_DOCUMENT_BYTES:,}",
                size=size,
            )
            return
        raw: str | bytes = document
        try:
            raw = _limits.raw(document)
            entry = entry_from_document(raw)
            if entry.target.framework not in self.dispatchers:
                raise ConfigurationError(
                    "target.framework",
                    f"no dispatcher for {entry.target.framework!r} in this scheduler "
                    f"(it has: {', '.join(sorted(self.dispatchers)) or 'none'})",
                )
        except Exception as error:
            # A ConfigurationError says what rule the document breaks; anything else would be
            # a check missing in vedette.schedule: the document is refused all the same, so
            # that it cannot block the inbox.
            self._refuse(raw, str(error) or type(error).__name__)
            return
        try:
            self.store.add(entry, now=self.clock())
        except redis.ResponseError as error:
            if isinstance(error, _FATAL) or is_retryable(error):
                raise  # not this document's fault: it stays in the inbox
            self._refuse(raw, f"could not be stored: {error}")  # its key is not a hash, say

    def _refuse(self, document: str | bytes, problem: str, *, size: int | None = None) -> None:
        """Keep a refused document, with the reason, in the rejected list; log it in one line."""
        problem = _limits.printable(problem)
        logger.warning("schedule %s: inbox document refused: %s", self.store.prefix, problem)
        self.store.reject(document, problem, size=size)

    def _report(self, name: str, problem: str) -> None:
        """Log a problem with an entry once, until it changes or the entry succeeds."""
        if self._reported.get(name) != problem:
            self._reported[name] = problem
            logger.error("schedule %s: entry %r %s", self.store.prefix, name, problem)
