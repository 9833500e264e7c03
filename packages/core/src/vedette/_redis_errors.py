"""The boundary where redis-py's exceptions become Vedette's words.

redis-py reports a refused password as ``AuthenticationError``, which *derives from*
``ConnectionError``: anything that retries connection errors must rule authentication out first,
which is why every classification goes through here.
"""

from __future__ import annotations

import ssl
from typing import Literal, TypeAlias

import redis

Failure: TypeAlias = Literal["auth", "tls", "unreachable", "unknown_service", "error"]

# Sentinel's reply to a SENTINEL subcommand naming a service it does not monitor.
_NO_SUCH_MASTER = "no such master with that name"


def classify(error: BaseException) -> tuple[Failure, str]:
    """What went wrong, as a kind and a short reason fit for a log line or an error message."""
    if isinstance(error, redis.AuthenticationError):
        return "auth", "authentication failed"
    if untrusted_certificate(error):
        return "tls", f"its TLS certificate is not trusted ({error}); check ssl_ca_certs"
    if isinstance(error, redis.TimeoutError):
        return "unreachable", f"timed out ({error})"
    if isinstance(error, redis.ConnectionError | OSError):
        return "unreachable", f"unreachable ({error})"
    if isinstance(error, redis.ResponseError) and _NO_SUCH_MASTER in str(error).lower():
        return "unknown_service", "does not monitor this service"
    if isinstance(error, redis.ResponseError):
        return "error", f"error reply ({error})"
    return "error", f"{type(error).__name__}: {error}"


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
