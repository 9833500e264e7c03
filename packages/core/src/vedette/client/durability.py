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

if TYPE_CHECKING:
    from vedette.client.connection import SentinelConnection

    _Base = SentinelConnection
else:
    _Base = object

__all__ = ["ConfirmsWrites", "is_write", "write_commands"]

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


class ConfirmsWrites(_Base):
    """A master connection mixin: each batch that writes is followed by ``WAIT``.

    For each batch sent with a WAIT after it, it counts how many of its replies the caller has
    yet to read; the WAIT reply is read, and checked, right after the last. A batch is packed
    before it is sent, and sending may reconnect (which forgets what the old socket owed): it
    counts as owed only once sent.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._before_wait: deque[int] = deque()
        self._packed: list[int] = []
        super().__init__(**kwargs)
        config = type(self).config
        self._wait = ("WAIT", config.wait_replicas, int(config.wait_timeout * 1000))

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
            raise ConfigurationError(
                "wait_replicas",
                f"needs COMMAND to tell writes from reads, which Redis refused: {error}",
            ) from None

    def _confirms(self, commands: list[Any]) -> bool:
        writes = self._hub.writes if self._hub is not None else None
        return writes is not None and any(is_write(args, writes) for args in commands)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send; a batch that carries a WAIT counts as owed once it is on its way."""
        packed, self._packed = self._packed, []
        super().send_packed_command(command, check_health)
        self._before_wait.extend(packed)

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        """Send one command, followed by ``WAIT`` if it writes."""
        if self._handshaking or not self._confirms([args]):
            super().send_command(*args, **kwargs)
            return
        packed = super().pack_commands([args, self._wait])
        self._pending = args
        self._packed.append(1)
        self.send_packed_command(packed, check_health=kwargs.get("check_health", True))

    def pack_commands(self, commands: Any) -> Any:
        """Pack a pipeline, followed by ``WAIT`` if it writes."""
        commands = list(commands)
        if not self._confirms(commands):
            return super().pack_commands(commands)
        packed = super().pack_commands([*commands, self._wait])
        self._pending = commands
        self._note_last(commands)  # what the WAIT follows
        self._packed.append(len(commands))
        return packed

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read a reply; after the last reply of a confirmed batch, read and check its WAIT."""
        if not self._before_wait:
            return super().read_response(*args, **kwargs)
        try:
            reply = super().read_response(*args, **kwargs)
        except redis.ResponseError:
            self._after_reply()  # an error reply is still a reply of the batch
            raise
        self._after_reply()
        return reply

    def _after_reply(self) -> None:
        self._before_wait[0] -= 1
        if self._before_wait[0]:
            return
        self._before_wait.popleft()
        replicas = int(super().read_response())
        wanted = type(self).config.wait_replicas
        if replicas < wanted:
            raise NotReplicatedError(
                f"write to {self.address} confirmed by {replicas} of {wanted} replicas "
                f"within {type(self).config.wait_timeout:g} s (wait_replicas)",
                replicas=replicas,
                wanted=wanted,
            )

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        """Close the socket; replies still owed are gone with it."""
        self._before_wait.clear()
        super().disconnect(*args, **kwargs)
