"""Per-recipient filtering through the real policy: release, relay with consent (T5), receipt, read."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from gsomia.domain.catalog import Catalog
from gsomia.domain.officials import Role
from gsomia.domain.schemes import Classification
from gsomia.domain.tracks import EndOfTrack, TrackMessage
from gsomia.feed.dissemination import PeerFilter, ReaderFilter, Receipt, policy_decider

from .helpers import NOW, kor_consent_to_jpn, make_label, official

T0 = NOW.timestamp()


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def msg(label: object = None, stream: str = "KOR-T1", seq: int = 1) -> TrackMessage:
    from gsomia.domain.labels import Label
    lab = label if isinstance(label, Label) else make_label()
    return TrackMessage(stream, seq, lab.originator, "radar", T0, T0 + 5, lab, EndOfTrack("x"))


KOR_RELEASER = official("KOR", "I", Role.RELEASING_OFFICIAL, ident="kor-ro")
USA_NODE = official("USA", "TS", Role.NODE, ident="usa-node")
JPN_NODE = official("JPN", "KIMITSU", Role.NODE, ident="jpn-node")


def test_kor_releases_its_track_to_usa_but_not_a_noforn_one(catalog: Catalog) -> None:
    f = PeerFilter(policy_decider(catalog), Clock(), "KOR", "USA", KOR_RELEASER)
    assert f.allows(msg())
    denied = f.decision(msg(make_label(releasable=("KOR",)), stream="KOR-T2"))
    assert not denied.allowed and "G1" in denied.rules


def test_decision_is_made_once_per_stream_not_per_message(catalog: Catalog) -> None:
    clock = Clock()
    f = PeerFilter(policy_decider(catalog), clock, "KOR", "USA", KOR_RELEASER)
    assert all(f.allows(msg(seq=i)) for i in range(1, 500))
    assert f.decisions_made == 1
    f.allows(msg(stream="KOR-T2"))
    assert f.decisions_made == 2
    clock.now += 3600  # a new hour: agreement state is looked at again
    f.allows(msg())
    assert f.decisions_made == 3
    f.invalidate()
    f.allows(msg())
    assert f.decisions_made == 4


def test_usa_receives_and_re_marks_then_relays_to_jpn_only_with_kor_consent(catalog: Catalog) -> None:
    decide = policy_decider(catalog)
    receipt = Receipt(decide, Clock(), catalog, "USA", "KOR", USA_NODE)
    held = receipt.accept(msg())
    assert held is not None
    assert held.label.provider == "KOR" and held.label.national_marking == Classification("USA", "S")
    assert held.digest != msg().digest

    without = PeerFilter(decide, Clock(), "USA", "JPN", USA_NODE)
    refused = without.decision(held)
    assert not refused.allowed and "T5" in refused.rules

    consents = (kor_consent_to_jpn(),)
    relay = PeerFilter(decide, Clock(), "USA", "JPN", USA_NODE, consents=lambda: consents)
    assert relay.allows(held)
    # The consent's scope is topics: a nuclear-test track is not covered by a missile consent.
    nuclear = receipt.accept(msg(make_label(topics=("dprk-nuclear",)), stream="KOR-N1"))
    assert nuclear is not None and not relay.allows(nuclear)


def test_a_consent_is_no_way_around_releasability_on_relay_or_receipt(catalog: Catalog) -> None:
    """G1 for the final recipient: the policy checks it when KOR releases through the hub naming JPN, but a
    feed releases hop by hop (KOR to USA only), so the relay and the receipt check it themselves."""
    decide = policy_decider(catalog)
    consents = (kor_consent_to_jpn(),)
    usa_only = make_label(releasable=("KOR", "USA"))
    at_usa = Receipt(decide, Clock(), catalog, "USA", "KOR", USA_NODE).accept(msg(usa_only))
    assert at_usa is not None
    relay = PeerFilter(decide, Clock(), "USA", "JPN", USA_NODE, consents=lambda: consents)
    refused = relay.decision(at_usa)
    assert not refused.allowed and refused.rules == ("G1",)
    receipt = Receipt(decide, Clock(), catalog, "JPN", "USA", JPN_NODE, consents=lambda: consents)
    assert receipt.accept(at_usa) is None and receipt.decision(at_usa).rules == ("G1",)


def test_jpn_receives_via_the_hub_and_a_cleared_reader_reads(catalog: Catalog) -> None:
    decide = policy_decider(catalog)
    consents = (kor_consent_to_jpn(),)
    at_usa = Receipt(decide, Clock(), catalog, "USA", "KOR", USA_NODE).accept(msg())
    assert at_usa is not None
    assert Receipt(decide, Clock(), catalog, "JPN", "USA", JPN_NODE).accept(at_usa) is None  # no consent held
    at_jpn = Receipt(decide, Clock(), catalog, "JPN", "USA", JPN_NODE, consents=lambda: consents).accept(at_usa)
    assert at_jpn is not None and at_jpn.label.provider == "USA"
    assert at_jpn.label.national_marking is not None and at_jpn.label.national_marking.party == "JPN"

    cleared = ReaderFilter(decide, Clock(), official("JPN", "GOKUHI", Role.READER, ident="jpn-watch"))
    low = ReaderFilter(decide, Clock(), official("JPN", "HI", Role.READER, ident="jpn-low"))
    no_ntk = ReaderFilter(decide, Clock(), official("JPN", "KIMITSU", Role.READER, topics=("china",)))
    assert cleared.allows(at_jpn)
    assert not low.allows(at_jpn) and "R7.2" in low.decision(at_jpn).rules
    assert not no_ntk.allows(at_jpn)


def test_a_cached_decision_ends_when_the_reader_clearance_expires(catalog: Catalog) -> None:
    clock = Clock()
    reader = replace(official("KOR", "I", Role.READER), clearance_expires=NOW + timedelta(minutes=10))
    f = ReaderFilter(policy_decider(catalog), clock, reader)
    assert f.allows(msg())
    clock.now += 11 * 60
    assert not f.allows(msg())
