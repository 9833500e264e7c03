"""Discovery's decisions, apart from its I/O: hand-made Sentinel answers, no cluster.

`vedette.sentinel.decisions` reads the replies, counts the votes, remembers the switches and
chooses the error; `test_discovery.py` checks the same rules against real Sentinels.
"""

from __future__ import annotations

import pytest

import vedette
import vedette.sentinel.discovery
from vedette import (
    Address,
    AddressMap,
    AuthenticationError,
    Discovery,
    MasterNotFoundError,
    NoPermissionError,
    SentinelConfig,
    SentinelsUnreachableError,
    ServiceNotFoundError,
    Topology,
)
from vedette.failures import Failure
from vedette.sentinel import decisions
from vedette.sentinel.decisions import Answer, SwitchMemory

S1, S2, S3, S4 = (Address(f"10.0.0.{n}", 26379) for n in range(1, 5))
OLD, NEW, OTHER, OLDEST = (Address(f"10.0.0.{n}", 6379) for n in range(5, 9))
REPLICA_A, REPLICA_B = Address("10.0.0.10", 6379), Address("10.0.0.11", 6379)


def named(
    sentinel: Address,
    master: Address,
    epoch: int = 0,
    *,
    sentinel_id: str | None = None,
    peers: tuple[tuple[str, Address], ...] = (),
    replicas: tuple[Address, ...] = (),
    failing_over: bool = False,
    down: bool = False,
) -> Answer:
    """The answer of ``sentinel`` naming ``master`` at ``epoch``."""
    return Answer(
        sentinel,
        sentinel_id=sentinel_id,
        master=master,
        epoch=epoch,
        failing_over=failing_over,
        down=down,
        replicas=replicas,
        peers=peers,
    )


def failed(
    sentinel: Address, failure: Failure, reason: str, *, monitored: tuple[str, ...] = ()
) -> Answer:
    """The answer of ``sentinel`` that gave none, and why."""
    return Answer(sentinel, failure=failure, reason=reason, monitored=monitored)


def by_sentinel(*answers: Answer) -> dict[Address, Answer]:
    return {answer.sentinel: answer for answer in answers}


def flat(entry: dict[str, str]) -> list[str]:
    """A Sentinel's flat ``[key, value, ...]`` reply for ``entry``."""
    return [item for pair in entry.items() for item in pair]


def server(address: Address, fields: dict[str, str]) -> list[str]:
    """A ``SENTINEL MASTER/REPLICAS/SENTINELS`` reply entry for ``address`` with ``fields``."""
    return flat({"ip": address.host, "port": str(address.port), **fields})


def behind_nat(address: Address) -> Address:
    return Address("nat-" + address.host, address.port + 10000)


# --- reading a Sentinel's replies --------------------------------------------------------------


def test_a_reply_is_read_after_nat_without_unusable_replicas_or_down_sentinels() -> None:
    master = server(
        OLD,
        {
            "name": "svc",
            "flags": "master,o_down,failover_in_progress",
            "config-epoch": "7",
            "num-other-sentinels": "2",
        },
    )
    replicas = [
        server(REPLICA_A, {"flags": "slave", "master-link-status": "ok"}),
        server(REPLICA_B, {"flags": "slave,s_down", "master-link-status": "ok"}),
        server(Address("10.0.0.12", 6379), {"flags": "slave,disconnected"}),
        server(Address("10.0.0.13", 6379), {"flags": "slave", "master-link-status": "err"}),
    ]
    others = [
        server(S2, {"flags": "sentinel", "runid": "id-2"}),
        server(S3, {"flags": "sentinel,disconnected", "runid": "id-3"}),  # its own link only
        server(S4, {"flags": "sentinel,s_down", "runid": "id-4"}),
    ]
    # Strict: an address left out is never translated (it would raise), so never dialled.
    nat = AddressMap({a: behind_nat(a) for a in (OLD, REPLICA_A, S2, S3)}, strict=True)

    answer = decisions.parse_answer(
        S1, "id-1", master, replicas, others, translate=nat.translate, min_other_sentinels=0
    )

    assert answer == Answer(
        S1,
        sentinel_id="id-1",
        master=behind_nat(OLD),
        epoch=7,
        failing_over=True,
        down=True,
        replicas=(behind_nat(REPLICA_A),),
        peers=(("id-2", behind_nat(S2)), ("id-3", behind_nat(S3))),
    )
    assert answer.describe() == f"names {behind_nat(OLD)} as master (config epoch 7)"


