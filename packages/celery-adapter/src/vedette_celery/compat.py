"""The Celery and kombu versions this adapter supports, checked when it is imported.

The transport subclasses kombu's Redis transport and channel, the result backend and the beat
scheduler Celery's: a version outside these ranges would fail in odd ways, or not at once. The
ranges are the package's dependencies (pyproject.toml); a test checks that they agree.
"""

from __future__ import annotations

import celery
import kombu

from vedette import SupportedRange, require_version

__all__ = [
    "CELERY_VERSION",
    "KOMBU_VERSION",
    "SUPPORTED_CELERY",
    "SUPPORTED_KOMBU",
    "check_celery_version",
    "check_kombu_version",
]

CELERY_VERSION: str = celery.__version__
"""The installed Celery's version."""

KOMBU_VERSION: str = kombu.__version__
"""The installed kombu's version."""

SUPPORTED_CELERY: SupportedRange = ((5, 3), (6, 0))
"""The Celery versions supported: from the first, up to (not including) the second."""

SUPPORTED_KOMBU: SupportedRange = ((5, 7), (6, 0))
"""The kombu versions supported: from the first, up to (not including) the second.

5.7: its event loop re-registers a Redis connection that reconnects, which the transport's
failover handling relies on.
"""


def check_celery_version(installed: str = CELERY_VERSION) -> None:
    """Refuse a Celery this adapter was not made for, with a message that says which it needs.

    Args:
        installed: The Celery version to check; the installed one by default.

    Raises:
        ImportError: The version is older than 5.3, or 6.0 or newer.
    """
    require_version("celery", installed, SUPPORTED_CELERY, by="vedette-celery")


def check_kombu_version(installed: str = KOMBU_VERSION) -> None:
    """Refuse a kombu this adapter was not made for, with a message that says which it needs.

    Args:
        installed: The kombu version to check; the installed one by default.

    Raises:
        ImportError: The version is older than 5.7, or 6.0 or newer.
    """
    require_version("kombu", installed, SUPPORTED_KOMBU, by="vedette-celery")
