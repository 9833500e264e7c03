"""The watcher's rules, apart from its threads: Sentinel notifications played by script.

`vedette.testing.ScriptedWatcher` runs the same rules as `FailoverWatcher` on notifications the
test gives it, so what each sequence publishes is checked without a cluster.
"""

from __future__ import annotations

import threading
import time

import pytest

from vedette import (
    Address,
    FailoverAborted,
    FailoverStarted,
    MasterDown,
    MasterSwitched,
    MasterUp,
    PromotionStarted,
    SentinelConfig,
    Topology,
)
from vedette.testing import ScriptedWatcher, capture_events

CONFIG = SentinelConfig(sentinels=["10.0.0.1", "10.0.0.2", "10.0.0.3"], service_name="svc")
OLD, NEW = Address("10.0.0.5", 6379), Address("10.0.0.6", 6379)
S1, S2 = "10.0.0.1:26379", "10.0.0.2:26379"


def watcher() -> ScriptedWatcher:
    return ScriptedWatcher(CONFIG, master=OLD)


def is_promoting(scripted: ScriptedWatcher) -> bool:
    """``scripted.promoting``, read through a call.

    mypy keeps an attribute narrowed by ``assert scripted.promoting`` across the notifications
    that change it, and would then take a later ``assert not scripted.promoting`` for one that
    always fails, and the rest of the test for unreachable.
    """
    return scripted.promoting


def master(kind: str) -> tuple[str, str]:
    return kind, "master svc 10.0.0.5 6379"


def topology(master: Address, *, down: bool = False, failing_over: bool = False) -> Topology:
    return Topology(
        service_name="svc",
        master=master,
        replicas=(),
        sentinels=(),
        config_epoch=0,
        agreeing=2,
        asked=3,
        failover_in_progress=failing_over,
        master_down=down,
    )


def test_a_failover_once_however_many_sentinels_report_it() -> None:
    scripted = watcher()
    with capture_events(scripted) as events:
        for sentinel in (S1, S2):
            scripted.notify(*master("+odown"), sentinel=sentinel)
            scripted.notify(*master("+try-failover"), sentinel=sentinel)
        scripted.notify(*master("+elected-leader"), sentinel=S1)
        promoting = "slave 10.0.0.6:6379 10.0.0.6 6379 @ svc 10.0.0.5 6379"
        scripted.notify("+failover-state-send-slaveof-noone", promoting, sentinel=S1)
        assert is_promoting(scripted)
        for sentinel in (S1, S2):
            scripted.notify("+switch-master", "svc 10.0.0.5 6379 10.0.0.6 6379", sentinel=sentinel)
    assert [type(event) for event in events] == [
        MasterDown,
        FailoverStarted,
        PromotionStarted,
        MasterSwitched,
    ]
    switched = events[-1]
    assert isinstance(switched, MasterSwitched)
    assert (switched.old, switched.new) == (OLD, NEW)
    assert not scripted.promoting
    assert scripted.master == NEW
    assert scripted.switches == 1


def test_the_leader_aborting_ends_the_failover() -> None:
    scripted = watcher()
    with capture_events(scripted) as events:
        scripted.notify(*master("+try-failover"), sentinel=S1)
        scripted.notify(*master("+elected-leader"), sentinel=S1)
        scripted.notify(*master("-failover-abort-no-good-slave"), sentinel=S1)
    assert [type(event) for event in events] == [FailoverStarted, FailoverAborted]
    aborted = events[-1]
    assert isinstance(aborted, FailoverAborted)
    assert aborted.reason == "no-good-slave"


def test_a_candidate_that_lost_the_election_does_not_end_it() -> None:
    scripted = watcher()
    with capture_events(scripted) as events:
        scripted.notify(*master("+try-failover"), sentinel=S1)
        scripted.notify(*master("+try-failover"), sentinel=S2)
        scripted.notify(*master("+elected-leader"), sentinel=S1)
        scripted.notify(*master("-failover-abort-not-elected"), sentinel=S2)
        assert scripted.master == OLD
    assert [type(event) for event in events] == [FailoverStarted]


def test_without_a_leader_the_last_candidate_ends_it() -> None:
    scripted = watcher()
    with capture_events(scripted) as events:
        scripted.notify(*master("+try-failover"), sentinel=S1)
        scripted.notify(*master("+try-failover"), sentinel=S2)
        scripted.notify(*master("-failover-abort-not-elected"), sentinel=S1)
        assert [type(event) for event in events] == [FailoverStarted]
        scripted.notify(*master("-failover-abort-not-elected"), sentinel=S2)
    assert [type(event) for event in events] == [FailoverStarted, FailoverAborted]