def test_a_sentinel_that_sees_too_few_others_is_ignored() -> None:
    master = server(OLD, {"flags": "master", "num-other-sentinels": "1", "config-epoch": "2"})
    answer = decisions.parse_answer(
        S1, None, master, [], [], translate=lambda a: a, min_other_sentinels=2
    )
    assert (answer.master, answer.failure) == (None, "error")
    assert answer.describe() == "ignored: sees 1 other Sentinels, fewer than min_other_sentinels=2"


def test_fields_pairs_a_flat_reply_and_refuses_an_odd_one() -> None:
    assert decisions.fields(["ip", "10.0.0.1", "port", "26379"]) == {
        "ip": "10.0.0.1",
        "port": "26379",
    }
    with pytest.raises(ValueError, match="shorter"):
        decisions.fields(["ip", "10.0.0.1", "port"])


def test_a_cut_question_is_unreachable_and_says_so() -> None:
    answer = Answer.cut(S1)
    assert (answer.failure, answer.closed, answer.describe()) == (
        "unreachable",
        True,
        "closed while asking",
    )


# --- votes ----------------------------------------------------------------------------------


def test_a_majority_is_more_than_half_of_the_sentinels_asked() -> None:
    two_of = [named(S1, OLD), named(S2, OLD), failed(S3, "unreachable", "timed out")]
    assert decisions.has_majority(two_of, asked=3)
    assert not decisions.has_majority(two_of, asked=4)  # half is not a majority


def test_a_split_vote_is_no_majority() -> None:
    split = [named(S1, OLD), named(S2, NEW), named(S3, OTHER)]
    assert not decisions.has_majority(split, asked=3)
    assert not decisions.has_majority([], asked=3)


def test_the_master_named_by_most_sentinels_wins_over_a_higher_epoch() -> None:
    answers = by_sentinel(named(S1, NEW, 5), named(S2, OLD, 1), named(S3, OLD, 1))
    assert decisions.candidates(answers, (S1, S2, S3))[0] == OLD


def test_a_tie_goes_to_the_highest_epoch_and_an_older_one_is_no_fallback() -> None:
    answers = by_sentinel(named(S1, OLD, 1), named(S2, NEW, 2))
    assert decisions.candidates(answers, (S1, S2)) == [NEW]


def test_after_the_best_only_masters_named_at_a_newer_epoch_are_candidates() -> None:
    answers = by_sentinel(
        named(S1, OLD, 2),
        named(S2, OLD, 2),
        named(S3, OLDEST, 1),  # older configuration: stale
        named(S4, NEW, 3),  # newer configuration: worth a try if OLD is not a master
    )
    assert decisions.candidates(answers, (S1, S2, S3, S4)) == [OLD, NEW]
    equal = by_sentinel(named(S1, OLD, 2), named(S2, OLD, 2), named(S3, OTHER, 2))
    assert decisions.candidates(equal, (S1, S2, S3)) == [OLD]


def test_a_full_tie_goes_to_the_master_named_by_the_sentinel_asked_first() -> None:
    answers = by_sentinel(named(S2, OLD, 1), named(S1, NEW, 1))  # delivered out of order
    assert decisions.candidates(answers, (S1, S2)) == [NEW]
    assert decisions.candidates(answers, (S2, S1)) == [OLD]


def test_no_master_named_is_no_candidate() -> None:
    answers = by_sentinel(failed(S1, "unreachable", "timed out"), failed(S2, "auth", "refused"))
    assert decisions.candidates(answers, (S1, S2)) == []


# --- staleness: masters seen replaced ----------------------------------------------------------


def switched_from_old_at(epoch: int) -> SwitchMemory:
    """A memory that saw OLD named at ``epoch``, then replaced by NEW."""
    memory = SwitchMemory()
    memory.note_answer(named(S1, OLD, epoch))
    memory.note_answer(named(S2, OLD, epoch - 1))  # an older answer lowers nothing
    memory.note_switch(OLD, NEW)
    return memory


def test_naming_a_replaced_master_at_its_known_epoch_or_older_is_stale() -> None:
    memory = switched_from_old_at(3)
    memory.note_answer(named(S1, NEW, 4))
    assert memory.is_stale(OLD, 3)
    assert memory.is_stale(OLD, 2)
    assert not memory.is_stale(NEW, 4)  # the replacement itself is not stale
    assert not memory.is_stale(OTHER, 0)  # nor a master never replaced


def test_a_replaced_master_is_stale_while_its_replacement_epoch_is_unknown() -> None:
    memory = switched_from_old_at(3)
    assert memory.is_stale(OLD, 100)


def test_a_replaced_master_counts_again_only_at_a_newer_epoch_than_its_replacement() -> None:
    memory = switched_from_old_at(3)
    memory.note_answer(named(S1, NEW, 5))
    assert memory.is_stale(OLD, 4)  # newer than OLD was, older than NEW's configuration
    assert not memory.is_stale(OLD, 6)


