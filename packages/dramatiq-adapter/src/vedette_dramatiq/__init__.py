"""Redis Sentinel failover safety for Dramatiq (middleware, broker and periodic dispatch).

Not yet implemented: this package only reserves the name and declares its dependencies.
"""

__all__: list[str] = []
