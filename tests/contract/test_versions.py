"""The framework versions each adapter supports: declared once, checked at import, refused clearly.

Each adapter's compat module holds the range of its framework it checks when it is imported; the
package declares the same range as a dependency. Both are read here: the declared one from the
installed distribution's metadata (what pip resolved against), not from pyproject.toml.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import requires, version

import pytest
from packaging.requirements import Requirement  # a dependency of pytest
from packaging.version import Version

from vedette_celery import compat as celery_compat
from vedette_dramatiq import compat as dramatiq_compat
from vedette_rq import compat as rq_compat

Range = tuple[tuple[int, int], tuple[int, int]]

# (the adapter's distribution, the framework package, the range the adapter checks)
RANGES: list[tuple[str, str, Range]] = [
    ("vedette-celery", "celery", celery_compat.SUPPORTED_CELERY),
    ("vedette-celery", "kombu", celery_compat.SUPPORTED_KOMBU),
    ("vedette-dramatiq", "dramatiq", dramatiq_compat.SUPPORTED_DRAMATIQ),
    ("vedette-rq", "rq", rq_compat.SUPPORTED_RQ),
]
DISTRIBUTIONS = {
    "vedette": "vedette",
    "vedette_celery": "vedette-celery",
    "vedette_dramatiq": "vedette-dramatiq",
    "vedette_rq": "vedette-rq",
}


def declared(distribution: str, package: str) -> dict[str, Version]:
    """The bounds ``distribution`` requires of ``package``, by operator (``">="``, ``"<"``).

    Exclusions inside the range (``!=5.5.*``) are left out: the import check sees the range.
    """
    (requirement,) = [
        requirement
        for requirement in map(Requirement, requires(distribution) or [])
        if requirement.name == package
    ]
    return {
        spec.operator: Version(spec.version)
        for spec in requirement.specifier
        if spec.operator in (">=", "<")
    }


def dotted(major_minor: tuple[int, int]) -> str:
    return ".".join(map(str, major_minor))


def check(package: str, installed: str) -> None:
    """Run the adapter's check of ``package`` as if ``installed`` were installed."""
    if package == "celery":
        celery_compat.check_celery_version(installed)
    elif package == "kombu":
        celery_compat.check_kombu_version(installed)
    elif package == "dramatiq":
        dramatiq_compat.check_dramatiq_version(installed)
    else:
        rq_compat.check_rq_version(installed)


@pytest.mark.parametrize(("distribution", "package", "supported"), RANGES)
def test_the_checked_range_is_the_declared_one(
    distribution: str, package: str, supported: Range
) -> None:
    lowest, beyond = supported
    assert declared(distribution, package) == {
        ">=": Version(dotted(lowest)),
        "<": Version(dotted(beyond)),
    }


@pytest.mark.parametrize(("distribution", "package", "supported"), RANGES)
def test_a_version_out_of_range_is_refused_naming_what_is_supported(
    distribution: str, package: str, supported: Range
) -> None:
    (lowest_major, lowest_minor), (beyond_major, _) = supported
    too_old = f"{lowest_major}.{lowest_minor - 1}.9" if lowest_minor else f"{lowest_major - 1}.99.0"
    for installed in (too_old, f"{beyond_major}.0.0", f"{beyond_major}.0.0rc1"):
        with pytest.raises(ImportError) as refused:
            check(package, installed)
        message = str(refused.value)
        assert message.startswith(f"{distribution} supports "), message
        assert f"{package} {installed} is installed" in message
        assert f"{package} >= {dotted(supported[0])}, < {dotted(supported[1])}" in message


@pytest.mark.parametrize(("distribution", "package", "supported"), RANGES)
def test_versions_in_range_are_accepted(distribution: str, package: str, supported: Range) -> None:
    (lowest_major, lowest_minor), (beyond_major, _) = supported
    for installed in (f"{lowest_major}.{lowest_minor}.0", f"{beyond_major - 1}.99.1"):
        check(package, installed)
    check(package, version(package))  # the one installed here


@pytest.mark.parametrize(
    ("adapter", "package", "version_attribute", "unsupported"),
    [
        ("vedette_celery", "celery", "celery.__version__", "6.0.0"),
        ("vedette_celery", "kombu", "kombu.__version__", "5.6.4"),
        ("vedette_dramatiq", "dramatiq", "dramatiq.__version__", "3.0.0"),
        ("vedette_rq", "rq", "rq.version.VERSION", "4.0.0"),
    ],
)
def test_importing_an_adapter_checks_its_framework(
    adapter: str, package: str, version_attribute: str, unsupported: str
) -> None:
    # In a fresh interpreter: the check runs once, when the adapter is first imported.
    module = version_attribute.rsplit(".", 1)[0]
    program = f"import {module}\n{version_attribute} = {unsupported!r}\nimport {adapter}"
    ran = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode != 0
    assert "ImportError" in ran.stderr
    assert f"{package} {unsupported} is installed" in ran.stderr


@pytest.mark.parametrize(("module", "distribution"), DISTRIBUTIONS.items())
def test_version_is_the_distributions(module: str, distribution: str) -> None:
    assert importlib.import_module(module).__version__ == version(distribution)
