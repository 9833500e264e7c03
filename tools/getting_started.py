"""Follow a getting-started page literally, as a new user does, and check what it printed.

``python tools/getting_started.py PAGE`` (``celery``, ``dramatiq``, ``rq`` or ``asyncio``) runs
the ```sh blocks of ``docs/getting-started/PAGE.md`` in order, as one bash script under ``set -euo
pipefail``, from a temporary directory that holds a copy of the page's example at
``examples/<example>``, as the top of a clone does. The steps start a local cluster (``vedette
dev up``), a worker in the background, and a producer with a planned failover drill during its
run, then stop the worker and the cluster. Exits 0 if the drill switched the master once and lost
none of its writes, the producer's report says every task ran once, and the worker saw the switch
without an error; otherwise prints what the steps printed and exits 1.

The commands (``python``, ``vedette``, ``celery`` ...) are the ones next to the Python running
this script: the test suite's (tests/examples) or, in ``./nox -s build``, a fresh virtualenv's
holding the built wheels. The page's first block installs, and must read exactly as below: it is
the one block not run (what it installs is installed already); no other block may install.
``vedette dev up`` records its cluster in a directory of this run's own (``$VEDETTE_DEV_DIR``);
whatever the steps leave running is stopped (their process group), and ``vedette dev down`` runs,
also when a step fails.

Standard library only: it runs where nothing of the repository is installed but the wheels.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "getting-started"
EXAMPLES = ROOT / "examples"

DEADLINE = 180.0  # seconds for a page's steps, which take 11-16 s here

SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
REPORT = re.compile(r"^sent (\d+), done (\d+), lost (\d+), duplicated (\d+)\b", re.MULTILINE)
SWITCH = re.compile(r"^master (\S+) -> (\S+): switch announced ", re.MULTILINE)
DRILL_WRITES = re.compile(r"^writes: (\d+) acknowledged of (\d+), (\d+) lost, ", re.MULTILINE)
STALL = re.compile(r"; longest event loop stall (\d+) ms$", re.MULTILINE)
# The asyncio page's event loop is never held by the failover: a held loop would stall about a
# second (the promotion); a few milliseconds are the machine's (other processes, collections).
MOST_STALL_MS = 500


@dataclass(frozen=True)
class Page:
    """A getting-started page, its example, its install line and what its producer sends."""

    name: str
    example: str
    install: str
    sent: int


PAGES_RUN = {
    page.name: page
    for page in (
        Page("celery", "celery", "pip install vedette-celery 'vedette[server]'", 300),
        Page("dramatiq", "dramatiq", "pip install vedette-dramatiq 'vedette[server]'", 300),
        Page("rq", "rq", "pip install vedette-rq 'vedette[server]'", 120),
        Page("asyncio", "async_producer", "pip install vedette-rq 'vedette[server]'", 120),
    )
}


class PageFailed(Exception):
    """The page's steps failed, or printed something other than a clean failover."""


def steps(page: Page) -> str:
    """The page's shell steps as one script: every ```sh block but the install block."""
    install, *rest = SH_BLOCK.findall((PAGES / f"{page.name}.md").read_text())
    if install.strip() != page.install:
        raise PageFailed(f"the first block installs {install.strip()!r}, not {page.install!r}")
    if any("pip install" in block for block in rest):
        raise PageFailed("a block after the first installs")
    if "vedette dev up" not in "".join(rest):
        raise PageFailed("no step starts the local cluster")
    return "set -euo pipefail\n" + "\n".join(rest)


