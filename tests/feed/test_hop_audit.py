"""Per-hop decisions counted for the audit trail: one aggregate per gate, stream and decision per interval,
a refusal reported the moment it is decided, nothing counted twice or lost when a decision lapses."""

from __future__ import annotations

from dataclasses import replace

from gsomia.domain.catalog import Catalog
from gsomia.domain.hops import HopDecisions
from gsomia.domain.officials import Role
from gsomia.domain.tracks import TrackMessage
from gsomia.feed.dissemination import PeerFilter, ReaderFilter, Receipt, policy_decider
from gsomia.feed.hop_audit import HopLedger
from gsomia.services.feed_audit import audit_draft

from .helpers import kor_consent_to_jpn, official
from .test_dissemination import JPN_NODE, KOR_RELEASER, USA_NODE, Clock, msg


def test_a_gate_counts_each_message_and_the_ledger_drains_one_aggregate_per_stream(catalog: Catalog) -> None:
    clock = Clock()
    ledger = HopLedger(clock)
    gate = PeerFilter(policy_decider(catalog), clock, "KOR", "USA", KOR_RELEASER)
    gate.audit_to(ledger)
    for seq in range(1, 101):
        assert gate.allows(msg(seq=seq))
    assert gate.allows(msg(stream="KOR-T2", seq=7))
    clock.now += 1
    records = {r.stream: r for r in ledger.drain()}
    one = records["KOR-T1"]
    assert (one.action, one.actor, one.counterpart, one.allowed) == ("release", "kor-ro", "to USA", True)
    assert (one.count, one.first_seq, one.last_seq) == (100, 1, 100)
    assert (records["KOR-T2"].count, records["KOR-T2"].first_seq) == (1, 7)
    assert ledger.drain() == []  # counted once: the next interval starts from zero
    gate.allows(msg(seq=101))
    assert [(r.count, r.first_seq, r.last_seq) for r in ledger.drain()] == [(1, 101, 101)]


def test_a_refusal_is_reported_when_decided_and_its_messages_counted_as_they_come(catalog: Catalog) -> None:
    clock = Clock()
    woken: list[int] = []
    ledger = HopLedger(clock, on_refusal=lambda: woken.append(1))
    gate = PeerFilter(policy_decider(catalog), clock, "USA", "JPN", USA_NODE)  # no consent held: T5
    gate.audit_to(ledger)
    held = Receipt(policy_decider(catalog), clock, catalog, "USA", "KOR", USA_NODE).accept(msg())
    assert held is not None
    assert not gate.allows(held)
    assert woken == [1]
    for seq in (2, 3, 4):
        assert not gate.allows(msg_at(held, seq))
    assert woken == [1]  # once per decision, not per message
    first, counted = ledger.drain()
    assert (first.allowed, first.count, first.first_seq, first.action) == (False, 0, 1, "relay")
    assert "T5" in first.rules and first.summary() == "to JPN; decided at seq 1"
    assert (counted.count, counted.first_seq, counted.last_seq) == (4, 1, 4)


def test_counts_of_a_lapsed_decision_are_kept_and_the_new_decision_counts_afresh(catalog: Catalog) -> None:
    clock = Clock()
    ledger = HopLedger(clock)
    consents = [kor_consent_to_jpn()]
    gate = Receipt(policy_decider(catalog), clock, catalog, "JPN", "USA", JPN_NODE, consents=lambda: tuple(consents))
    gate.audit_to(ledger)
    at_usa = Receipt(policy_decider(catalog), clock, catalog, "USA", "KOR", USA_NODE).accept(msg())
    assert at_usa is not None
    assert gate.held(at_usa) is not None and gate.held(msg_at(at_usa, 2)) is not None
    consents.clear()
    gate.invalidate()  # the consent was withdrawn
    assert gate.held(msg_at(at_usa, 3)) is None
    allowed, refusal, refused = ledger.drain()
    assert (allowed.allowed, allowed.count, allowed.last_seq, allowed.counterpart) == (True, 2, 2, "from USA")
    assert (refusal.allowed, refusal.count) == (False, 0)
    assert (refused.allowed, refused.count, refused.first_seq) == (False, 1, 3)


def test_a_departing_reader_leaves_its_counts_behind(catalog: Catalog) -> None:
    clock = Clock()
    ledger = HopLedger(clock)
    reader = ReaderFilter(policy_decider(catalog), clock, official("KOR", "I", Role.READER, ident="kor-watch"))
    reader.audit_to(ledger)
    assert reader.allows(msg(seq=1)) and reader.allows(msg(seq=2))
    ledger.forget(reader)
    [record] = ledger.drain()
    assert (record.action, record.actor, record.counterpart, record.count) == ("read", "kor-watch",
                                                                             "reader kor-watch", 2)
    assert ledger.drain() == []


def test_an_aggregate_becomes_an_audit_entry_with_its_rules_reasons_and_range() -> None:
    record = HopDecisions("relay", "node:USA", "KOR-T1", "to JPN", False, ("G1",), ("JPN is not in REL TO.",),
                          None, 42, 3, 44, 0.0, 1.0)
    entry = audit_draft(record)
    assert (entry.actor, entry.via, entry.action, entry.subject, entry.decision, entry.rules) == (
        "node:USA", "feed", "feed.relay", "KOR-T1", "deny", ("G1",))
    assert entry.reasons[0] == "JPN is not in REL TO."
    assert entry.reasons[-1] == ("to JPN; 42 messages, seq 3-44;"
                                 " 1970-01-01T00:00:00.000+00:00 to 1970-01-01T00:00:01.000+00:00")


def msg_at(held: TrackMessage, seq: int) -> TrackMessage:
    return replace(held, seq=seq)
