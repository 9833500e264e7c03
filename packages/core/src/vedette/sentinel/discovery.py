"""Discovery: ask the Sentinels who the master is, and check the answer before trusting it.

1. Every known Sentinel is asked at once, in one pipelined round trip each (the master with its
   config epoch, the replicas, the other Sentinels), on connections with short timeouts and no
   retries: a dead Sentinel costs one timeout, never a retry storm. The asking is done by a few
   long-lived threads, one question per Sentinel at a time: a lookup starts no thread.
2. Answers are grouped by the master they name (after NAT). The master named by the most
   Sentinels wins; a tie goes to the highest config epoch. Once a majority of the known Sentinels
   agree, the others are not waited for.
3. An answer that names a master this process saw replaced (`Discovery.note_switch`, called by
   the watcher on every switch) is stale unless its config epoch is as new as the replacement's:
   right after a failover the Sentinels that lost the election still name the old master for a
   few milliseconds, and a majority of them must not undo a switch already announced.
4. The winner must say it is a master (``HELLO``'s ``role``, which any ACL user may ask, unlike
   ``ROLE``: `vedette.servers.role`). If it does not (it died mid-failover, or was
   demoted), another answer is tried only if it comes from a newer configuration (a higher epoch):
   an answer from an older one is stale.
5. Sentinels named in the answers join the ones asked next time; the configured ones always stay.
   Run ids keep one Sentinel known under two addresses (configured, and reported through NAT)
   from being asked, or counted, twice.

What steps 2, 3 and 5 decide, how a reply is read, and which error a failed lookup raises are
plain functions over the answers, in `vedette.sentinel.decisions`; this module asks the
Sentinels (sockets, threads) and checks the master's role (step 4).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

import redis

from vedette.address import Address
from vedette.config.sentinel_config import SentinelConfig
from vedette.errors import MasterNotFoundError, VedetteError
from vedette.failures import classify, scrub, translate
from vedette.metrics.instruments import DISCOVERY_DURATION
from vedette.process.reentry import OwnedLock, called_back, inside
from vedette.process.state import restart_after_fork
from vedette.sentinel import decisions
from vedette.sentinel.decisions import Answer, SwitchMemory, Topology
from vedette.servers.clients import command, redis_client, sentinel_client
from vedette.servers.role import MASTER, REPLICA, server_role

__all__ = ["Discovery", "Topology", "discover"]

logger = logging.getLogger("vedette.discovery")

# What a question raises when `Discovery.close` closes its socket from another thread: redis-py
# 5.0 lets the closed buffer's ValueError (or the socket's OSError) through unwrapped.
_CUT_UNDER_US = (OSError, ValueError)


def discover(config: SentinelConfig) -> Topology:
    """Find and verify the master of ``config.service_name`` once; see `Discovery`."""
    with Discovery(config) as discovery:
        return discovery.discover()


class Discovery:
    """Finds the master of a service, again and again, on reused Sentinel connections.

    Thread-safe: several threads may call `discover` at once. `close` releases the connections.

    Examples:
        >>> with Discovery(config) as discovery:  # doctest: +SKIP
        ...     print(discovery.discover().master)
        10.0.0.5:6379
    """

    def __init__(self, config: SentinelConfig) -> None:
        self.config = config
        self._clients: dict[Address, redis.Redis] = {}  # one per Sentinel
        self._verifiers: dict[Address, redis.Redis] = {}  # one per master candidate: its role
        self._learned: tuple[Address, ...] = ()
        self._failing: set[Address] = set()
        self._lock = OwnedLock()
        self._asking: dict[Address, Future[Answer]] = {}  # the question in flight, per Sentinel
        self._askers: ThreadPoolExecutor | None = None
        self._closing: Future[None] = Future()  # done by `close`: lookups in flight give up
        self._switches = SwitchMemory()  # written under the lock
        self.threadless = False
        """Ask on the calling thread, one Sentinel after the other, starting no thread: set in
        a forked child that follows its parent's watcher (and so runs no thread of its own)."""
        restart_after_fork(self)

    def _after_fork(self) -> None:
        # The parent's connections and asking threads are not ours: forget them (unclosed: the
        # sockets are shared with the parent). What was learnt (Sentinels, epochs) is kept.
        self._lock = OwnedLock()
        self._clients, self._verifiers, self._asking = {}, {}, {}
        self._askers = None
        self._closing = Future()

    @property
    def sentinels(self) -> tuple[Address, ...]:
        """The Sentinels the next lookup asks: the configured ones, then the ones learned."""
        return tuple(dict.fromkeys((*self.config.sentinels, *self._learned)))

    def discover(self, *, every_sentinel: bool = False) -> Topology:
        """Ask the Sentinels for the master, check its role, and describe the topology.

        Args:
            every_sentinel: Wait for every Sentinel's answer (or its timeout) instead of
                stopping once a majority agree: slower, but `Topology.failover_in_progress`
                then reflects every reachable Sentinel.

        Raises:
            AuthenticationError: Every reachable Sentinel refused the Sentinel credentials, or
                the master refused the Redis credentials.
            ServiceNotFoundError: No reachable Sentinel monitors ``service_name``.
            NoPermissionError: Every reachable Sentinel refused the Sentinel user a command
                discovery needs, or the master refused the Redis user ``HELLO``.
            MasterNotFoundError: No usable master: every Sentinel is unreachable, or the master
                they name does not say it is a master (a failover is under way).
            ConfigurationError: In strict NAT mode, a Sentinel reported an unmapped address.
        """
        started, outcome = time.monotonic(), "failed"
        try:
            if called_back() or self.threadless:
                topology = self._discover_directly(every_sentinel=every_sentinel)
            else:
                with inside():  # a finalizer run meanwhile on this thread must not wait for it
                    topology = self._discover(every_sentinel=every_sentinel)
            outcome = "ok"
            return topology
        finally:
            DISCOVERY_DURATION.observe(
                time.monotonic() - started, service=self.config.service_name, outcome=outcome
            )

    def _discover(self, *, every_sentinel: bool) -> Topology:
        closing = self._closing
        try:
            return self._ask_and_decide(closing, every_sentinel=every_sentinel)
        except Exception as error:
            if not closing.done() or isinstance(error, VedetteError):
                raise
            # `close` cut a connection under a question: whatever redis-py made of that (an
            # AttributeError on the buffer it dropped, say), the lookup just ended.
            name = self.config.service_name
            raise MasterNotFoundError(
                f"the lookup of {name!r} was cut short: discovery closed",
                service_name=name,
                answers={},
            ) from None

    def _ask_and_decide(self, closing: Future[None], *, every_sentinel: bool) -> Topology:
        sentinels = self.sentinels
        try:
            asked = {address: self._ask(address, closing) for address in sentinels}
        except RuntimeError:  # no new thread at interpreter exit (a finalizer's lookup, say)
            return self._discover_directly(every_sentinel=every_sentinel)
        collection = _Collection(self, asked)
        answers = collection.all() if every_sentinel else collection.until_majority()
        tried: dict[Address, str] = {}
        while True:
            for candidate in decisions.candidates(self._switches.fresh(answers), sentinels):
                if candidate not in tried:
                    with self._kept(True, candidate, closing) as verifier:
                        problem = self._verify_master(candidate, verifier)
                    if problem is None:
                        return self._topology(candidate, answers, sentinels)
                    tried[candidate] = problem
            if collection.finished:
                break
            answers = collection.all()
        raise self._failure(answers, tried)

    def _discover_directly(self, *, every_sentinel: bool) -> Topology:
        """The same lookup, asked by this thread alone, one Sentinel after the other.

        For code called back while this thread is inside Vedette (a finalizer,
        `vedette.process.reentry`), and for a forked child that follows its parent's watcher
        (`threadless`): it waits for no other thread and takes no lock, on connections of its own.
        Nothing is recorded but what the topology teaches.
        """
        sentinels = self.sentinels
        answers: dict[Address, Answer] = {}
        for address in sentinels:
            client = sentinel_client(self.config, address)
            try:
                answers[address] = self._ask_one(address, client)
            finally:
                client.close()
            if not every_sentinel and decisions.has_majority(
                self._switches.fresh(answers).values(), len(sentinels)
            ):
                break
        tried: dict[Address, str] = {}
        for candidate in decisions.candidates(self._switches.fresh(answers), sentinels):
            verifier = _verifier(self.config, candidate)
            try:
                problem = self._verify_master(candidate, verifier)
            finally:
                verifier.close()
            if problem is None:
                return self._topology(candidate, answers, sentinels)
            tried[candidate] = problem
        raise self._failure(answers, tried)

    def note_switch(self, old: Address | None, new: Address) -> None:
        """Record that the master was switched from ``old`` to ``new`` (after NAT).

        From now on an answer naming ``old`` counts only if its config epoch is newer than what
        was known of ``old`` then, and no older than the newest configuration naming ``new``:
        the old master may keep saying it is one for seconds, and Sentinels that have not caught
        up yet still name it.
        """
        with self._lock:
            self._switches.note_switch(old, new)

    def is_stale(self, master: Address, epoch: int) -> bool:
        """Whether naming ``master`` at config ``epoch`` is older than a switch seen since."""
        # Not under the lock: a lookup called back on a thread inside Vedette takes no lock.
        return self._switches.is_stale(master, epoch)

    def close(self) -> None:
        """Close every connection and stop the asking threads.

        A question in flight is cut (its socket is shut down), so this takes milliseconds even
        with a Sentinel that does not answer.
        """
        with self._lock:
            clients = [*self._clients.values(), *self._verifiers.values()]
            self._clients, self._verifiers, self._asking = {}, {}, {}
            askers, self._askers = self._askers, None
            closing, self._closing = self._closing, Future()
            # A lookup in flight stops waiting: a question to a frozen Sentinel whose connection
            # was still being made when its socket could not yet be shut down runs to its
            # timeout. Under the lock: a question keeps no connection made after this (`_kept`).
            closing.set_result(None)
        for client in clients:
            client.close()
        if askers is not None:
            askers.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Discovery:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- asking one Sentinel ------------------------------------------------------------------

    @contextmanager
    def _kept(
        self, verifier: bool, address: Address, closing: Future[None]
    ) -> Iterator[redis.Redis]:
        """The connection kept to ask ``address``: a Sentinel, or a master candidate (verifier).

        For a question `close` came before (``closing`` is done), a connection of its own,
        closed after it: `close` closed the kept ones already, and one made now would be kept
        open by a discovery nobody closes again.
        """
        with self._lock:  # `close` swaps the kept connections and ends `closing` under it
            kept = self._verifiers if verifier else self._clients
            client = None if closing.done() else kept.get(address)
            if client is None:
                client = (_verifier if verifier else sentinel_client)(self.config, address)
                if not closing.done():
                    kept[address] = client
        try:
            yield client
        finally:
            if closing.done():
                client.close()

    def _ask(self, address: Address, closing: Future[None]) -> Future[Answer]:
        """The answer of one Sentinel, asked now unless a question to it is still in flight."""
        with self._lock:
            future = self._asking.get(address)
            if future is None or future.done():
                if self._askers is None:
                    self._askers = ThreadPoolExecutor(
                        max_workers=16,
                        thread_name_prefix=f"vedette-discovery-{self.config.service_name}",
                    )
                future = self._askers.submit(self._ask_pooled, address, closing)
                self._asking[address] = future
            return future

    def _ask_pooled(self, address: Address, closing: Future[None]) -> Answer:
        """One Sentinel's answer, on the connection kept for it (an asking thread runs this)."""
        try:
            with self._kept(False, address, closing) as client:
                answer = self._ask_one(address, client)
        except Exception:
            if not closing.done():
                raise
            return Answer.cut(address)  # `close` cut the connection under it (see `_discover`)
        return Answer.cut(address) if answer.failure and closing.done() else answer

    def _ask_one(self, address: Address, client: redis.Redis) -> Answer:
        """One Sentinel's answer about the service; never raises for a network or reply problem."""
        name = self.config.service_name
        try:
            pipe = client.pipeline(transaction=False)
            for subcommand in ("MASTER", "REPLICAS", "SENTINELS"):
                command(pipe, "SENTINEL", subcommand, name)
            command(pipe, "SENTINEL", "MYID")  # Redis 6.2+; older Sentinels answer an error
            master, replicas, others, myid = pipe.execute(raise_on_error=False)
            for reply in (master, replicas, others):
                if isinstance(reply, Exception):
                    raise reply
        except redis.RedisError as error:
            failure, reason = classify(error)
            if failure == "unknown_service":
                return self._unknown_service(address, client)
            if failure == "auth":
                reason = f"authentication failed for Sentinel {address}"
            elif failure == "permission":
                reason = scrub(str(error))
            elif failure == "tls":
                reason = f"Sentinel {address}: {reason}"
            return Answer(address, failure=failure, reason=reason)
        except _CUT_UNDER_US:
            return Answer.cut(address)
        sentinel_id = myid if isinstance(myid, str) else None
        return decisions.parse_answer(
            address,
            sentinel_id,
            master,
            replicas,
            others,
            translate=self.config.nat.translate,
            min_other_sentinels=self.config.min_other_sentinels,
        )

    def _unknown_service(self, address: Address, client: redis.Redis) -> Answer:
        try:
            masters = command(client, "SENTINEL", "MASTERS")
            monitored = tuple(sorted(decisions.fields(entry)["name"] for entry in masters))
        except redis.RedisError:
            monitored = ()
        listed = ", ".join(map(repr, monitored)) or "nothing"
        return Answer(
            address,
            failure="unknown_service",
            reason=f"does not monitor {self.config.service_name!r} (it monitors {listed})",
            monitored=monitored,
        )

    def _note(self, answer: Answer) -> None:
        """Take an answer in; log a Sentinel going bad or coming back, once per change."""
        if answer.closed:
            return
        with self._lock:
            self._switches.note_answer(answer)
            was_failing = answer.sentinel in self._failing
            if answer.failure is None:
                self._failing.discard(answer.sentinel)
            else:
                self._failing.add(answer.sentinel)
        if answer.failure is not None and not was_failing:
            logger.warning(
                "Sentinel %s gives no answer for service %r: %s",
                answer.sentinel,
                self.config.service_name,
                answer.reason,
                extra=_fields("sentinel_unanswering", self.config, answer.sentinel),
            )
        elif answer.failure is None and was_failing:
            logger.info(
                "Sentinel %s answers again for service %r",
                answer.sentinel,
                self.config.service_name,
                extra=_fields("sentinel_answering", self.config, answer.sentinel),
            )

    # --- deciding -------------------------------------------------------------------------------

    def _verify_master(self, address: Address, client: redis.Redis) -> str | None:
        """None if ``address`` says it is a master (asked on ``client``), else why it is not."""

        def ask(*args: str) -> Any:
            return command(client, *args)

        try:
            try:
                role = server_role(ask)
            except (redis.TimeoutError, redis.AuthenticationError):
                raise
            except redis.ConnectionError:
                # The pooled socket may predate a restart of that server: ask once more on a
                # fresh one. (Not after a timeout: that would double what a dead host costs.)
                # Only idle sockets are dropped: another thread may be asking on its own.
                client.connection_pool.disconnect(inuse_connections=False)
                role = server_role(ask)
        except redis.RedisError as error:
            translated = translate(
                error, server=address, role=f"master of {self.config.service_name!r}"
            )
            if translated is not error:
                raise translated from None
            return classify(error)[1]
        except _CUT_UNDER_US as error:
            return f"closed while asking: {error}"
        if role != MASTER:
            return f"is not a master: it says it is a {'replica' if role == REPLICA else role}"
        return None

    def _topology(
        self, master: Address, answers: dict[Address, Answer], sentinels: Sequence[Address]
    ) -> Topology:
        """The topology of the verified ``master``; the Sentinels it teaches are asked next."""
        topology, self._learned = decisions.topology(
            master,
            answers,
            service_name=self.config.service_name,
            sentinels=sentinels,
            configured=self.config.sentinels,
        )
        return topology

    def _failure(self, answers: dict[Address, Answer], tried: dict[Address, str]) -> Exception:
        return decisions.no_master_error(answers, tried, service_name=self.config.service_name)


