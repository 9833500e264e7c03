"""Which ``redis.Redis`` options a Vedette client takes, and which it drops.

A `SentinelConfig` says where and how to connect: addresses, credentials, TLS, timeouts and
retries. What a client takes besides shapes its replies or its pool (`CLIENT_OPTIONS`). redis-py's
retry options (`RETRY_OPTIONS`) are refused by `vedette.connect` and dropped, with a warning, by
the adapters reading a framework's settings: Vedette retries through failovers itself, and a
second retry layer would repeat pops.
"""

from __future__ import annotations

from collections.abc import Iterable

from vedette.errors import ConfigurationError

__all__ = ["CLIENT_OPTIONS", "RETRY_OPTIONS", "check_client_options"]

CLIENT_OPTIONS = frozenset(
    {
        "client_name",
        "decode_responses",
        "encoding",
        "encoding_errors",
        "health_check_interval",
        "lib_name",
        "lib_version",
        "max_connections",
        "protocol",
        "socket_keepalive",
        "socket_keepalive_options",
    }
)
"""``redis.Redis`` options a Vedette client takes as they are."""

RETRY_OPTIONS = frozenset({"retry", "retry_on_timeout", "retry_on_error"})
"""redis-py's retry options: Vedette's clients retry by themselves, and take none of these."""


def check_client_options(names: Iterable[str]) -> None:
    """Raise for the first of ``names`` a Vedette client does not take.

    Raises:
        ConfigurationError: Naming the option, and the options accepted.
    """
    for name in names:
        if name not in CLIENT_OPTIONS:
            raise ConfigurationError(
                name,
                "is not accepted here: addresses, credentials, TLS, timeouts and retries "
                "come from the SentinelConfig; accepted: " + ", ".join(sorted(CLIENT_OPTIONS)),
            )
