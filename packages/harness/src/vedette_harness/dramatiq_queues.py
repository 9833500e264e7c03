"""What a Dramatiq Redis broker left on the master, and messages for the harness's app."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from dramatiq import Message

import vedette
from vedette.testing import SentinelCluster

__all__ = ["left_over", "message", "stored_results"]


def left_over(cluster: SentinelCluster, namespace: str = "dramatiq") -> dict[str, int]:
    """Entries left in Dramatiq's queues, ``.msgs`` hashes, acknowledgement sets and DLQs."""
    client = vedette.connect(cluster.config)
    try:
        sizes = {
            "list": client.llen,
            "hash": client.hlen,
            "set": client.scard,
            "zset": client.zcard,
        }
        counts = {}
        for key in client.scan_iter(f"{namespace}:*"):
            if key.endswith(b"__heartbeats__"):
                continue
            kind = client.type(key)
            size = sizes.get(kind.decode() if isinstance(kind, bytes) else kind)
            if size is not None and (count := size(key)):
                counts[key.decode()] = count
        return counts
    finally:
        client.close()


def stored_results(cluster: SentinelCluster) -> list[int]:
    """Every result in the result backend's database (the worker app's: 1)."""
    client = vedette.connect(replace(cluster.config, db=1))
    try:
        keys = list(client.scan_iter(count=1000))
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.lindex(key, 0)
            return sorted(json.loads(value) for value in pipe.execute())
    finally:
        client.close()


def message(number: int) -> Message[Any]:
    """A message for the worker app's ``record`` actor."""
    return Message(queue_name="default", actor_name="record", args=(number,), kwargs={}, options={})