class _Collection:
    """The answers of one lookup, as the asking threads deliver them."""

    def __init__(self, discovery: Discovery, asked: dict[Address, Future[Answer]]) -> None:
        self._discovery = discovery
        self._pending = {future: address for address, future in asked.items()}
        self._closing = discovery._closing
        self._asked = len(asked)
        self._answers: dict[Address, Answer] = {}
        config = discovery.config
        # Connect, then read: the worst a Sentinel can cost; a small margin for scheduling.
        budget = config.sentinel_connect_timeout + config.sentinel_socket_timeout + 0.1
        self._deadline = time.monotonic() + budget

    @property
    def finished(self) -> bool:
        return not self._pending or time.monotonic() >= self._deadline

    def until_majority(self) -> dict[Address, Answer]:
        """Answers until a majority agree on a master, everyone answered, or time is up."""
        return self._collect(stop_at_majority=True)

    def all(self) -> dict[Address, Answer]:
        """Answers until everyone answered or time is up; silent Sentinels count as unreachable."""
        return self._collect(stop_at_majority=False)

    def _collect(self, *, stop_at_majority: bool) -> dict[Address, Answer]:
        while self._pending:
            fresh = self._discovery._switches.fresh(self._answers)
            if stop_at_majority and decisions.has_majority(fresh.values(), self._asked):
                return dict(self._answers)
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                break
            waited: list[Future[Any]] = [*self._pending, self._closing]
            done, _ = wait(waited, timeout=remaining, return_when=FIRST_COMPLETED)
            if self._closing in done:
                for address in self._pending.values():
                    closed = Answer.cut(address)
                    self._answers[address] = closed
                self._pending = {}
                break
            for future in done:
                address = self._pending.pop(future)
                # Cancelled: Discovery.close() while asking. Otherwise _ask_pooled raises only for
                # a bug or strict NAT.
                answer = Answer.cut(address) if future.cancelled() else future.result()
                self._discovery._note(answer)
                self._answers[answer.sentinel] = answer
        if self._pending:
            self._deadline = 0.0
            for address in self._pending.values():
                silent = Answer(address, failure="unreachable", reason="no answer in time")
                self._discovery._note(silent)
                self._answers[address] = silent
            self._pending = {}
        return dict(self._answers)


def _verifier(config: SentinelConfig, address: Address) -> redis.Redis:
    """A connection to ask a master candidate its role (RESP2: one shape of reply)."""
    return redis_client(config, address, protocol=2)


def _fields(event: str, config: SentinelConfig, sentinel: Address) -> dict[str, str]:
    """A log record's ``extra=`` fields (docs/operations.md, "Log events")."""
    return {"event": event, "service": config.service_name, "sentinel": str(sentinel)}
