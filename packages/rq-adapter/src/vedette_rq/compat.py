"""The RQ versions this adapter supports, checked when it is imported."""

from __future__ import annotations

from rq.version import VERSION

__all__ = ["RQ_VERSION", "SUPPORTED_RQ", "check_rq_version"]

SUPPORTED_RQ = ((2, 0), (4, 0))
"""The RQ versions supported: from the first, up to (not including) the second."""

RQ_VERSION = tuple(int(part) for part in VERSION.split(".")[:2])
"""The installed RQ's (major, minor) version."""


def check_rq_version() -> None:
    """Refuse an RQ this adapter was not made for, with a message that says which it needs.

    Raises:
        ImportError: The installed RQ is older than 2.0, or 4.0 or newer.
    """
    lowest, beyond = SUPPORTED_RQ
    if not lowest <= RQ_VERSION < beyond:
        raise ImportError(
            f"vedette-rq supports rq >= {lowest[0]}.{lowest[1]}, < {beyond[0]}.{beyond[1]}; "
            f"rq {VERSION} is installed"
        )
