"""Every error Vedette raises, in one tree.

```
VedetteError
├── ConfigurationError (ValueError)               a setting is invalid: raised at start-up
├── AuthenticationError (redis.AuthenticationError)  credentials or TLS certificate refused
├── NoPermissionError (redis NoPermissionError)   the ACL user may not run a command or touch a key
├── MasterNotFoundError (redis.ConnectionError)   no usable master: says what each Sentinel said
│   ├── ServiceNotFoundError                      no reachable Sentinel monitors the service
│   └── SentinelsUnreachableError                 no Sentinel answered at all
├── OutcomeUnknownError (redis.ConnectionError)   a pop's reply was lost: it may have run
├── FailoverTimeout (redis.TimeoutError)          still failing when the deadline passed
└── NotReplicatedError (redis.RedisError)         a write not confirmed by wait_replicas replicas
```

An error that leaves a Redis call is both Vedette's and redis-py's: code written for redis-py
(``except redis.ConnectionError``, as Celery, Dramatiq and RQ do) keeps working, and code that
knows Vedette can tell the cases apart. None is an ``OSError``. The same fault raises the same
type from `vedette.discover`, `vedette.connect`, `vedette.connect_replica`, `vedette.ensure_call`
and the ``vedette`` command; `vedette.is_retryable` says which are retried (never
`AuthenticationError`, `NoPermissionError`, `ServiceNotFoundError`, `OutcomeUnknownError`,
`FailoverTimeout`, `NotReplicatedError` or `ConfigurationError`).

Messages name the setting or the address involved, never a password or an ACL user name.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "FailoverTimeout",
    "MasterNotFoundError",
    "NoPermissionError",
    "NotReplicatedError",
    "OutcomeUnknownError",
    "SentinelsUnreachableError",
    "ServiceNotFoundError",
    "VedetteError",
]


class VedetteError(Exception):
    """Base class of every error Vedette raises."""


class ConfigurationError(VedetteError, ValueError):
    """A setting is missing or invalid.

    The message starts with the name of the offending setting, as the user wrote it
    (for example ``sentinels``, ``MASTER_NAME`` or ``sentinel_kwargs.socket_timeout``).
    """

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class AuthenticationError(VedetteError, redis.AuthenticationError):
    """Redis or the Sentinels refused the configured credentials, or TLS refused them.

    Raised when every Sentinel that could be reached refused ``sentinel_username`` /
    ``sentinel_password``, when the master or a replica refused ``username`` / ``password``, or
    when a TLS certificate is not trusted (``ssl_ca_certs``). Retrying does not help: the
    configuration must be fixed. Like redis-py's, it is a ``redis.ConnectionError`` too.
    """


class NoPermissionError(VedetteError, redis.exceptions.NoPermissionError):
    """A Redis node or a Sentinel refused a command, key or channel to the configured ACL user.

    Raised at once, never retried: the server's ACL rules must change (or the configuration name
    another user). The message says which server refused what (``NOPERM`` reply), without the
    user's name. Like redis-py's, it is a ``redis.ResponseError``.

    Vedette itself needs nothing outside ``+@all -@dangerous -@admin`` on Redis: it checks a
    server's role with ``HELLO``, not ``ROLE``.
    """


class MasterNotFoundError(VedetteError, redis.ConnectionError):
    """No usable master could be found for the service.

    Attributes:
        service_name: The service (master) name that was looked up.
        answers: What each Sentinel said, keyed by ``host:port``: the master it named, or why it
            gave no usable answer (unreachable, timed out, authentication failed ...).
    """

    def __init__(self, message: str, *, service_name: str, answers: Mapping[str, str]) -> None:
        details = "".join(
            f"\n  Sentinel {address}: {answer}" for address, answer in answers.items()
        )
        super().__init__(message + details)
        self.service_name = service_name
        self.answers = dict(answers)


class ServiceNotFoundError(MasterNotFoundError):
    """No reachable Sentinel monitors the service name: most likely a typo in ``service_name``.

    Attributes:
        monitored: The service names the reachable Sentinels do monitor.
    """

    def __init__(
        self,
        message: str,
        *,
        service_name: str,
        answers: Mapping[str, str],
        monitored: tuple[str, ...],
    ) -> None:
        super().__init__(message, service_name=service_name, answers=answers)
        self.monitored = monitored


class SentinelsUnreachableError(MasterNotFoundError):
    """No Sentinel could be reached: all down, or cut off from this process.

    A client that already knows a master keeps using it, with a warning, instead of raising this.
    """


class OutcomeUnknownError(VedetteError, redis.ConnectionError):
    """A command that hands data over was sent, and its reply was lost: it may have run.

    Raised instead of retrying a pop (``BRPOP``, ``LMOVE``, ``ZPOPMIN`` ...) or a script whose
    connection broke after the command was sent: had the server run it, a retry would pop the
    next item and the first would be lost without anyone knowing. Pipelines and transactions
    that hold such a command are treated the same. The caller decides: most consumers simply
    fetch again, and use a reliable pattern (``BLMOVE`` to a processing list) where an item
    must never be lost. See docs/failover.md, "What a retry may repeat".

    Attributes:
        command: The name of the command whose outcome is unknown.
    """

    def __init__(self, message: str, *, command: str) -> None:
        super().__init__(message)
        self.command = command


class FailoverTimeout(VedetteError, redis.TimeoutError):
    """A call kept failing with retryable errors until its deadline passed.

    The last underlying error is chained as ``__cause__``.

    Attributes:
        deadline: The deadline, in seconds.
        attempts: How many attempts were made.
    """

    def __init__(self, message: str, *, deadline: float, attempts: int) -> None:
        super().__init__(message)
        self.deadline = deadline
        self.attempts = attempts


class NotReplicatedError(VedetteError, redis.RedisError):
    """A write reached the master but not ``wait_replicas`` replicas within ``wait_timeout``.

    The write may still be applied (the master has it) or lost (if the master fails before its
    replicas catch up): treat it as not acknowledged. It is not retried automatically.

    Attributes:
        replicas: How many replicas confirmed the write.
        wanted: How many were required (``wait_replicas``).
    """

    def __init__(self, message: str, *, replicas: int, wanted: int) -> None:
        super().__init__(message)
        self.replicas = replicas
        self.wanted = wanted
