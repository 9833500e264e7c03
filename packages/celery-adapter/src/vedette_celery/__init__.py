"""Redis Sentinel failover safety for Celery (broker transport, result backend and beat scheduler).

Not yet implemented: this package only reserves the name and declares its dependencies.
"""

__all__: list[str] = []
