"""`vedette beat` stops, in one line and with exit status 1, where no retry can succeed: refused
credentials, a NOPERM reply, no Sentinel at all. Never a password in what it says."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from vedette.testing import SentinelCluster, unresponsive_address

PASSWORD, SENTINEL_PASSWORD = "s3cret-redis", "s3cret-sentinel"
LIMITED, LIMITED_PASSWORD = "limited-user", "limited-s3cret"  # no scripts for this ACL user


@pytest.fixture(scope="module")
def guarded() -> Iterator[SentinelCluster]:
    """A cluster whose Redis and Sentinels want passwords, with an ACL user who may not EVAL."""
    with SentinelCluster(password=PASSWORD, sentinel_password=SENTINEL_PASSWORD) as cluster:
        for address in cluster.redis_addresses:
            cluster.client(address).acl_setuser(
                LIMITED,
                enabled=True,
                passwords=[f"+{LIMITED_PASSWORD}"],
                keys=["*"],
                channels=["*"],
                commands=["+@all", "-@scripting"],
            )
        yield cluster


def beat(url: str) -> tuple[int, str, float]:
    """``vedette beat URL --lease 2``: its exit status, what it printed, and how long it ran."""
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "vedette", "beat", url, "--lease", "2"],
        capture_output=True,
        text=True,
        timeout=60,  # it must exit by itself, not run until killed
        check=False,
    )
    return process.returncode, process.stdout + process.stderr, time.monotonic() - started


def assert_one_line(output: str, error: str, *secrets: str) -> None:
    """The error's message is all beat says, besides its start-up line (if it got that far).

    A message may go on in indented lines: what each Sentinel answered.
    """
    assert "Traceback" not in output, output
    said = [
        line for line in output.splitlines() if not line.startswith(("  ", "vedette beat: store "))
    ]
    assert len(said) == 1, output
    assert said[0].startswith(f"Error: {error}: "), output
    for secret in (PASSWORD, SENTINEL_PASSWORD, LIMITED_PASSWORD, *secrets):
        assert secret not in output


@pytest.mark.parametrize(
    ("wrong", "error"),
    [(PASSWORD, "AuthenticationError"), (SENTINEL_PASSWORD, "AuthenticationError")],
    ids=["redis password", "sentinel password"],
)
def test_refused_credentials_stop_beat_in_one_line(
    guarded: SentinelCluster, wrong: str, error: str
) -> None:
    code, output, took = beat(guarded.url.replace(wrong, "not-the-password"))
    assert code == 1, output
    assert_one_line(output, error, "not-the-password")
    assert took < 30


def test_a_noperm_reply_stops_beat_in_one_line_without_the_user(guarded: SentinelCluster) -> None:
    url = guarded.url.replace(f":{PASSWORD}@", f"{LIMITED}:{LIMITED_PASSWORD}@")
    assert url != guarded.url
    code, output, took = beat(url)
    assert code == 1, output
    assert_one_line(output, "NoPermissionError", LIMITED)
    assert "vedette beat: store" in output  # it started: the runner met the refusal, and stopped
    assert took < 30


def test_without_a_sentinel_beat_fails_at_start_up() -> None:
    with unresponsive_address() as address:
        code, output, took = beat(f"redis+sentinel://{address}/svc")
    assert code == 1, output
    assert_one_line(output, "SentinelsUnreachableError")
    assert took < 20
