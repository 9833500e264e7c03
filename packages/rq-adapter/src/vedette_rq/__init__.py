"""Redis Sentinel failover safety for RQ.

So far: `connect` (a client that follows the master) and `Redis` (a connection class whose
``from_url`` reads ``redis+sentinel://`` URLs, for RQ's command line). The worker classes, the
scheduler's restart and periodic dispatch are still to come.
"""

from vedette_rq.connection import Redis, connect

__all__ = [
    "Redis",
    "connect",
]
