"""The Dramatiq app real worker processes run: ``dramatiq vedette_harness.dramatiq_app``.

``VEDETTE_DRAMATIQ_MODE`` picks how the broker follows the Sentinel service:

- ``broker``: ``SentinelBroker(url=VEDETTE_URL)``;
- ``middleware``: a plain ``RedisBroker`` with dramatiq-sentinel's configuration given to
  ``SentinelMiddleware`` (the plain broker points at a closed port: anything the middleware failed
  to switch over would fail loudly, never reach another Redis);
- for benchmarks/dramatiq_broker.py, the peers: ``master_for``, a ``RedisBroker`` on redis-py's
  ``Sentinel(...).master_for(...)``, and ``plain``, a ``RedisBroker`` on ``VEDETTE_REDIS_URL``.
"""

import dataclasses
import os
import threading
from urllib.parse import quote

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

import vedette
import vedette.metrics
from vedette_dramatiq import SentinelBroker, SentinelMiddleware, SentinelResultBackend
from vedette_harness.execution_log import record_execution

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    vedette.metrics.enable_prometheus()  # the one-line set-up, in the worker's app module
config = vedette.SentinelConfig.from_url(os.environ["VEDETTE_URL"])
mode = os.environ.get("VEDETTE_DRAMATIQ_MODE", "broker")
broker: RedisBroker
if mode == "broker":
    broker = SentinelBroker(config=config)
    results: RedisBackend = SentinelResultBackend(config=dataclasses.replace(config, db=1))
elif mode == "master_for":
    sentinel = redis.Sentinel([(a.host, a.port) for a in config.sentinels])
    broker = RedisBroker(client=sentinel.master_for(config.service_name))
    results = RedisBackend(client=sentinel.master_for(config.service_name, db=1))
elif mode == "plain":
    broker = RedisBroker(url=os.environ["VEDETTE_REDIS_URL"])
    results = RedisBackend(url=os.environ["VEDETTE_REDIS_URL"].rsplit("/", 1)[0] + "/1")
else:
    # The plain broker's URL holds Redis's credentials, as dramatiq-sentinel's users' URLs do.
    user, password = (quote(value or "", safe="") for value in (config.username, config.password))
    plain = f"redis://{user}:{password}@127.0.0.1:9" if password else "redis://127.0.0.1:9"
    broker = RedisBroker(url=f"{plain}/0")
    results = RedisBackend(url=f"{plain}/1")
    broker.add_middleware(
        SentinelMiddleware(
            sentinels=[(address.host, address.port) for address in config.sentinels],
            service_name=config.service_name,
            socket_timeout=0.5,
            periodic_master_check=60.0,
        )
    )
broker.add_middleware(Results(backend=results))
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="default", max_retries=0, store_results=True)
def record(number: int) -> int:
    """Note the run in the execution log; the result is the number."""
    record_execution(number)
    return number


@dramatiq.actor(queue_name="default", max_retries=0, store_results=True)
def vedette_threads() -> list[str]:
    """The names of the worker process's Vedette threads."""
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("vedette-"))
