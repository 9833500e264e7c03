"""Which commands write, for ``wait_replicas``: the server says, through ``COMMAND``.

A write is a command flagged ``write`` (for container commands such as ``XGROUP``, the
subcommand's flags count), or a script call (``EVAL``, ``EVALSHA``, ``FCALL``): the server cannot
know whether a script writes, so it is confirmed like a write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["is_write", "write_commands"]

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
