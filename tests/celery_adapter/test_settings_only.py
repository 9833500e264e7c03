"""A producer configured by settings alone: no ``import vedette_celery`` anywhere in its code.

A Django or FastAPI web process, or a script, publishes without the ``celery`` command, which is
what loads the adapter through its entry point. Configured Django's way (``CELERY_``-prefixed
settings read with ``config_from_object(..., namespace="CELERY")``), the first line of the
documented configuration, ``CELERY_BROKER_TRANSPORT = "vedette_celery:Transport"``, selects the
transport; the result backend's scheme is found through Celery's entry points. A fresh
interpreter publishes, stores and reads a result, and publishes again after a kill -9 of the
master, every message arriving on the new master.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import vedette
from vedette.testing import SentinelCluster
from vedette_harness.celery_producer import celery_url

SETTINGS = """\
CELERY_BROKER_TRANSPORT = "vedette_celery:Transport"
CELERY_BROKER_URL = {broker!r}
CELERY_RESULT_BACKEND = {backend!r}
"""

PRODUCER = """\
import json
import sys

from celery import Celery

app = Celery("proj")
app.config_from_object("proj_settings", namespace="CELERY")


def publish(first):
    for number in range(first, first + 20):
        app.send_task("proj.add", (number, number), task_id=f"settings-only-{number}")


imported_before = "vedette_celery" in sys.modules
publish(0)
app.backend.store_result("settings-only-result", 42, "SUCCESS")
with app.connection_for_write() as connection:
    transport = type(connection.transport).__module__
report = {
    "imported_before": imported_before,
    "transport": transport,
    "backend": type(app.backend).__module__,
    "result": app.AsyncResult("settings-only-result").get(timeout=30),
}
print(json.dumps(report), flush=True)
sys.stdin.readline()  # the test kills the master and waits for the switch
publish(20)
print("published", flush=True)
"""

DEADLINE = 60.0


def read_line(producer: subprocess.Popen[str], timeout: float = DEADLINE) -> str:
    """The producer's next line of output, within ``timeout`` seconds."""
    assert producer.stdout is not None
    ready, _, _ = select.select([producer.stdout], [], [], timeout)
    assert ready, f"the producer printed nothing for {timeout:.0f} s"
    return producer.stdout.readline()


def test_a_producer_configured_by_settings_alone_publishes_through_a_kill_9(
    sentinel_cluster: SentinelCluster, tmp_path: Path
) -> None:
    (tmp_path / "proj_settings.py").write_text(
        SETTINGS.format(
            broker=celery_url(sentinel_cluster, 0), backend=celery_url(sentinel_cluster, 1)
        )
    )
    (tmp_path / "producer.py").write_text(PRODUCER)
    assert "import vedette" not in PRODUCER, "the producer's code must not import the adapter"

    with subprocess.Popen(
        [sys.executable, "producer.py"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as producer:
        try:
            report = json.loads(read_line(producer))
            assert report == {
                "imported_before": False,
                "transport": "vedette_celery.transport",
                "backend": "vedette_celery.backend",
                "result": 42,
            }

            sentinel_cluster.kill_master()
            sentinel_cluster.wait_for_switch()
            assert producer.stdin is not None
            producer.stdin.write("go\n")
            producer.stdin.flush()
            assert read_line(producer).strip() == "published"
            assert producer.wait(timeout=DEADLINE) == 0
        finally:
            if producer.poll() is None:
                producer.kill()

    client = vedette.connect(sentinel_cluster.url + "/0")
    try:
        ids = {json.loads(message)["headers"]["id"] for message in client.lrange("celery", 0, -1)}
    finally:
        client.close()
    assert ids == {f"settings-only-{number}" for number in range(40)}


def test_without_the_transport_setting_kombu_says_which_transport_is_missing(
    tmp_path: Path,
) -> None:
    # What a user sees who leaves the first line out: kombu's own error, naming the scheme (the
    # docs quote it, so that a search for it finds the setting).
    script = textwrap.dedent(
        """\
        from celery import Celery

        app = Celery("proj", broker="redis-sentinel://127.0.0.1:1/mymaster")
        try:
            app.connection_for_write()
        except KeyError as error:
            print(error)
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=True,
    ).stdout
    assert "No such transport: redis-sentinel" in output, output