def test_a_missed_minus_odown_is_found_by_reconciliation() -> None:
    scripted = watcher()
    with capture_events(scripted) as events:
        scripted.notify(*master("+odown"))
        scripted.learn(topology(OLD, down=True), every_sentinel=True)  # still down: not news
        scripted.learn(topology(OLD, down=False), every_sentinel=True)  # its -odown was missed
        scripted.notify(*master("+odown"))  # down again: reported again
    assert [type(event) for event in events] == [MasterDown, MasterUp, MasterDown]


def test_a_failover_whose_end_was_missed_is_closed_by_reconciliation() -> None:
    scripted = watcher()
    promoting = "slave 10.0.0.6:6379 10.0.0.6 6379 @ svc 10.0.0.5 6379"
    with capture_events(scripted) as events:
        scripted.notify("+failover-state-send-slaveof-noone", promoting)
        scripted.learn(topology(OLD, failing_over=True), every_sentinel=True)
        assert is_promoting(scripted)
        scripted.learn(topology(OLD), every_sentinel=True)
    assert [type(event) for event in events] == [PromotionStarted, FailoverAborted]
    assert not scripted.promoting


def test_a_lookup_that_stopped_at_a_majority_does_not_end_a_promotion() -> None:
    # Only the failover's leader reports it under way: a lookup that did not hear every
    # Sentinel cannot tell it ended, and must not let held writes go to the old master.
    scripted = watcher()
    promoting = "slave 10.0.0.6:6379 10.0.0.6 6379 @ svc 10.0.0.5 6379"
    with capture_events(scripted) as events:
        scripted.notify("+failover-state-send-slaveof-noone", promoting)
        scripted.learn(topology(OLD))  # a client's lookup, answered by two Sentinels of three
        assert is_promoting(scripted)
        scripted.notify(*master("+odown"))
        scripted.learn(topology(OLD, down=False))
    assert [type(event) for event in events] == [PromotionStarted, MasterDown]


def test_a_switch_the_notifications_missed_is_published_once() -> None:
    scripted = watcher()
    with capture_events(scripted) as events:
        scripted.learn(topology(NEW))
        scripted.learn(topology(NEW))
        scripted.notify("+switch-master", "svc 10.0.0.5 6379 10.0.0.6 6379")
    (switched,) = events
    assert isinstance(switched, MasterSwitched)
    assert (switched.old, switched.new, switched.via) == (OLD, NEW, "reconciliation")


def test_a_lookup_older_than_a_switch_does_not_undo_it() -> None:
    scripted = watcher()
    scripted.discovery.note_switch(None, OLD)
    with capture_events(scripted) as events:
        scripted.notify("+switch-master", "svc 10.0.0.5 6379 10.0.0.6 6379")
        scripted.learn(topology(OLD))  # a lookup made before the switch, finishing after it
    assert len(events) == 1
    assert scripted.master == NEW


def test_notifications_of_other_services_and_unreadable_ones_are_ignored() -> None:
    scripted = watcher()
    with capture_events(scripted) as events:
        scripted.notify("+switch-master", "other 10.0.0.5 6379 10.0.0.6 6379")
        scripted.notify("+switch-master", "svc garbage")
        scripted.notify("+odown", "")
    assert events == []


def test_commands_wait_for_the_promotion_to_end() -> None:
    scripted = watcher()
    promoting = "slave 10.0.0.6:6379 10.0.0.6 6379 @ svc 10.0.0.5 6379"
    scripted.start()
    scripted.notify("+failover-state-send-slaveof-noone", promoting)
    released: list[float] = []

    def wait() -> None:
        scripted.wait_until_not_promoting(time.monotonic() + 10)
        released.append(time.monotonic())

    waiter = threading.Thread(target=wait)
    waiter.start()
    time_of_switch = time.monotonic()
    scripted.notify("+switch-master", "svc 10.0.0.5 6379 10.0.0.6 6379")
    waiter.join(5)
    scripted.close()
    assert released
    assert released[0] >= time_of_switch


@pytest.mark.parametrize("payload", ["", "master", "slave a b @ svc"])
def test_short_payloads_do_not_break_anything(payload: str) -> None:
    assert watcher().notify("+sdown", payload) is None
