"""`Flight`: what a connection has in flight, and what to raise when its reply never comes.

The sync connection (`vedette.client.connection`) and the async one (`vedette.asyncio`) keep one
`Flight` each and do the I/O; every decision about a command in flight is made here, once:

- which commands change what the connection waits for (``SUBSCRIBE``: messages come when they
  come; ``WATCH``: a reconnect would silently drop it);
- after ``socket_timeout`` without a reply, whether to wait on (the server is still in charge),
  give up, or fail (the master switched);
- what a lost reply is raised as: a retryable error when the master switched away, an
  `OutcomeUnknownError` when a pop (or script) may have run, a `FailoverTimeout` when the reply
  never came in time.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import redis

from vedette.client.commands import FOREVER, blocking_seconds, hands_over_data
from vedette.errors import FailoverTimeout, OutcomeUnknownError
from vedette.retry import deadline_for

if TYPE_CHECKING:
    from vedette.address import Address
    from vedette.config.sentinel_config import SentinelConfig
    from vedette.sentinel.watcher import FailoverWatcher

__all__ = [
    "Flight",
    "Switched",
    "Verdict",
    "describe",
    "on_switch",
    "promotion_timeout",
    "role_mismatch",
    "seen_at_connect",
    "switched_while_watching",
    "unsent_error",
]

logger = logging.getLogger("vedette.client")

Verdict = Literal["wait", "give up", "fail"]
Switched = Literal["stay", "move", "restart"]

# Commands that change what a connection is waiting for: checked on every send, so in the
# spellings redis-py and people use rather than normalised.
_SUBSCRIBING = frozenset({"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR"})
_WATCH_ON, _WATCH_OFF = frozenset({"WATCH"}), frozenset({"UNWATCH", "EXEC", "DISCARD"})
_SPECIAL = frozenset(
    spelling
    for word in _SUBSCRIBING | _WATCH_ON | _WATCH_OFF
    for spelling in (word, word.lower(), word.encode(), word.lower().encode())
)


class Flight:
    """The commands of one connection between being packed and their replies being read."""

    __slots__ = ("_watching_next", "config", "pending", "sent", "subscribed", "watching")

    def __init__(self, config: SentinelConfig) -> None:
        self.config = config
        self.pending: Any = ()
        """The command (a tuple) or pipeline (a list) being sent."""
        self.sent: Any = ()
        """... and once written: the one whose replies are being read."""
        self.subscribed = False
        """In pub/sub or monitor mode: replies come when they come."""
        self.watching = False
        """Keys are WATCHed: a reconnect would silently drop that."""
        self._watching_next: bool | None = None  # ... once the command being sent is written

    def connected(self) -> None:
        """A new socket: nothing subscribed or watched on it yet."""
        self.subscribed = self.watching = False

    def command(self, args: tuple[Any, ...]) -> None:
        """One command is about to be sent."""
        self.pending = args
        if args and args[0] in _SPECIAL:
            self._note(args[0])

    def pipeline(self, commands: list[Any]) -> None:
        """A pipeline is packed; a transaction ends with EXEC, which ends its WATCH."""
        self.pending = commands
        if commands and commands[-1] and commands[-1][0] in _SPECIAL:
            self._note(commands[-1][0])

    def _note(self, name: str | bytes) -> None:
        word = (name.decode() if isinstance(name, bytes) else name).upper()
        if word in _SUBSCRIBING:
            self.subscribed = True
        elif word in _WATCH_ON:
            self._watching_next = True
        elif word in _WATCH_OFF:
            self._watching_next = False

    def take(self) -> tuple[Any, bool | None]:
        """Before sending (and before a reconnect's handshake sends anything): what is sent."""
        taken = self.pending, self._watching_next
        self._watching_next = None
        return taken

    def written(self, taken: tuple[Any, bool | None]) -> None:
        """What `take` returned is written: its replies are the ones read from now on."""
        self.sent, watching_next = taken
        if watching_next is not None:
            self.watching = watching_next

    def patience(self) -> float:
        """How long the command in flight may take: retry_deadline, plus its own block time."""
        blocking = max((blocking_seconds(c) or 0.0 for c in _commands(self.sent)), default=0.0)
        return deadline_for(self.config) + blocking

    def late(
        self,
        waited: float,
        *,
        handshaking: bool,
        own_timeout: bool,
        replaced: bool,
        describe: str,
        address: Address,
    ) -> Verdict:
        """After ``waited`` seconds without a reply: wait on, give up, or fail.

        Args:
            waited: Seconds since the command was sent (at least ``socket_timeout``).
            handshaking: The connection is being set up: nothing of the caller's is pending.
            own_timeout: The caller gave the read its own timeout.
            replaced: The master switched since the connection resolved its server.
            describe: What the server is ("master of 'mymaster'"), for the log line.
            address: The server.
        """
        if handshaking or own_timeout or replaced:
            return "fail"
        limit = FOREVER if self.subscribed else self.patience()
        if waited >= limit:
            return "give up"
        logger.debug(
            "no reply from %s for %.1f s; it is still the %s: waiting for it (at most %s)",
            address,
            waited,
            describe,
            "forever" if limit == FOREVER else f"{limit:g} s",
        )
        return "wait"

    def lost(
        self, failure: redis.RedisError, *, cut: bool, gave_up: bool, address: Address
    ) -> redis.RedisError:
        """The error to raise for a reply that will never come.

        Args:
            failure: The connection or timeout error the read ended with.
            cut: The master switched away from the server (its socket was cut).
            gave_up: `late` said to give up.
            address: The server.
        """
        if cut:
            error: redis.RedisError = redis.ConnectionError(
                f"the master of {self.config.service_name!r} switched away from {address} "
                "before its reply came; the command runs again on the new master"
            )
        elif self.subscribed:
            return failure
        elif (popped := hands_over_data(_commands(self.sent))) is not None:
            error = OutcomeUnknownError(
                f"{popped} was sent to {address} but the connection broke before its "
                f"reply ({failure}): it may have run, so it is not retried (a retry could lose "
                "what it took)",
                command=popped,
            )
        elif gave_up:
            error = FailoverTimeout(
                f"no reply from {address} in {self.patience():g} s (retry_deadline, plus "
                "what the command blocks for): it may still run, so it is not retried",
                deadline=self.config.retry_deadline,
                attempts=1,
            )
        else:
            return failure
        error.__cause__ = failure
        return error


def unsent_error(error: redis.RedisError, pending: Any, address: Address) -> redis.RedisError:
    """Writing ``pending`` failed with ``error``: nothing ran, unless a pipeline got part-way."""
    popped = hands_over_data(pending) if isinstance(pending, list) else None
    if popped is None:
        return error
    unknown = OutcomeUnknownError(
        f"a pipeline holding {popped} broke part-way while being sent to {address} "
        f"({error}): some of it may have run, so it is not retried",
        command=popped,
    )
    unknown.__cause__ = error
    return unknown


def switched_while_watching(config: SentinelConfig) -> redis.ConnectionError:
    """The master switched under a ``WATCH``: redis-py turns this into a `WatchError`."""
    return redis.ConnectionError(
        f"the master of {config.service_name!r} switched while keys were "
        "WATCHed: the transaction must start again"
    )


def role_mismatch(address: Address, describe: str, role: str) -> redis.ConnectionError:
    """The server at ``address`` reported ``role``, not the one it was connected as."""
    said = "replica" if role == "slave" else role
    return redis.ConnectionError(
        f"{address} is not the {describe} (it says it is a {said}); asking the Sentinels again"
    )


def promotion_timeout(config: SentinelConfig, deadline: float) -> FailoverTimeout:
    """Commands were held for a promotion that did not end within ``deadline`` seconds."""
    return FailoverTimeout(
        f"a replica of {config.service_name!r} was still being promoted after "
        f"{deadline:g} s; commands were held meanwhile",
        deadline=deadline,
        attempts=1,
    )


def on_switch(address: Address, master: Address | None, *, watching: bool) -> Switched:
    """What a connected master connection does once it learns the master switched.

    ``"stay"``: it reached the new master while the switch was being announced; reconnecting
    would cut what a caller keeps about the socket (kombu's event loop registers it before
    sending BRPOP). ``"move"``: reconnect, to the new master. ``"restart"``: keys were WATCHed on
    the old master: the transaction must start again (`switched_while_watching`).
    """
    if address == master and not watching:
        return "stay"
    return "restart" if watching else "move"


def seen_at_connect(watcher: FailoverWatcher) -> int:
    """The watcher version a new connection starts from.

    While a replica is being promoted, none: its first command must see the promotion and be
    held, like every other connection's (a connection opened meanwhile, as a pool opens them
    under load, would otherwise write to the master being replaced).
    """
    version = watcher.version  # read first: a promotion starting after it changes the version
    return -1 if watcher.promoting else version


def describe(config: SentinelConfig, expected: str) -> str:
    """What a connection expecting the role ``expected`` talks to: "master of 'mymaster'"."""
    role = "replica" if expected == "slave" else "master"
    return f"{role} of {config.service_name!r}"


def _commands(sent: Any) -> list[Any]:
    return sent if isinstance(sent, list) else [sent]
