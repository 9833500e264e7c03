"""Vedette for asyncio: the same guarantees as `vedette`, for ``redis.asyncio`` code.

- `connect` / `connect_replica`: ``redis.asyncio.Redis`` clients that follow the master (or read
  from the replicas) through failovers, exactly as `vedette.connect` / `vedette.connect_replica`.
- `ensure_call` / `ensured`: retrying a coroutine through a failover.
- Failover events: ``async for event in watcher.events()`` on any `vedette.FailoverWatcher`.

One logic: the async clients share the process's watcher with the sync ones, and every decision
(which master, whether a command may be retried, what a lost reply is raised as) is made by the
same code (`vedette.client.flight`, `vedette.retry.Attempts`, `vedette.client.hub.Hub`). The event
loop is never blocked: lookups of the Sentinels run in a worker thread, and the watcher's thread
wakes waiting coroutines with ``call_soon_threadsafe``.

Examples:
    >>> import vedette.asyncio
    >>> client = vedette.asyncio.connect("redis+sentinel://10.0.0.1,10.0.0.2/mymaster")
    >>> async def enqueue(payload: str) -> None:
    ...     await client.lpush("jobs", payload)
"""

from vedette.asyncio.master import AsyncMasterConnection, AsyncMasterPool, connect
from vedette.asyncio.replicas import AsyncReplicaConnection, AsyncReplicaPool, connect_replica
from vedette.asyncio.retry import ensure_call, ensured

__all__ = [
    "AsyncMasterConnection",
    "AsyncMasterPool",
    "AsyncReplicaConnection",
    "AsyncReplicaPool",
    "connect",
    "connect_replica",
    "ensure_call",
    "ensured",
]
