"""The Dramatiq versions this adapter supports, checked when it is imported.

The broker and the result backend subclass Dramatiq's Redis ones, the consumer its `Consumer`: a
version outside this range would fail in odd ways, or not at once. The range is the package's
dependency (pyproject.toml); a test checks that they agree.
"""

from __future__ import annotations

import re

import dramatiq

__all__ = ["DRAMATIQ_VERSION", "SUPPORTED_DRAMATIQ", "check_dramatiq_version"]

DRAMATIQ_VERSION: str = dramatiq.__version__
"""The installed Dramatiq's version."""

SUPPORTED_DRAMATIQ = ((1, 16), (3, 0))
"""The Dramatiq versions supported: from the first, up to (not including) the second."""


def check_dramatiq_version(installed: str = DRAMATIQ_VERSION) -> None:
    """Refuse a Dramatiq this adapter was not made for, with a message that says which it needs.

    Args:
        installed: The Dramatiq version to check; the installed one by default.

    Raises:
        ImportError: The version is older than 1.16, or 3.0 or newer.
    """
    lowest, beyond = SUPPORTED_DRAMATIQ
    if not lowest <= _major_minor(installed) < beyond:
        wanted = f">={lowest[0]}.{lowest[1]},<{beyond[0]}.{beyond[1]}"
        raise ImportError(
            f"vedette-dramatiq supports dramatiq >= {lowest[0]}.{lowest[1]}, "
            f"< {beyond[0]}.{beyond[1]}; dramatiq {installed} is installed "
            f"(pip install 'dramatiq{wanted}')"
        )


def _major_minor(version: str) -> tuple[int, int]:
    """``(1, 16)`` for ``"1.16.0"``, ``"1.16.0rc1"`` or ``"1.16"``; ``(3, 0)`` for ``"3"``."""
    found = re.match(r"(\d+)(?:\.(\d+))?", version)
    if found is None:
        return (0, 0)  # unreadable: refused, with the version as it reads
    return (int(found[1]), int(found[2] or 0))
