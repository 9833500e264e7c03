"""An RQ settings module (``rq worker -c ...``) with RQ's ``SENTINEL`` dict, as users write it.

The tests point it at their cluster through ``VEDETTE_SENTINELS`` (``host:port,host:port``).
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
