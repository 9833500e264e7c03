"""The boundary where redis-py's exceptions become Vedette's words.

redis-py reports a refused password as ``AuthenticationError``, which *derives from*
``ConnectionError``: anything that retries connection errors must rule authentication out first,
which is why every classification goes through here.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import redis

Failure: TypeAlias = Literal["auth", "unreachable", "unknown_service", "error"]

# Sentinel's reply to a SENTINEL subcommand naming a service it does not monitor.
_NO_SUCH_MASTER = "no such master with that name"


def classify(error: BaseException) -> tuple[Failure, str]:
    """What went wrong, as a kind and a short reason fit for a log line or an error message."""
    if isinstance(error, redis.AuthenticationError):
        return "auth", "authentication failed"
    if isinstance(error, redis.TimeoutError):
        return "unreachable", f"timed out ({error})"
    if isinstance(error, redis.ConnectionError | OSError):
        return "unreachable", f"unreachable ({error})"
    if isinstance(error, redis.ResponseError) and _NO_SUCH_MASTER in str(error).lower():
        return "unknown_service", "does not monitor this service"
    if isinstance(error, redis.ResponseError):
        return "error", f"error reply ({error})"
    return "error", f"{type(error).__name__}: {error}"
