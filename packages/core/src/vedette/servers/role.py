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

from collections.abc import Callable, Generator, Mapping
from typing import Any

import redis

__all__ = ["MASTER", "REPLICA", "role_dialogue", "role_from_handshake", "server_role"]

MASTER, REPLICA = "master", "slave"
"""The roles as ``ROLE`` names them (``HELLO`` says ``replica`` for ``slave``)."""


Question = tuple[str, ...]
RoleDialogue = Generator[Question, Any, str]


def role_dialogue() -> RoleDialogue:
    """The questions that find a server's role, without I/O: the sync and the async clients'.

    Yields each command to send; is sent its reply, or thrown its error reply. Returns the role,
    `MASTER` or `REPLICA` (or another word the server said).

    Raises:
        redis.exceptions.NoPermissionError: The user may run neither ``HELLO`` nor ``ROLE``.
    """
    try:
        role = _role_in((yield ("HELLO",)))
    except redis.exceptions.NoPermissionError:
        raise
    except redis.ResponseError:  # before Redis 6.2: fall back to ROLE
        role = None
    if role is None:
        reply = yield ("ROLE",)
        return _text(reply[0])
    return role


def server_role(ask: Callable[..., Any]) -> str:
    """The server's role (see `role_dialogue`), through ``ask``.

    Args:
        ask: Sends one command and returns its reply (raising an error reply).
    """
    dialogue = role_dialogue()
    question = next(dialogue)
    try:
        while True:
            try:
                reply = ask(*question)
            except redis.ResponseError as error:
                question = dialogue.throw(error)
            else:
                question = dialogue.send(reply)
    except StopIteration as done:
        role: str = done.value
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
