"""An RQ settings module with RQ's ``SENTINEL`` dict, as users write it.

``rq worker -c vedette_harness.rq_sentinel_settings``; the tests and the benchmark point it at
their cluster through ``VEDETTE_SENTINELS`` (``host:port,host:port``).
"""

import os

SENTINEL = {
    "INSTANCES": [
        (host, int(port))
        for host, _, port in (
            address.rpartition(":") for address in os.environ["VEDETTE_SENTINELS"].split(",")
        )
    ],
    "MASTER_NAME": "vedette",
    "DB": 0,
    "SOCKET_TIMEOUT": 5,
    "CONNECTION_KWARGS": {"health_check_interval": 30},
}
