"""What the master client must know about a command to retry it safely and wait for it rightly.

- **Pops** hand data to the caller and remove it from the server (``LPOP``, ``BRPOP``,
  ``LMOVE``, ``ZPOPMIN``, ``GETDEL``, ``HGETDEL`` ...). If the connection breaks after one was
  sent, the server may have run it: a retry would pop the *next* item, and the first would be
  lost without a trace. So they are never retried after such a failure (`OutcomeUnknownError`).
  Scripts and functions (``EVAL``, ``EVALSHA``, ``FCALL``) count as pops: they may pop. Their
  read-only forms (``EVAL_RO`` ...) do not.
- **Blocking commands** wait on the server for as long as they ask (``BRPOP key 30``,
  ``XREAD BLOCK 5000``, ``WAIT``); a client must not give up on them after ``socket_timeout``.
- **Subscriptions** (``SUBSCRIBE`` ...) put the connection in a mode where it waits for messages
  for as long as it is open.

Commands arrive as redis-py sends them: the name first, as ``str`` or ``bytes``, any case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["FOREVER", "blocking_seconds", "hands_over_data", "name_of", "subscribes"]

FOREVER = float("inf")

_POPS = frozenset(
    {
        "BLMOVE",
        "BLMPOP",
        "BLPOP",
        "BRPOP",
        "BRPOPLPUSH",
        "BZMPOP",
        "BZPOPMAX",
        "BZPOPMIN",
        "GETDEL",
        "HGETDEL",
        "LMOVE",
        "LMPOP",
        "LPOP",
        "RPOP",
        "RPOPLPUSH",
        "SPOP",
        "ZMPOP",
        "ZPOPMAX",
        "ZPOPMIN",
        # Scripts and functions may do any of the above.
        "EVAL",
        "EVALSHA",
        "FCALL",
    }
)
_SUBSCRIBES = frozenset({"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR"})


def name_of(command: Sequence[Any]) -> str:
    """The command's name, upper case (``""`` for an empty command)."""
    if not command:
        return ""
    name = command[0]
    return (name.decode() if isinstance(name, bytes) else str(name)).upper()


def hands_over_data(commands: Sequence[Sequence[Any]]) -> str | None:
    """The name of the first pop (or script) among ``commands``, if any."""
    for command in commands:
        name = name_of(command)
        if name in _POPS:
            return name
    return None


def subscribes(command: Sequence[Any]) -> bool:
    """Whether ``command`` puts its connection in subscription (or monitor) mode."""
    return name_of(command) in _SUBSCRIBES


def blocking_seconds(command: Sequence[Any]) -> float | None:
    """How long ``command`` may block on the server: seconds, `FOREVER`, or None if it does not.

    ``BLPOP``-style commands give their timeout in seconds (``0``: forever), ``XREAD`` /
    ``XREADGROUP`` after ``BLOCK`` in milliseconds, ``WAIT`` / ``WAITAOF`` last, in milliseconds.
    """
    name = name_of(command)
    try:
        if name in ("BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BZPOPMIN", "BZPOPMAX"):
            return _seconds(float(command[-1]))
        if name in ("BLMPOP", "BZMPOP"):
            return _seconds(float(command[1]))
        if name in ("WAIT", "WAITAOF"):
            return _seconds(float(command[-1]) / 1000)
        if name in ("XREAD", "XREADGROUP"):
            words = [_text(word) for word in command]
            if "BLOCK" in words:
                return _seconds(float(words[words.index("BLOCK") + 1]) / 1000)
    except (IndexError, ValueError):
        return None  # malformed: the server will say so
    return None


def _seconds(value: float) -> float:
    return FOREVER if value <= 0 else value


def _text(word: Any) -> str:
    return (word.decode(errors="replace") if isinstance(word, bytes) else str(word)).upper()