def test_switching_back_to_a_replaced_master_makes_it_current_again() -> None:
    memory = switched_from_old_at(3)
    memory.note_switch(NEW, OLD)
    assert not memory.is_stale(OLD, 0)
    assert memory.is_stale(NEW, 0)


def test_a_switch_from_an_unknown_master_or_to_itself_demotes_nothing() -> None:
    memory = SwitchMemory()
    memory.note_switch(None, NEW)
    memory.note_switch(OLD, OLD)
    assert not memory.is_stale(OLD, 0)
    assert not memory.is_stale(NEW, 0)


def test_fresh_answers_leave_out_only_those_naming_a_replaced_master() -> None:
    memory = switched_from_old_at(3)
    memory.note_answer(named(S3, NEW, 4))
    answers = by_sentinel(
        named(S1, OLD, 3), named(S2, NEW, 4), failed(S3, "unreachable", "timed out")
    )
    assert memory.fresh(answers) == {S2: answers[S2], S3: answers[S3]}


def test_discovery_keeps_its_switches_in_a_switch_memory() -> None:
    config = SentinelConfig(sentinels=[S1, S2, S3], service_name="svc")
    with Discovery(config) as discovery:  # connects to nothing until asked
        discovery.note_switch(OLD, NEW)
        assert discovery.is_stale(OLD, 0)
        assert not discovery.is_stale(NEW, 0)


# --- the topology of a verified master ---------------------------------------------------------


def test_a_sentinel_configured_and_reported_under_another_address_is_counted_once() -> None:
    # S1 and S2 are configured; each reports the other as seen from its side of the NAT.
    answers = by_sentinel(
        named(S1, OLD, sentinel_id="id-1", peers=(("id-2", behind_nat(S2)),)),
        named(S2, OLD, sentinel_id="id-2", peers=(("id-1", behind_nat(S1)), ("id-3", S3))),
    )
    topology, learned = decisions.topology(
        OLD, answers, service_name="svc", sentinels=(S1, S2), configured=(S1, S2)
    )
    assert topology.sentinels == (S1, S2, S3)
    assert learned == (S3,)


def test_learned_sentinels_are_those_the_agreeing_answers_know_beyond_the_configured() -> None:
    # S2 was learned by an earlier lookup; S4 is known only to a Sentinel naming another master.
    answers = by_sentinel(
        named(S1, OLD, peers=(("id-2", S2), ("id-3", S3))),
        named(S2, OLD, peers=(("id-1", S1),)),
        named(S3, OTHER, peers=(("id-4", S4),)),
    )
    topology, learned = decisions.topology(
        OLD, answers, service_name="svc", sentinels=(S1, S2, S3), configured=(S1,)
    )
    assert topology.sentinels == (S1, S2, S3)
    assert learned == (S2, S3)


def test_the_topology_describes_the_agreeing_answers() -> None:
    answers = by_sentinel(
        named(S1, OLD, 2, replicas=(REPLICA_B, REPLICA_A)),
        named(S2, OLD, 3, replicas=(REPLICA_A,), down=True),
        named(S3, OTHER, 9, failing_over=True, down=True),
        failed(S4, "unreachable", "timed out"),
    )
    topology, _ = decisions.topology(
        OLD, answers, service_name="svc", sentinels=(S1, S2, S3, S4), configured=(S1,)
    )
    assert topology == Topology(
        service_name="svc",
        master=OLD,
        replicas=(REPLICA_A, REPLICA_B),  # the first agreeing answer's, sorted
        sentinels=(S1, S2),
        config_epoch=3,  # the newest agreeing one
        agreeing=2,
        asked=4,
        failover_in_progress=True,  # any Sentinel's word counts
        master_down=True,  # an agreeing Sentinel's only
    )
    quiet = {S1: answers[S1], S3: named(S3, OTHER, down=True)}
    topology, _ = decisions.topology(
        OLD, quiet, service_name="svc", sentinels=(S1, S3), configured=(S1,)
    )
    assert (topology.failover_in_progress, topology.master_down) == (False, False)


def test_topology_is_one_class_wherever_it_is_imported_from() -> None:
    assert vedette.Topology is vedette.sentinel.discovery.Topology is decisions.Topology


# --- the error when no master is usable --------------------------------------------------------


def no_master(*answers: Answer, tried: dict[Address, str] | None = None) -> Exception:
    return decisions.no_master_error(by_sentinel(*answers), tried or {}, service_name="svc")


