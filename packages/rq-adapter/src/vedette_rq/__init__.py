"""Redis Sentinel failover safety for RQ (connection, worker, CLI use and periodic dispatch).

Not yet implemented: this package only reserves the name and declares its dependencies.
"""

__all__: list[str] = []
