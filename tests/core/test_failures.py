"""What an error means: retried or not, a failover's or not (vedette.failures' table)."""

from __future__ import annotations

import pytest
import redis

import vedette
from vedette import is_failover, is_retryable
from vedette.process.reentry import CalledBack

UNKNOWN_SERVICE = vedette.ServiceNotFoundError("typo", service_name="s", answers={}, monitored=())

# (error, retried, a failover's): one row of the table in vedette/failures.py each.
TABLE = [
    (redis.ConnectionError("Connection refused"), True, True),
    (redis.TimeoutError("Timeout reading from socket"), True, True),
    (redis.ReadOnlyError("You can't write against a read only replica."), True, True),
    (redis.BusyLoadingError("Redis is loading the dataset in memory"), True, True),
    (redis.ResponseError("MASTERDOWN Link with MASTER is down"), True, True),
    (redis.ResponseError("UNBLOCKED force unblock from blocking operation"), True, True),
    (vedette.MasterNotFoundError("failover", service_name="s", answers={}), True, True),
    (vedette.SentinelsUnreachableError("gone", service_name="s", answers={}), True, True),
    (vedette.OutcomeUnknownError("a reply lost", command="BRPOP"), False, True),
    (vedette.FailoverTimeout("still down", deadline=1, attempts=3), False, True),
    (redis.AuthenticationError("invalid password"), False, False),  # a ConnectionError
    (vedette.AuthenticationError("refused"), False, False),
    (vedette.NoPermissionError("NOPERM"), False, False),
    (
        vedette.ServiceNotFoundError("typo", service_name="s", answers={}, monitored=()),
        False,
        False,
    ),
    (vedette.NotReplicatedError("1 of 2", replicas=1, wanted=2), False, False),
    (vedette.ConfigurationError("db", "must be a number"), False, False),
    (CalledBack("own thread"), False, False),
    (redis.exceptions.MaxConnectionsError("Too many connections"), False, False),
    (redis.ResponseError("ERR unknown command 'FOO'"), False, False),
    (redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"), False, False),
    (ValueError("bug"), False, False),
]


@pytest.mark.parametrize(("error", "retried", "failover"), TABLE, ids=lambda v: type(v).__name__)
def test_each_error_is_retried_and_called_a_failover_as_the_table_says(
    error: Exception, retried: bool, failover: bool
) -> None:
    assert is_retryable(error) is retried
    assert is_failover(error) is failover


def test_every_retried_error_is_a_failovers() -> None:
    assert all(failover for _, retried, failover in TABLE if retried)
