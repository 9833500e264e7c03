"""The consumer's reconciliation with the new master, each case forced on a real cluster.

A failover can leave a worker's acknowledgement set on the new master disagreeing with what the
worker holds, in three ways; the stream tests rarely hit them (they need a fault within the
microseconds of a round trip), so each is put in place here, by hand, exactly as the failover
would leave it, then a real failover (or the lost reply itself) makes the consumer reconcile.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dramatiq import Message
from dramatiq.broker import MessageProxy

from vedette.testing import SentinelCluster, wait_until
from vedette_dramatiq import SentinelBroker, SentinelConsumer

QUEUE = "default"


@pytest.fixture
def broker(sentinel_cluster: SentinelCluster) -> Iterator[SentinelBroker]:
    broker = SentinelBroker(config=sentinel_cluster.config, middleware=[])
    broker.declare_queue(QUEUE)
    yield broker
    broker.client.close()


def send(broker: SentinelBroker, *numbers: int) -> list[str]:
    """Enqueue messages; their Redis ids."""
    return [
        broker.enqueue(Message(QUEUE, "record", (n,), {}, {})).options["redis_message_id"]
        for n in numbers
    ]


def receive(consumer: SentinelConsumer, count: int) -> list[MessageProxy]:
    """``count`` messages from the consumer (it returns None while it polls)."""
    received: list[MessageProxy] = []

    def enough() -> bool:
        message = next(consumer)
        if message is not None:
            received.append(message)
        return len(received) >= count

    wait_until(enough, 10, f"{count} messages")
    return received


def acks_key(broker: SentinelBroker) -> str:
    return f"dramatiq:__acks__.{broker.broker_id}.{QUEUE}"


def members(broker: SentinelBroker) -> set[str]:
    return {
        m.decode() if isinstance(m, bytes) else m for m in broker.client.smembers(acks_key(broker))
    }


def fail_over(cluster: SentinelCluster) -> None:
    cluster.failover()
    cluster.wait_for_switch(60)


def args(messages: list[MessageProxy]) -> list[Any]:
    return sorted(message.args[0] for message in messages)


def test_messages_a_lost_fetch_reply_moved_are_delivered_here_once(broker: SentinelBroker) -> None:
    send(broker, 1, 2, 3, 4)
    # A fetch ran and its reply was lost: three messages sit in this worker's acknowledgement
    # set, and nothing in the process knows of them.
    assert len(broker.do_fetch(QUEUE, 3)) == 3
    consumer = broker.consume(QUEUE, prefetch=10)  # a new consumer reconciles first
    received = receive(consumer, 4)
    assert args(received) == [1, 2, 3, 4]
    assert broker.client.llen(f"dramatiq:{QUEUE}") == 0
    for message in received:
        consumer.ack(message)
    assert members(broker) == set()
    assert broker.client.hlen(f"dramatiq:{QUEUE}.msgs") == 0


def test_an_acknowledgement_the_old_master_lost_is_done_again(
    sentinel_cluster: SentinelCluster, broker: SentinelBroker
) -> None:
    [redis_id] = send(broker, 1)
    consumer = broker.consume(QUEUE)
    [received] = receive(consumer, 1)
    data = broker.client.hget(f"dramatiq:{QUEUE}.msgs", redis_id)
    consumer.ack(received)
    # The old master acknowledged it and died before replicating that: the new master still
    # has the message in the set and its data.
    broker.client.sadd(acks_key(broker), redis_id)
    broker.client.hset(f"dramatiq:{QUEUE}.msgs", redis_id, data)
    fail_over(sentinel_cluster)
    assert next(consumer) is None  # reconciles, nothing to run
    assert members(broker) == set()
    assert broker.client.hlen(f"dramatiq:{QUEUE}.msgs") == 0


def test_a_held_message_a_failover_put_back_in_the_queue_is_taken_back(
    sentinel_cluster: SentinelCluster, broker: SentinelBroker
) -> None:
    [redis_id] = send(broker, 1)
    consumer = broker.consume(QUEUE)
    [received] = receive(consumer, 1)
    # The fetch was not replicated: on the new master the message is queued again and not in
    # this worker's set, though the worker is running it.
    broker.client.srem(acks_key(broker), redis_id)
    broker.client.rpush(f"dramatiq:{QUEUE}", redis_id)
    fail_over(sentinel_cluster)
    other = SentinelBroker(config=sentinel_cluster.config, middleware=[])
    assert next(consumer) is None  # reconciles: takes it back before anyone else fetches it
    assert other.do_fetch(QUEUE, 10) == []
    assert members(broker) == {redis_id}
    consumer.ack(received)
    assert members(broker) == set()
    other.client.close()


def test_a_closed_consumer_gives_back_what_it_fetched_and_did_not_hand_out(
    broker: SentinelBroker,
) -> None:
    send(broker, 1, 2, 3)
    consumer = broker.consume(QUEUE, prefetch=3)
    [first] = receive(consumer, 1)
    consumer.close()  # Dramatiq closes a consumer it replaces after an error
    assert broker.client.llen(f"dramatiq:{QUEUE}") == 2
    assert members(broker) == {first.options["redis_message_id"]}
    assert consumer.outstanding_message_count == 1
