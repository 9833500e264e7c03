"""redis-py clients that follow the master, and read from the replicas.

- `master`: `connect`, `MasterConnection`, `MasterPool`.
- `replicas`: `connect_replica`, `ReplicaConnection`, `ReplicaPool`.
- `connection`: what both connection kinds share: finding the node, holding commands through
  a promotion, being cut on a switch, retrying by command class.
- `flight`: a command in flight: what a late or lost reply is, what a switch does (no I/O;
  the async clients of `vedette.asyncio` make the same decisions with it).
- `hub`: what every pool and connection of one configuration shares in a process.
- `commands`: what a command is (a pop, blocking, a subscription) for retrying and waiting.
- `durability`: ``wait_replicas``: each write confirmed by ``WAIT``.
"""
