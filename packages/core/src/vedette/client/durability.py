"""``wait_replicas``: a ``WAIT`` after every batch of commands that writes.

Which commands write, the server says, through ``COMMAND``: a command flagged ``write`` (for
container commands such as ``XGROUP``, the subcommand's flags count), or a script call (``EVAL``,
``EVALSHA``, ``FCALL``): the server cannot know whether a script writes, so it is confirmed like
a write.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import redis

from vedette.errors import ConfigurationError, NotReplicatedError
from vedette.metrics.instruments import WAIT_CONFIRMED, WAIT_SHORTFALLS

if TYPE_CHECKING:
    from vedette.address import Address
    from vedette.client.connection import SentinelConnection
    from vedette.config.sentinel_config import SentinelConfig

    _Base = SentinelConnection
else:
    _Base = object

__all__ = ["ConfirmsWrites", "WaitLedger", "command_refused", "is_write", "write_commands"]

_SCRIPT_CALLS = frozenset({"eval", "evalsha", "fcall"})


def _text(value: Any) -> str:
    return (value.decode() if isinstance(value, bytes) else str(value)).lower()


def write_commands(reply: Iterable[Sequence[Any]]) -> frozenset[str]:
    """Names of the write commands in a raw ``COMMAND`` reply (``"xgroup|create"`` form too)."""
    names: set[str] = set()
    for entry in reply:
        entries = [entry, *(entry[9] if len(entry) > 9 and entry[9] else [])]
        names.update(_text(item[0]) for item in entries if "write" in map(_text, item[2]))
    return frozenset(names | _SCRIPT_CALLS)


def is_write(args: Sequence[Any], writes: frozenset[str]) -> bool:
    """Whether the command ``args`` (name first) writes."""
    if not args:
        return False
    name = _text(args[0])
    if name in writes:
        return True
    return len(args) > 1 and f"{name}|{_text(args[1])}" in writes


class WaitLedger:
    """Which replies a connection owes before a ``WAIT`` reply, and what that reply must say.

    For each batch sent with a WAIT after it, it counts how many of its replies the caller has
    yet to read; the WAIT reply is read, and checked, right after the last. A batch is packed
    before it is sent, and sending may reconnect (which forgets what the old socket owed): it
    counts as owed only once sent. The sync (`ConfirmsWrites`) and async connections share it.
    """

    __slots__ = ("_before_wait", "_config", "_packed", "wait")

    def __init__(self, config: SentinelConfig) -> None:
        self._config = config
        self._before_wait: deque[int] = deque()
        self._packed: list[int] = []
        self.wait = ("WAIT", config.wait_replicas, int(config.wait_timeout * 1000))
        """The command that follows every batch that writes."""

    @staticmethod
    def confirms(commands: list[Any], writes: frozenset[str] | None) -> bool:
        """Whether ``commands`` need a WAIT after them (``writes``: the write commands known)."""
        return writes is not None and any(is_write(args, writes) for args in commands)

    def packed(self, replies: int) -> None:
        """A batch of ``replies`` commands, with a WAIT after it, is packed."""
        self._packed.append(replies)

    def take_packed(self) -> list[int]:
        """Before sending: the batches packed since the last send."""
        packed, self._packed = self._packed, []
        return packed

    def sent(self, packed: list[int]) -> None:
        """The batches `take_packed` returned are on their way: their replies are owed."""
        self._before_wait.extend(packed)

    @property
    def owed(self) -> bool:
        """Whether a WAIT reply is still to be read after some replies."""
        return bool(self._before_wait)

    def replied(self) -> bool:
        """One reply of the oldest batch was read: True if its WAIT reply comes next."""
        self._before_wait[0] -= 1
        if self._before_wait[0]:
            return False
        self._before_wait.popleft()
        return True

    def check(self, replicas: int, address: Address) -> None:
        """The WAIT reply said ``replicas``.

        Raises:
            NotReplicatedError: Fewer replicas than ``wait_replicas`` confirmed the write.
        """
        wanted = self._config.wait_replicas
        if replicas >= wanted:
            WAIT_CONFIRMED.add(service=self._config.service_name)
        else:
            WAIT_SHORTFALLS.add(service=self._config.service_name)
            raise NotReplicatedError(
                f"write to {address} confirmed by {replicas} of {wanted} replicas "
                f"within {self._config.wait_timeout:g} s (wait_replicas)",
                replicas=replicas,
                wanted=wanted,
            )

    def clear(self) -> None:
        """The socket closed: the replies it owed are gone with it."""
        self._before_wait.clear()


def command_refused(error: redis.ResponseError) -> ConfigurationError:
    """``COMMAND`` was refused: ``wait_replicas`` cannot tell writes from reads."""
    return ConfigurationError(
        "wait_replicas",
        f"needs COMMAND to tell writes from reads, which Redis refused: {error}",
    )


class ConfirmsWrites(_Base):
    """A master connection mixin: each batch that writes is followed by ``WAIT`` (`WaitLedger`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ledger = WaitLedger(type(self).config)

    def _ready(self) -> None:
        """Learn once, per hub, which commands write (``COMMAND``)."""
        super()._ready()
        hub = self._hub
        if hub is None or hub.writes is not None:
            return
        self.send_command("COMMAND")  # while handshaking: sent as is, no WAIT after it
        try:
            hub.writes = write_commands(self.read_response())
        except redis.ResponseError as error:
            raise command_refused(error) from None

    def _confirms(self, commands: list[Any]) -> bool:
        return self._ledger.confirms(commands, self._hub.writes if self._hub else None)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send; a batch that carries a WAIT counts as owed once it is on its way."""
        packed = self._ledger.take_packed()
        super().send_packed_command(command, check_health)
        self._ledger.sent(packed)

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        """Send one command, followed by ``WAIT`` if it writes."""
        if self._handshaking or not self._confirms([args]):
            super().send_command(*args, **kwargs)
            return
        packed = super().pack_commands([args, self._ledger.wait])
        self.flight.command(args)
        self._ledger.packed(1)
        self.send_packed_command(packed, check_health=kwargs.get("check_health", True))

    def pack_commands(self, commands: Any) -> Any:
        """Pack a pipeline, followed by ``WAIT`` if it writes."""
        commands = list(commands)
        if not self._confirms(commands):
            return super().pack_commands(commands)
        packed = super().pack_commands([*commands, self._ledger.wait])
        self.flight.pipeline(commands)  # what the WAIT follows
        self._ledger.packed(len(commands))
        return packed

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; after the last reply of a confirmed batch, read and check its WAIT."""
        if not self._ledger.owed:
            return super().read_response(*args, **kwargs)
        try:
            reply = super().read_response(*args, **kwargs)
        except redis.ResponseError:
            self._after_reply()  # an error reply is still a reply of the batch
            raise
        self._after_reply()
        return reply

    def _after_reply(self) -> None:
        if self._ledger.replied():
            self._ledger.check(int(super().read_response()), self.address)

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        """Close the socket; replies still owed are gone with it."""
        self._ledger.clear()
        super().disconnect(*args, **kwargs)
