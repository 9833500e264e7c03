"""Errors of the local-cluster helpers."""

from __future__ import annotations

from vedette.errors import VedetteError

__all__ = ["ClusterError"]


class ClusterError(VedetteError, RuntimeError):
    """A local cluster could not start, or a fault could not be applied to it."""
