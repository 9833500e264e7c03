"""redis-py clients that follow the master, and read from the replicas.

- `master`: `connect`, `MasterConnection`, `MasterPool`.
- `replicas`: `connect_replica`, `ReplicaConnection`, `ReplicaPool`.
- `connection`: what both connection kinds share: finding the node, holding commands through
  a promotion, being cut on a switch, retrying by command class.
- `hub`: what every pool and connection of one configuration shares in a process.
- `commands`: what a command is (a pop, blocking, a subscription) for retrying and waiting.
- `durability`: ``wait_replicas``: each write confirmed by ``WAIT``.
"""
