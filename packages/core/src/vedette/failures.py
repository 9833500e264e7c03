"""The one boundary where redis-py's exceptions become Vedette's words.

Everything that talks to a server asks here what an error means: discovery (for each Sentinel's
answer and the ``ROLE`` check), the connections of the clients (on connect), the watcher and the
``vedette`` command. Two things make it necessary:

- redis-py reports a refused password as ``AuthenticationError``, which *derives from*
  ``ConnectionError``: anything that retries connection errors must rule authentication out first.
- An untrusted TLS certificate arrives as a ``ConnectionError`` wrapping ``ssl`` errors; like a
  refused password it never heals, so it becomes `vedette.AuthenticationError` too.
- A command, key or channel the ACL user may not use is a ``NOPERM`` reply: it never heals
  either (`vedette.NoPermissionError`). Valkey names the user in that reply ("User app has no
  permissions ..."): user names never reach a message (`scrub`).
"""

from __future__ import annotations

import re
import ssl
from typing import Literal, TypeAlias

import redis

from vedette.address import Address
from vedette.errors import AuthenticationError, NoPermissionError, VedetteError

Failure: TypeAlias = Literal["auth", "tls", "permission", "unreachable", "unknown_service", "error"]

# Sentinel's reply to a SENTINEL subcommand naming a service it does not monitor.
_NO_SUCH_MASTER = "no such master with that name"
# Valkey's (and newer Redis's) NOPERM replies name the user: "User app has no permissions ...".
_USER_NAMED = re.compile(r"\bUser \S+ (?=(has|is) )", re.IGNORECASE)


def scrub(message: str) -> str:
    """``message`` without the user name a server's ``NOPERM`` reply may carry."""
    return _USER_NAMED.sub("this user ", message)


def classify(error: BaseException) -> tuple[Failure, str]:
    """What went wrong, as a kind and a short reason fit for a log line or an error message."""
    if isinstance(error, redis.AuthenticationError):
        return "auth", "authentication failed"
    if untrusted_certificate(error):
        return "tls", f"its TLS certificate is not trusted ({error}); check ssl_ca_certs"
    if isinstance(error, redis.exceptions.NoPermissionError):
        return "permission", f"refused by its ACL ({scrub(str(error))})"
    if isinstance(error, redis.TimeoutError):
        return "unreachable", f"timed out ({error})"
    if isinstance(error, redis.ConnectionError | OSError):
        return "unreachable", f"unreachable ({error})"
    if isinstance(error, redis.ResponseError) and _NO_SUCH_MASTER in str(error).lower():
        return "unknown_service", "does not monitor this service"
    if isinstance(error, redis.ResponseError):
        return "error", f"error reply ({error})"
    return "error", f"{type(error).__name__}: {error}"


def translate(error: BaseException, *, server: Address, role: str) -> BaseException:
    """The error to raise for ``error``, met while connecting to the Redis node ``server``.

    A refused password and an untrusted certificate become `AuthenticationError` naming the
    node and what to check, a ``NOPERM`` reply `NoPermissionError`; Vedette's own errors and
    everything else pass unchanged.

    Args:
        error: What redis-py (or the socket) raised.
        server: The node's address, after NAT.
        role: What the node was expected to be, for the message (``"master of 'svc'"``).
    """
    if isinstance(error, VedetteError):
        return error
    if isinstance(error, redis.AuthenticationError):
        return AuthenticationError(
            f"authentication failed for Redis {server} ({role}); check username and password"
        )
    if untrusted_certificate(error):
        return AuthenticationError(
            f"Redis {server}: its TLS certificate is not trusted ({error}); check ssl_ca_certs"
        )
    if isinstance(error, redis.exceptions.NoPermissionError):
        return permission_denied(str(error), f"Redis {server} ({role})", setting="username")
    return error


def permission_denied(reply: str, server: str, *, setting: str) -> NoPermissionError:
    """A ``NOPERM`` reply from ``server`` as the error to raise: what was refused, what to do.

    Args:
        reply: The server's reply (it names the command, key or channel refused).
        server: Who refused, for the message (``"Redis 10.0.0.5:6379 (master of 'svc')"``).
        setting: The setting naming the user it refused (``username``, ``sentinel_username``).
    """
    return NoPermissionError(
        f"{server} refused the ACL user of {setting}: {scrub(reply)}; grant that permission to "
        "the user (ACL SETUSER), or configure a user that has it"
    )


def untrusted_certificate(error: BaseException) -> bool:
    """Whether ``error`` comes from a server certificate that failed verification.

    Like a refused password, retrying cannot help: the CA (``ssl_ca_certs``) or the server's
    certificate must change. redis-py wraps the ``ssl`` error in a ``ConnectionError``.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error)
