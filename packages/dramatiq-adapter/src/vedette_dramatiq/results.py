"""`SentinelResultBackend`: Dramatiq's Redis result backend on the same Sentinel service.

Results are stored with a pipeline that deletes, pushes and expires (safe to run twice, so the
Vedette client retries it through a failover) and read with ``LINDEX``, or, when waiting, with
``BRPOPLPUSH`` of the result's list onto itself. A Vedette client does not retry a move whose
reply was lost (it cannot tell it is harmless); this one is, so a wait that a failover cuts goes
on, on the new master, for what is left of its timeout.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from dramatiq.results.backend import DEFAULT_TIMEOUT
from dramatiq.results.backends.redis import RedisBackend

import vedette
from vedette_dramatiq.broker import config_from

__all__ = ["SentinelResultBackend"]


class SentinelResultBackend(RedisBackend):
    """Dramatiq's `RedisBackend` on a Sentinel service's master, through every failover.

    Args:
        url: A ``redis+sentinel://`` URL (use another database than the broker's, e.g. ``/1``).
        config: Or a `vedette.SentinelConfig`.
        namespace: As for `RedisBackend`.
        encoder: As for `RedisBackend`.
        use_namespace_prefix_keys: As for `RedisBackend`.
        **redis_options: Client options that do not say where to connect (see `vedette.connect`).
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        config: vedette.SentinelConfig | None = None,
        namespace: str = "dramatiq-results",
        encoder: Any = None,
        use_namespace_prefix_keys: bool = False,
        **redis_options: Any,
    ) -> None:
        self.config = config_from(url, config)
        super().__init__(
            namespace=namespace,
            encoder=encoder,
            use_namespace_prefix_keys=use_namespace_prefix_keys,
            client=vedette.connect(self.config, **redis_options),
        )

    def get_result(self, message: Any, *, block: bool = False, timeout: int | None = None) -> Any:
        """The message's result; waiting (``block``) goes on through a failover.

        Raises:
            ResultMissing: Not blocking, and there is no result yet.
            ResultTimeout: Blocking, and no result came within ``timeout`` ms (10 s by default).
        """
        if not block:
            return super().get_result(message)
        end = time.monotonic() + (DEFAULT_TIMEOUT if timeout is None else timeout) / 1000
        wait = functools.partial(super().get_result, message, block=True)

        def attempt() -> Any:
            return wait(timeout=max(0.0, end - time.monotonic()) * 1000)

        return vedette.ensure_call(attempt, deadline=self.config.retry_deadline, idempotent=True)
