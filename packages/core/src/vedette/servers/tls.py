"""TLS connections that never leave a socket to the garbage collector.

When a server resets a TCP connection before the TLS handshake (a Sentinel or Redis node being
killed while a client dials it, as in every failover drill), CPython's ``SSLContext.wrap_socket``
raises ``ConnectionResetError`` and leaves the ``SSLSocket`` it made open: the plain socket was
already detached from its descriptor, so redis-py's clean-up closes nothing
(python/cpython#113280, in the Pythons Vedette supports). The socket lives on in the error's
traceback, and whoever frees it last gets ``ResourceWarning: unclosed <ssl.SSLSocket>``.

`close_left_open` closes it, from the traceback of the error; `SSLConnection` does so for every
TLS connection redis-py makes for Vedette (Sentinels, role checks), and Vedette's own
connections do it in their ``_connect``.
"""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Any

import redis

__all__ = ["SSLConnection", "close_left_open"]


def close_left_open(error: BaseException) -> None:
    """Close the ``SSLSocket`` that ``ssl`` made and left open while raising ``error``."""
    trace: TracebackType | None = error.__traceback__
    while trace is not None:
        frame = trace.tb_frame
        if frame.f_code.co_name == "_create" and frame.f_code.co_filename.endswith("ssl.py"):
            made = frame.f_locals.get("self")
            if isinstance(made, ssl.SSLSocket) and made.fileno() != -1:
                made.close()
        trace = trace.tb_next


class SSLConnection(redis.SSLConnection):
    """redis-py's TLS connection, closing what ``ssl`` leaves open when the dial fails."""

    def _connect(self) -> Any:
        try:
            return super()._connect()  # type: ignore[no-untyped-call, unused-ignore]
        except BaseException as error:
            close_left_open(error)
            raise