def test_candidates_checked_and_refused_are_not_usable() -> None:
    error = no_master(
        named(S1, OLD, 1),
        named(S2, NEW, 2),
        failed(S3, "unreachable", "unreachable: timed out"),
        tried={OLD: "is not a master: it says it is a replica", NEW: "unreachable: refused"},
    )
    assert isinstance(error, MasterNotFoundError)
    assert str(error) == (
        "the Sentinels name a master for 'svc' that is not usable: "
        f"{OLD} is not a master: it says it is a replica; {NEW} unreachable: refused"
        f"\n  Sentinel {S1}: names {OLD} as master (config epoch 1)"
        f"\n  Sentinel {S2}: names {NEW} as master (config epoch 2)"
        f"\n  Sentinel {S3}: unreachable: timed out"
    )
    assert error.service_name == "svc"
    assert error.answers == {
        str(S1): f"names {OLD} as master (config epoch 1)",
        str(S2): f"names {NEW} as master (config epoch 2)",
        str(S3): "unreachable: timed out",
    }


def test_every_reachable_sentinel_refusing_the_credentials_is_an_authentication_error() -> None:
    error = no_master(
        failed(S1, "auth", f"authentication failed for Sentinel {S1}"),
        failed(S2, "unreachable", "timed out"),  # says nothing of the credentials
        failed(S3, "auth", f"authentication failed for Sentinel {S3}"),
    )
    assert isinstance(error, AuthenticationError)
    assert str(error) == (
        f"authentication failed for Sentinel {S1}, authentication failed for Sentinel {S3}; "
        "check sentinel_username and sentinel_password"
    )


def test_every_reachable_sentinel_refusing_tls_is_an_authentication_error() -> None:
    error = no_master(
        failed(S1, "tls", f"Sentinel {S1}: certificate verify failed"),
        failed(S2, "tls", f"Sentinel {S2}: certificate verify failed"),
    )
    assert isinstance(error, AuthenticationError)
    assert str(error) == (
        f"Sentinel {S1}: certificate verify failed, Sentinel {S2}: certificate verify failed"
    )


def test_every_reachable_sentinel_refusing_a_command_is_no_permission() -> None:
    refused = "NOPERM this user has no permissions to run the 'sentinel|master' command"
    error = no_master(failed(S1, "permission", refused), failed(S2, "permission", refused))
    assert isinstance(error, NoPermissionError)
    assert str(error) == (
        f"Sentinel {S1}, {S2} refused the ACL user of sentinel_username: {refused}; grant that "
        "permission to the user (ACL SETUSER), or configure a user that has it"
    )


def test_no_reachable_sentinel_monitoring_the_service_lists_what_they_monitor() -> None:
    error = no_master(
        failed(S1, "unknown_service", "does not monitor 'svc'", monitored=("queue", "cache")),
        failed(S2, "unknown_service", "does not monitor 'svc'", monitored=("cache",)),
        failed(S3, "unreachable", "timed out"),
    )
    assert isinstance(error, ServiceNotFoundError)
    assert str(error).startswith(
        "no Sentinel monitors a service named 'svc'; they monitor 'cache', 'queue'\n"
    )
    assert error.monitored == ("cache", "queue")
    nothing = no_master(failed(S1, "unknown_service", "does not monitor 'svc'"))
    assert str(nothing).startswith(
        "no Sentinel monitors a service named 'svc'; they monitor nothing"
    )


def test_no_sentinel_reachable_is_sentinels_unreachable() -> None:
    error = no_master(failed(S1, "unreachable", "timed out"), Answer.cut(S2))
    assert isinstance(error, SentinelsUnreachableError)
    assert isinstance(error, MasterNotFoundError)
    assert str(error) == (
        "no Sentinel of 'svc' could be reached"
        f"\n  Sentinel {S1}: timed out\n  Sentinel {S2}: closed while asking"
    )
    no_answer = decisions.no_master_error({}, {}, service_name="svc")
    assert isinstance(no_answer, SentinelsUnreachableError)


def test_answers_naming_only_replaced_masters_have_not_caught_up() -> None:
    # What is left when every answer was stale: no candidate was tried.
    error = no_master(
        named(S1, OLD, 1), named(S2, OTHER, 1), failed(S3, "unreachable", "timed out")
    )
    assert type(error) is MasterNotFoundError
    assert str(error).startswith(
        f"the Sentinels that answered still name {OLD}, {OTHER} as master of 'svc', which this "
        "process saw replaced: they have not caught up yet\n"
    )


def test_mixed_failures_without_a_master_named_are_master_not_found() -> None:
    error = no_master(
        failed(S1, "auth", f"authentication failed for Sentinel {S1}"),
        failed(S2, "error", "ignored: sees 0 other Sentinels, fewer than min_other_sentinels=1"),
    )
    assert type(error) is MasterNotFoundError
    assert str(error).startswith("no Sentinel named a master for 'svc'\n")
