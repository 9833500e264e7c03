"""Every error Vedette raises, in one tree.

```
VedetteError
├── ConfigurationError (ValueError)        a setting is invalid: raised at start-up, before any I/O
├── AuthenticationError (PermissionError)  Redis or the Sentinels refused the credentials
├── MasterNotFoundError (ConnectionError)  no usable master: says what each Sentinel answered
│   ├── ServiceNotFoundError               no reachable Sentinel monitors the service name
│   └── SentinelsUnreachableError          no Sentinel answered at all
├── FailoverTimeout (TimeoutError)         a call kept failing through a failover until its deadline
└── NotReplicatedError                     a write was not confirmed by wait_replicas replicas
```

Each error also derives from the builtin that says what it means, so callers can catch by meaning
(`except ValueError`) without importing Vedette. redis-py's own exceptions never escape to users:
they are translated in one place, `vedette._redis_errors`.

Messages name the setting or the address involved, never a password or an ACL user name.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "FailoverTimeout",
    "MasterNotFoundError",
    "NotReplicatedError",
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


class AuthenticationError(VedetteError, PermissionError):
    """Redis or the Sentinels refused the configured credentials, or TLS refused them.

    Raised when every Sentinel that could be reached refused ``sentinel_username`` /
    ``sentinel_password``, when the master refused ``username`` / ``password``, or when their
    TLS certificates are not trusted (``ssl_ca_certs``). Retrying does not help: the
    configuration must be fixed.
    """


class MasterNotFoundError(VedetteError, ConnectionError):
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


class FailoverTimeout(VedetteError, TimeoutError):
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


class NotReplicatedError(VedetteError):
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
