"""Errors of the local-cluster helpers."""

from __future__ import annotations

from vedette.errors import VedetteError

__all__ = ["ClusterError", "WaitTimeout"]


class ClusterError(VedetteError, RuntimeError):
    """A local cluster could not start, or a fault could not be applied to it."""


class WaitTimeout(ClusterError, TimeoutError):
    """A condition waited for with `wait_until` did not hold in time.

    A ``TimeoutError``, so test code can catch it by meaning; the message names what was
    waited for.
    """
