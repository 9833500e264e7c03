"""The two server-side scripts the adapter adds to Dramatiq's.

Dramatiq's Redis broker does everything through one Lua script. A Vedette client never retries a
script whose reply was lost (it may have popped: `vedette.OutcomeUnknownError`), which is right
for Dramatiq's fetch, and needlessly strict for the commands that may run twice without harm:
acknowledging, rejecting and requeueing (each removes the id from the acknowledgement set first
and does nothing if it is not there), and enqueueing as `ENQUEUE_ONCE` does it. Those run through
``vedette.ensure_call(..., idempotent=True)``.
"""

from __future__ import annotations

__all__ = ["CLAIM", "ENQUEUE_ONCE"]

ENQUEUE_ONCE = """
-- KEYS: the queue's list, its messages hash. ARGV: the message's Redis id, its data.
-- The id is new for every enqueue, so running this twice stores the message once.
if redis.call("hsetnx", KEYS[2], ARGV[1], ARGV[2]) == 1 then
    redis.call("rpush", KEYS[1], ARGV[1])
end
return 1
"""

CLAIM = """
-- KEYS: the queue's list, the consumer's acknowledgement set. ARGV: a message's Redis id.
-- Takes back a message this worker holds that a failover put back in the queue.
if redis.call("lrem", KEYS[1], 1, ARGV[1]) > 0 then
    redis.call("sadd", KEYS[2], ARGV[1])
    return 1
end
return 0
"""
