"""Redis Sentinel failover safety for Dramatiq.

- `SentinelBroker(url=...)`: Dramatiq's `RedisBroker` on the master a Sentinel service names,
  through every failover (``redis+sentinel://`` URL or a `vedette.SentinelConfig`);
- `SentinelMiddleware(...)`: dramatiq-sentinel's middleware, for a plain `RedisBroker`;
- `SentinelResultBackend(url=...)`: Dramatiq's Redis result backend on the same service;
- `DramatiqDispatcher`: sends runs of the schedule store (`vedette.schedule`) as messages.

Both keep Dramatiq's Redis layout; see docs/dramatiq.md.
"""

import logging as _logging
from importlib.metadata import version as _version

from vedette_dramatiq.compat import check_dramatiq_version as _check_dramatiq_version

_check_dramatiq_version()  # before Dramatiq's classes are subclassed: a clear error, not an odd one

from vedette_dramatiq.broker import SentinelBroker  # noqa: E402
from vedette_dramatiq.consumer import SentinelConsumer  # noqa: E402
from vedette_dramatiq.dispatch import DramatiqDispatcher  # noqa: E402
from vedette_dramatiq.middleware import NotARedisBroker, SentinelMiddleware  # noqa: E402
from vedette_dramatiq.results import SentinelResultBackend  # noqa: E402

__version__ = _version("vedette-dramatiq")
"""The installed version of the ``vedette-dramatiq`` distribution."""

# A library logs; the application decides where its records go (docs/operations.md).
_logging.getLogger("vedette_dramatiq").addHandler(_logging.NullHandler())

__all__ = [
    "DramatiqDispatcher",
    "NotARedisBroker",
    "SentinelBroker",
    "SentinelConsumer",
    "SentinelMiddleware",
    "SentinelResultBackend",
    # Metadata
    "__version__",
]
