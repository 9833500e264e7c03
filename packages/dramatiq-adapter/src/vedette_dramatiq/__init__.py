"""Redis Sentinel failover safety for Dramatiq.

- `SentinelBroker(url=...)`: Dramatiq's `RedisBroker` on the master a Sentinel service names,
  through every failover (``redis+sentinel://`` URL or a `vedette.SentinelConfig`);
- `SentinelMiddleware(...)`: dramatiq-sentinel's middleware, for a plain `RedisBroker`;
- `SentinelResultBackend(url=...)`: Dramatiq's Redis result backend on the same service;
- `DramatiqDispatcher`: sends runs of the schedule store (`vedette.schedule`) as messages.

Both keep Dramatiq's Redis layout; see docs/dramatiq.md.
"""

import logging as _logging

from vedette_dramatiq.broker import SentinelBroker
from vedette_dramatiq.consumer import SentinelConsumer
from vedette_dramatiq.dispatch import DramatiqDispatcher
from vedette_dramatiq.middleware import NotARedisBroker, SentinelMiddleware
from vedette_dramatiq.results import SentinelResultBackend

# A library logs; the application decides where its records go (docs/operations.md).
_logging.getLogger("vedette_dramatiq").addHandler(_logging.NullHandler())

__all__ = [
    "DramatiqDispatcher",
    "NotARedisBroker",
    "SentinelBroker",
    "SentinelConsumer",
    "SentinelMiddleware",
    "SentinelResultBackend",
]
