"""The broker and the actor: ``dramatiq tasks`` runs them.

The broker follows the master the Sentinels name; ``VEDETTE_URL`` is their
``redis+sentinel://host1,host2,host3/service`` URL.
"""

import os
import uuid

import dramatiq

from vedette_dramatiq import SentinelBroker

broker = SentinelBroker(url=os.environ["VEDETTE_URL"])
dramatiq.set_broker(broker)

RUNS = "examples:dramatiq:runs"
"""A Redis hash with one field per run: a new run id, set to the number run."""


@dramatiq.actor
def record(number: int) -> None:
    """Note this run of message ``number``."""
    # A new field per run: a write retried through a failover sets the same one again.
    broker.client.hset(RUNS, uuid.uuid4().hex, number)
