"""The RQ versions this adapter supports, checked when it is imported."""

from __future__ import annotations

from rq.version import VERSION

from vedette import SupportedRange, require_version

__all__ = ["SUPPORTED_RQ", "check_rq_version"]

SUPPORTED_RQ: SupportedRange = ((2, 0), (4, 0))
"""The RQ versions supported: from the first, up to (not including) the second."""


def check_rq_version(installed: str = VERSION) -> None:
    """Refuse an RQ this adapter was not made for, with a message that says which it needs.

    Args:
        installed: The RQ version to check; the installed one by default.

    Raises:
        ImportError: The version is older than 2.0, or 4.0 or newer.
    """
    require_version("rq", installed, SUPPORTED_RQ, by="vedette-rq")
