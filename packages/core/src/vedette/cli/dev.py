"""``vedette dev up`` / ``vedette dev down``: a local Sentinel cluster for development.

``up`` starts a `SentinelCluster` whose processes outlive the command and records it in a state
directory (its URL, process ids and files); ``down`` kills those processes and removes the files.
The cluster fails over fast (``down-after-milliseconds`` 1000), to make drills quick.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import click

from vedette.testing import ClusterError, SentinelCluster

STATE_FILE = "cluster.json"


def default_state_dir() -> Path:
    """Where ``dev up`` records its cluster unless told: one per user, in the temp directory."""
    return Path(tempfile.gettempdir()) / f"vedette-dev-{os.getuid()}"


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_state_dir,
    show_default="a per-user directory in the temp directory",
    envvar="VEDETTE_DEV_DIR",
    help="Where the running cluster is recorded.",
)


@click.group()
def dev() -> None:
    """A local Sentinel cluster for development (loopback only, no persistence)."""


@dev.command()
@state_dir_option
@click.option("--replicas", type=click.IntRange(min=0, max=5), default=2, show_default=True)
@click.option("--sentinels", type=click.IntRange(min=1, max=7), default=3, show_default=True)
@click.option("--service-name", default="vedette", show_default=True)
def up(state_dir: Path, replicas: int, sentinels: int, service_name: str) -> None:
    """Start the cluster (or find the one already up) and print its URL."""
    running = _running(state_dir)
    if running is not None:
        click.echo(running["url"])
        return
    cluster = SentinelCluster(
        service_name=service_name, replicas=replicas, sentinels=sentinels, detached=True
    )
    try:
        cluster.start()
    except ClusterError as error:
        raise click.ClickException(str(error)) from None
    state_dir.mkdir(parents=True, exist_ok=True)
    state = {"url": cluster.url, "pids": list(cluster.pids), "directory": str(cluster.directory)}
    (state_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    click.echo(cluster.url)


@dev.command()
@state_dir_option
def down(state_dir: Path) -> None:
    """Stop the cluster started by ``dev up`` and remove its files."""
    state = _state(state_dir)
    if state is None:
        click.echo("no dev cluster is recorded", err=True)
        return
    for pid in state["pids"]:
        if _ours(pid, state["directory"]):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(state["directory"], ignore_errors=True)
    (state_dir / STATE_FILE).unlink()
    click.echo(f"stopped {state['url']}")


def _state(state_dir: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((state_dir / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    return state


def _running(state_dir: Path) -> dict[str, Any] | None:
    """The recorded cluster if all its processes still run; a partly dead one is cleaned up."""
    state = _state(state_dir)
    if state is None:
        return None
    if all(_ours(pid, state["directory"]) for pid in state["pids"]):
        return state
    for pid in state["pids"]:
        if _ours(pid, state["directory"]):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(state["directory"], ignore_errors=True)
    (state_dir / STATE_FILE).unlink()
    return None


def _ours(pid: int, directory: str) -> bool:
    """Whether ``pid`` is still one of the cluster's servers (not a reused process id)."""
    if not Path("/proc/self").is_dir():  # no /proc (macOS): trust the pid
        return _alive(pid)
    try:  # each server runs in its node's directory (its command line is retitled)
        working_directory = Path(f"/proc/{pid}/cwd").readlink()
    except OSError:
        return False
    return working_directory.is_relative_to(directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
