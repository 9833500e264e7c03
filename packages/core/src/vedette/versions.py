"""Version ranges: an adapter refuses, when imported, a framework it was not made for.

Each adapter subclasses its framework's internals; outside the range it was tested on, it would
fail in odd ways, or not at once. `require_version` makes that a clear error at import instead,
naming the package, the installed version and the pip line that fixes it.
"""

from __future__ import annotations

import re

__all__ = ["SupportedRange", "require_version"]

SupportedRange = tuple[tuple[int, int], tuple[int, int]]
"""``((lowest major, minor), (beyond major, minor))``: from the first, up to (not including) the
second."""


def require_version(package: str, installed: str, supported: SupportedRange, *, by: str) -> None:
    """Refuse ``installed``, a version of ``package``, unless it is in ``supported``.

    Only the major and minor versions count: ``5.7.0rc1`` is 5.7.

    Args:
        package: The distribution checked (``"celery"``).
        installed: Its version, as it reports it (``celery.__version__``).
        supported: The versions supported: ``((5, 3), (6, 0))`` for 5.3 up to, not including, 6.0.
        by: The distribution that needs it (``"vedette-celery"``), for the message.

    Raises:
        ImportError: The version is outside ``supported``, or unreadable.
    """
    lowest, beyond = supported
    if not lowest <= _major_minor(installed) < beyond:
        low, high = f"{lowest[0]}.{lowest[1]}", f"{beyond[0]}.{beyond[1]}"
        raise ImportError(
            f"{by} supports {package} >= {low}, < {high}; {package} {installed} is installed "
            f"(pip install '{package}>={low},<{high}')"
        )


def _major_minor(version: str) -> tuple[int, int]:
    """``(5, 7)`` for ``"5.7.0"``, ``"5.7.0rc1"`` or ``"5.7"``; ``(6, 0)`` for ``"6"``."""
    found = re.match(r"(\d+)(?:\.(\d+))?", version)
    if found is None:
        return (0, 0)  # unreadable: refused, with the version as it reads
    return (int(found[1]), int(found[2] or 0))
