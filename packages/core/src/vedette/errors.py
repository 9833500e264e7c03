"""Every error Vedette raises, in one tree.

```
VedetteError
├── ConfigurationError (ValueError)        a setting is invalid: raised at start-up, before any I/O
├── AuthenticationError (PermissionError)  Redis or the Sentinels refused the credentials
└── MasterNotFoundError (ConnectionError)  no usable master: says what each Sentinel answered
    └── ServiceNotFoundError               no reachable Sentinel monitors the service name
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
    "MasterNotFoundError",
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
    """Redis or the Sentinels refused the configured credentials.

    Raised when every Sentinel that could be reached refused ``sentinel_username`` /
    ``sentinel_password``, or when the master refused ``username`` / ``password``.
    Retrying does not help: the credentials must be fixed.
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
