"""What an error means: the one place where redis-py's exceptions become Vedette's decisions.

Everything that talks to a server, retries or reports asks here: discovery (each Sentinel's
answer, the master's role), the clients' connections, the watcher, `ensure_call`, the
``vedette`` command, and the adapters (through `vedette.is_retryable` and `vedette.is_failover`).

==================================== ============== ========= ========= =========================
Error                                Kind           Retried   Failover  Why
                                     (`classify`)   (`is_     (`is_
                                                    retryable`) failover`)
==================================== ============== ========= ========= =========================
connection refused, reset, timed out unreachable    yes       yes       the master is away
``READONLY``, ``LOADING``,           error          yes       yes       not executed: the
``MASTERDOWN``, ``UNBLOCKED`` replies                                   topology is changing
`MasterNotFoundError`,               --             yes       yes       no master named yet
`SentinelsUnreachableError`
`OutcomeUnknownError`                --             no        yes       a pop's reply was lost:
                                                                        it may have run
`FailoverTimeout`                    --             no        yes       it already waited its
                                                                        deadline
refused password                     auth           no        no        a setting must change
untrusted TLS certificate            tls            no        no        a setting must change
``NOPERM`` reply                     permission     no        no        an ACL must change
`ServiceNotFoundError`               unknown_service no       no        a wrong service name
`NotReplicatedError`,                --             no        no        said once, to the caller
`ConfigurationError`, `CalledBack`,
a full connection pool
any other error reply or exception   error          no        no        not a failover's
==================================== ============== ========= ========= =========================

Three traps make this module necessary:

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
from vedette.errors import (
    AuthenticationError,
    ConfigurationError,
    FailoverTimeout,
    MasterNotFoundError,
    NoPermissionError,
    NotReplicatedError,
    OutcomeUnknownError,
    ServiceNotFoundError,
    VedetteError,
)
from vedette.process.reentry import CalledBack

__all__ = [
    "Failure",
    "classify",
    "is_failover",
    "is_retryable",
    "permission_denied",
    "scrub",
    "translate",
    "untrusted_certificate",
]

Failure: TypeAlias = Literal["auth", "tls", "permission", "unreachable", "unknown_service", "error"]

# Sentinel's reply to a SENTINEL subcommand naming a service it does not monitor.
_NO_SUCH_MASTER = "no such master with that name"
# Valkey's (and newer Redis's) NOPERM replies name the user: "User app has no permissions ...".
_USER_NAMED = re.compile(r"\bUser \S+ (?=(has|is) )", re.IGNORECASE)


# Error replies that mean "not executed, the topology is changing": Redis prefixes each with
# its code, which redis-py keeps in the message of the errors it has no class for.
_RETRYABLE_REPLIES = ("READONLY", "LOADING", "MASTERDOWN", "UNBLOCKED")

# Never retried, although some derive from redis-py's ConnectionError or TimeoutError: a fix of
# the configuration is needed, the outcome of the first attempt is unknown, or it already
# waited its deadline.
_FINAL = (
    AuthenticationError,
    redis.AuthenticationError,
    NoPermissionError,
    ServiceNotFoundError,
    OutcomeUnknownError,
    FailoverTimeout,
    NotReplicatedError,
    ConfigurationError,
    CalledBack,
    redis.exceptions.MaxConnectionsError,
)


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` is one a failover causes, so another attempt may succeed.

    Retryable: connection errors and timeouts, ``READONLY``, ``LOADING``, ``MASTERDOWN`` and
    ``UNBLOCKED`` replies, and `MasterNotFoundError` (`SentinelsUnreachableError` included).
    Not retryable: authentication failures, `ServiceNotFoundError` (a wrong service name does
    not fix itself), `OutcomeUnknownError` (a pop that may have run), `FailoverTimeout`,
    `NotReplicatedError`, `ConfigurationError`, a full connection pool, and every other error.
    """
    if isinstance(error, _FINAL):
        return False
    if isinstance(error, MasterNotFoundError):
        return True
    if isinstance(error, redis.ConnectionError | redis.TimeoutError | redis.ReadOnlyError):
        return True
    if isinstance(error, redis.ResponseError):
        # redis-py 6+ has a class for MASTERDOWN and strips the code from its message.
        masterdown = type(error).__name__ == "MasterDownError"
        return masterdown or str(error).startswith(_RETRYABLE_REPLIES)
    return False


def is_failover(error: BaseException) -> bool:
    """Whether ``error`` says the master was away, as opposed to wrong settings or a bug.

    Every retryable error (`is_retryable`), and two that are not retried: `OutcomeUnknownError`
    (a reply lost to a failover) and `FailoverTimeout` (a failover outlasted the deadline). What
    a framework does with a failover's error (wait, re-arm a consumer, log and go on) is the
    adapter's; an error that is not a failover's is a fault to report.
    """
    return is_retryable(error) or isinstance(error, OutcomeUnknownError | FailoverTimeout)


def retry_reason(error: BaseException) -> str:
    """A retryable error's kind, as the label of ``vedette.commands.retried``.

    ``connection`` (refused, reset, cut by a switch), ``timeout``, ``readonly`` (a write reached
    a demoted master), ``no_master`` (the Sentinels named none yet), ``reply`` (``LOADING``,
    ``MASTERDOWN``, ``UNBLOCKED``), ``outcome_unknown`` (retried by an idempotent call).
    """
    if isinstance(error, MasterNotFoundError):
        return "no_master"
    if isinstance(error, OutcomeUnknownError):
        return "outcome_unknown"
    if isinstance(error, redis.ReadOnlyError):
        return "readonly"
    if isinstance(error, redis.TimeoutError):
        return "timeout"
    if isinstance(error, redis.ConnectionError):
        return "connection"
    return "reply"


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
