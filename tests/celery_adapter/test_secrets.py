"""No password and no ACL user name in anything Celery prints, reports or broadcasts.

A cluster with distinct credentials on Redis and on the Sentinels (ACL users on both), a real
``celery worker`` logging at DEBUG with task events on, a task run through it, and then every
command that shows the broker or the result backend: ``inspect stats`` (what Flower shows),
``inspect conf``, ``inspect report``, ``report``, ``status`` and ``events --dump``. None of the four
secrets may appear in their output, in the worker's log, or in this process's DEBUG log, with
the credentials given every way at once: in the URLs and in the transport options.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from vedette.testing import ClusterFactory, wait_until
from vedette_harness.celery_producer import celery_url, producer_app
from vedette_harness.workers import CeleryWorkers

# Only unreserved characters: a URL carries them as they are, so a search for the plain text
# also finds a leak of the URL-encoded form.
CREDENTIALS = {
    "username": "acl-user-kq7",
    "password": "redis-pw-3xa",
    "sentinel_username": "acl-watcher-v9m",
    "sentinel_password": "sentinel-pw-5td",
}
SECRETS = tuple(CREDENTIALS.values())
COMMAND_TIMEOUT = 60.0


def found(text: str) -> list[str]:
    """The secrets that appear in ``text``."""
    return [secret for secret in SECRETS if secret in text]


class CeleryCommand:
    """``celery -A vedette_harness.celery_app ...`` with the worker's settings."""

    def __init__(self, broker_url: str, result_backend: str, options: dict[str, object]) -> None:
        self.env = {
            **os.environ,
            "VEDETTE_BROKER_URL": broker_url,
            "VEDETTE_RESULT_BACKEND": result_backend,
            "VEDETTE_BROKER_OPTIONS": json.dumps(options),
        }

    def argv(self, *arguments: str) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "vedette_harness.celery_app", *arguments]

    def run(self, *arguments: str) -> str:
        """Run to completion (bounded); stdout and stderr."""
        done = subprocess.run(
            self.argv(*arguments),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        return output

    @contextmanager
    def running(self, output: Path, *arguments: str) -> Iterator[subprocess.Popen[bytes]]:
        """Start a command that runs until stopped (``events --dump``); stopped afterwards."""
        with output.open("wb") as sink:
            process = subprocess.Popen(
                self.argv(*arguments),
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)


def test_no_secret_in_any_command_log_or_broadcast(
    sentinel_cluster_factory: ClusterFactory,
    celery_worker_factory: CeleryWorkers,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # kombu's own DEBUG log of connections and channels, in the worker and the commands.
    monkeypatch.setenv("KOMBU_LOG_DEBUG", "1")
    cluster = sentinel_cluster_factory(
        username=CREDENTIALS["username"],
        password=CREDENTIALS["password"],
        sentinel_username=CREDENTIALS["sentinel_username"],
        sentinel_password=CREDENTIALS["sentinel_password"],
    )
    # Every way in at once: the Redis credentials in the broker URL's user part, everything in
    # the result backend's URL (the Sentinels' in its query), and all of them again in the
    # transport options of both (kombu's spelling of the Sentinels' credentials).
    hosts = ",".join(map(str, cluster.sentinel_addresses))
    user_part = f"{CREDENTIALS['username']}:{CREDENTIALS['password']}@"
    broker, backend = f"redis-sentinel://{user_part}{hosts}/vedette/0", celery_url(cluster, 1)
    options: dict[str, object] = {
        "username": CREDENTIALS["username"],
        "password": CREDENTIALS["password"],
        "sentinel_kwargs": {
            "username": CREDENTIALS["sentinel_username"],
            "password": CREDENTIALS["sentinel_password"],
        },
    }
    worker = celery_worker_factory(
        broker, result_backend=backend, options=options, events=True, loglevel="debug"
    )
    celery = CeleryCommand(broker, backend, options)
    outputs: dict[str, str] = {}

    with caplog.at_level(logging.DEBUG):
        app = producer_app(broker, backend)
        app.conf.update(broker_transport_options=options, result_backend_transport_options=options)
        events = tmp_path / "events.out"
        with celery.running(events, "events", "--dump"):
            wait_until(lambda: "heartbeat" in events.read_text(), 30, "the event dump")
            result = app.send_task("record", (7,))
            try:
                assert result.get(timeout=30) == 7
            finally:
                del result
                gc.collect()  # its __del__ unsubscribes: now, while the cluster runs
            wait_until(lambda: "task succeeded" in events.read_text(), 30, "the task's events")
        outputs["celery events --dump"] = events.read_text()
        for command in ("inspect stats", "inspect conf", "inspect report", "report", "status"):
            bounded = () if command == "report" else ("--timeout", "10")
            outputs[f"celery {command}"] = celery.run(*command.split(), *bounded)
        app.close()

    # The commands did show what they are asked for (so the absence of secrets means something).
    assert '"hostname": "redis-sentinel://**:**@' in outputs["celery inspect stats"]
    assert "result_backend" in outputs["celery inspect conf"]
    assert "results:redis-sentinel://" in outputs["celery report"]
    assert "results:redis-sentinel://" in outputs["celery inspect report"]
    assert "1 node online" in outputs["celery status"]
    assert "record" in outputs["celery events --dump"]
    leaks = {name: found(text) for name, text in outputs.items() if found(text)}
    assert leaks == {}, {name: outputs[name] for name in leaks}
    # The worker's DEBUG log (its start-up banner included), and this process's.
    log = worker.text()
    assert "DEBUG/MainProcess" in log
    assert "[Kombu connection:" in log
    assert found(log) == [], log
    assert found(caplog.text) == []