def environment(directory: Path) -> dict[str, str]:
    """The caller's, with its own dev cluster directory and none of the user's URLs."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("VEDETTE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    # `python`, `celery`, `rq`, `dramatiq` and `vedette` are this interpreter's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["VEDETTE_DEV_DIR"] = str(directory / "dev")
    return env


def group_alive(group: int) -> bool:
    """Whether a process of ``group`` still runs (a zombie, which only waits to be reaped, not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # "pid (name) state ppid pgrp ...": the name may hold spaces and parentheses
            state, _, pgrp = stat.read_text().rpartition(")")[2].split()[:3]
        except OSError:  # gone meanwhile
            continue
        if int(pgrp) == group and state != "Z":
            return True
    return False


def stop_group(shell: subprocess.Popen[str]) -> None:
    """Stop what the steps left running, the shell's process group: SIGTERM, then SIGKILL."""
    for stopping in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(shell.pid, stopping)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and group_alive(shell.pid):
            time.sleep(0.05)
        if not group_alive(shell.pid):
            return


def read(path: Path) -> str:
    """A file's text, or ``(none)``."""
    return path.read_text(errors="replace") if path.exists() else "(none)"


def run(page: Page, directory: Path) -> str:
    """Run the page's steps in ``directory``; what they printed, or `PageFailed` saying why."""
    script = steps(page)
    example = directory / "examples" / page.example
    shutil.copytree(
        EXAMPLES / page.example,
        example,
        ignore=shutil.ignore_patterns("__pycache__", ".*_cache", "*.log"),
    )
    env = environment(directory)
    started = time.monotonic()
    shell = subprocess.Popen(
        ["bash", "-c", script],
        cwd=directory,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, with the workers it starts
    )
    timed_out = False
    try:
        try:
            stdout, stderr = shell.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            timed_out = True
            stop_group(shell)
            stdout, stderr = shell.communicate()
    finally:
        stop_group(shell)
        cluster_left = (directory / "dev" / "cluster.json").exists()
        # Whatever the steps did: a cluster they left running is stopped.
        subprocess.run(
            [sys.executable, "-m", "vedette", "dev", "down"],
            env=env,
            capture_output=True,  # "no dev cluster is recorded", when the page stopped it
            check=False,
        )
    elapsed = time.monotonic() - started
    worker_log = read(example / "worker.log")
    shown = (
        f"exit status {shell.returncode} after {elapsed:.1f} s\n--- stdout\n{stdout}\n"
        f"--- stderr\n{stderr}\n--- worker.log\n{worker_log}"
    )
    problems = check(page, stdout, worker_log)
    if timed_out:
        problems.insert(0, f"the steps took over {DEADLINE:.0f} s")
    elif shell.returncode != 0:
        problems.insert(0, "a step failed")
    if cluster_left:
        problems.append("the page's `vedette dev down` did not stop the cluster")
    if problems:
        raise PageFailed("; ".join(problems) + "\n" + shown)
    return stdout


def check(page: Page, stdout: str, worker_log: str) -> list[str]:
    """What is wrong with what the steps printed: nothing, for a clean failover."""
    problems = []
    if "Traceback" in worker_log or "ERROR" in worker_log:
        problems.append("the worker logged an error")
    # The drill failed the master over once, and lost none of its own writes.
    switches = SWITCH.findall(stdout)
    if len(switches) != 1 or switches[0][0] == switches[0][1]:
        return [*problems, f"the drill reported {len(switches)} switches, not one"]
    old, new = switches[0]
    writes = DRILL_WRITES.findall(stdout)
    if len(writes) != 1 or writes[0][0] != writes[0][1] or writes[0][2] != "0":
        problems.append(f"the drill's writes: {writes}")
    # The producer sent everything, and every task ran once.
    reports = [tuple(int(n) for n in numbers) for numbers in REPORT.findall(stdout)]
    if reports != [(page.sent, page.sent, 0, 0)]:
        problems.append(f"the producer reported {reports}, not sent = done = {page.sent}")
    # The switch came before the producer's report: the drill, started 3 s after the producer,
    # failed the master over while the producer was sending (for 6 s) or waiting.
    elif next(SWITCH.finditer(stdout)).start() > next(REPORT.finditer(stdout)).start():
        problems.append("the switch came after the producer's report")
    # The worker saw that very switch (the page greps its log).
    if f"master switched from {old} to {new}" not in stdout:
        problems.append("the worker's log does not show the switch")
    if page.name == "asyncio":
        stalls = STALL.findall(stdout)
        if len(stalls) != 1 or int(stalls[0]) >= MOST_STALL_MS:
            problems.append(f"the event loop stalled {stalls} ms")
    return problems


def main() -> int:
    """Run the pages named on the command line; 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", choices=sorted(PAGES_RUN))
    arguments = parser.parse_args()
    failed = False
    for name in arguments.pages:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"getting-started-{name}-") as directory:
            try:
                stdout = run(PAGES_RUN[name], Path(directory))
            except PageFailed as failure:
                print(f"getting-started/{name}.md FAILED: {failure}", file=sys.stderr)
                failed = True
                continue
        (report,) = REPORT.findall(stdout)
        print(
            f"getting-started/{name}.md: passed in {time.monotonic() - started:.1f} s "
            f"(sent {report[0]}, done {report[1]}, lost {report[2]}, duplicated {report[3]})"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
