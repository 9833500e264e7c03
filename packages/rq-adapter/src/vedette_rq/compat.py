"""The RQ versions this adapter supports, checked when it is imported."""

from __future__ import annotations

import itertools

from rq.version import VERSION

__all__ = ["SUPPORTED_RQ", "check_rq_version"]

SUPPORTED_RQ = ((2, 0), (4, 0))
"""The RQ versions supported: from the first, up to (not including) the second."""


def check_rq_version(installed: str = VERSION) -> None:
    """Refuse an RQ this adapter was not made for, with a message that says which it needs.

    Args:
        installed: The RQ version to check; the installed one by default.

    Raises:
        ImportError: The version is older than 2.0, or 4.0 or newer.
    """
    lowest, beyond = SUPPORTED_RQ
    major, _, rest = installed.partition(".")
    minor = "".join(itertools.takewhile(str.isdigit, rest)) or "0"
    if not major.isdigit() or not lowest <= (int(major), int(minor)) < beyond:
        wanted = f">={lowest[0]}.{lowest[1]},<{beyond[0]}.{beyond[1]}"
        raise ImportError(
            f"vedette-rq supports rq >= {lowest[0]}.{lowest[1]}, < {beyond[0]}.{beyond[1]}; "
            f"rq {installed} is installed (pip install 'rq{wanted}')"
        )
