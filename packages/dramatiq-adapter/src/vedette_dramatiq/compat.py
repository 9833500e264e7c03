"""The Dramatiq versions this adapter supports, checked when it is imported.

The broker and the result backend subclass Dramatiq's Redis ones, the consumer its `Consumer`: a
version outside this range would fail in odd ways, or not at once. The range is the package's
dependency (pyproject.toml); a test checks that they agree.
"""

from __future__ import annotations

import dramatiq

from vedette import SupportedRange, require_version

__all__ = ["DRAMATIQ_VERSION", "SUPPORTED_DRAMATIQ", "check_dramatiq_version"]

DRAMATIQ_VERSION: str = dramatiq.__version__
"""The installed Dramatiq's version."""

SUPPORTED_DRAMATIQ: SupportedRange = ((1, 16), (3, 0))
"""The Dramatiq versions supported: from the first, up to (not including) the second."""


def check_dramatiq_version(installed: str = DRAMATIQ_VERSION) -> None:
    """Refuse a Dramatiq this adapter was not made for, with a message that says which it needs.

    Args:
        installed: The Dramatiq version to check; the installed one by default.

    Raises:
        ImportError: The version is older than 1.16, or 3.0 or newer.
    """
    require_version("dramatiq", installed, SUPPORTED_DRAMATIQ, by="vedette-dramatiq")
