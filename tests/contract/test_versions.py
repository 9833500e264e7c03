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
from types import ModuleType

import pytest
from packaging.requirements import Requirement  # a dependency of pytest
from packaging.version import Version

Range = tuple[tuple[int, int], tuple[int, int]]

# (the adapter's distribution, a framework package whose range it checks). The adapters are
# imported by the tests, not here: a framework's matrix cell installs that adapter alone and runs
# its rows (``-k dramatiq``).
RANGES = [
    ("vedette-celery", "celery"),
    ("vedette-celery", "kombu"),
    ("vedette-dramatiq", "dramatiq"),
    ("vedette-rq", "rq"),
]
DISTRIBUTIONS = {
    "vedette": "vedette",
    "vedette_celery": "vedette-celery",
    "vedette_dramatiq": "vedette-dramatiq",
    "vedette_rq": "vedette-rq",
}


def compat(distribution: str) -> ModuleType:
    """The adapter's compat module: ``SUPPORTED_<PACKAGE>`` and ``check_<package>_version``."""
    return importlib.import_module(f"{distribution.replace('-', '_')}.compat")


def supported(distribution: str, package: str) -> Range:
    """The range of ``package`` the adapter checks at import."""
    found: Range = getattr(compat(distribution), f"SUPPORTED_{package.upper()}")
    return found


def check(distribution: str, package: str, installed: str) -> None:
    """Run the adapter's check of ``package`` as if ``installed`` were installed."""
    getattr(compat(distribution), f"check_{package}_version")(installed)


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


@pytest.mark.parametrize(("distribution", "package"), RANGES)
def test_the_checked_range_is_the_declared_one(distribution: str, package: str) -> None:
    lowest, beyond = supported(distribution, package)
    assert declared(distribution, package) == {
        ">=": Version(dotted(lowest)),
        "<": Version(dotted(beyond)),
    }


@pytest.mark.parametrize(("distribution", "package"), RANGES)
def test_a_version_out_of_range_is_refused_naming_what_is_supported(
    distribution: str, package: str
) -> None:
    lowest, beyond = supported(distribution, package)
    (lowest_major, lowest_minor), (beyond_major, _) = lowest, beyond
    too_old = f"{lowest_major}.{lowest_minor - 1}.9" if lowest_minor else f"{lowest_major - 1}.99.0"
    for installed in (too_old, f"{beyond_major}.0.0", f"{beyond_major}.0.0rc1"):
        with pytest.raises(ImportError) as refused:
            check(distribution, package, installed)
        message = str(refused.value)
        assert message.startswith(f"{distribution} supports "), message
        assert f"{package} {installed} is installed" in message
        assert f"{package} >= {dotted(lowest)}, < {dotted(beyond)}" in message


@pytest.mark.parametrize(("distribution", "package"), RANGES)
def test_versions_in_range_are_accepted(distribution: str, package: str) -> None:
    (lowest_major, lowest_minor), (beyond_major, _) = supported(distribution, package)
    for installed in (f"{lowest_major}.{lowest_minor}.0", f"{beyond_major - 1}.99.1"):
        check(distribution, package, installed)
    check(distribution, package, version(package))  # the one installed here


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
