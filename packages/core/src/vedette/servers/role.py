"""What a Redis server says it is, asked without a command an application user may lack.

Vedette checks every server before trusting it: the master the Sentinels name, each new
connection. ``ROLE`` is in ``@admin @dangerous`` and ``INFO`` in ``@dangerous``, which many
production users may not run (``+@all -@dangerous``, as security baselines and managed services
recommend). ``HELLO`` (``@fast @connection``) is allowed to every user, and its reply carries the
server's ``role``: ``master`` or ``replica``, the same answer as ``ROLE``'s first word (which
says ``slave``). A RESP3 connection already has that reply from its handshake: no round trip.

Servers older than 6.2 refuse ``HELLO`` without a protocol version (5.x has no ``HELLO``): they
are asked ``ROLE``, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis

__all__ = ["MASTER", "REPLICA", "role_from_handshake", "server_role"]

MASTER, REPLICA = "master", "slave"
"""The roles as ``ROLE`` names them (``HELLO`` says ``replica`` for ``slave``)."""


def server_role(ask: Callable[..., Any]) -> str:
    """The server's role, `MASTER` or `REPLICA` (or another word it said), through ``ask``.

    Args:
        ask: Sends one command and returns its reply (raising an error reply).

    Raises:
        redis.exceptions.NoPermissionError: The user may run neither ``HELLO`` nor ``ROLE``.
    """
    try:
        role = _role_in(ask("HELLO"))
    except redis.exceptions.NoPermissionError:
        raise
    except redis.ResponseError:  # before Redis 6.2: fall back to ROLE
        role = None
    if role is None:
        reply = ask("ROLE")
        return _text(reply[0])
    return role


def role_from_handshake(metadata: object) -> str | None:
    """The role in the ``HELLO`` reply a RESP3 handshake left, if there is one."""
    return _role_in(metadata)


def _role_in(reply: object) -> str | None:
    """``role`` in a ``HELLO`` reply: a map (RESP3) or a flat list of pairs (RESP2)."""
    if isinstance(reply, list | tuple):
        reply = dict(zip(reply[::2], reply[1::2], strict=False))
    if not isinstance(reply, Mapping):
        return None
    role = reply.get(b"role", reply.get("role"))
    if role is None:
        return None
    word = _text(role)
    return REPLICA if word == "replica" else word


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
