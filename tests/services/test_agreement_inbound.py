"""A partner's agreement messages, taken the way the peer endpoint takes them (opened at the edge, handled in
one transaction, answered with signed receipts): a proposal held as proposed, a rejection passed on by the
recording node, a partner's version; and the refusals: a record not signed by its node (G4), an answer from
a party the agreement does not bind, a version of an agreement that does not bind the two (G3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.services.handling_fixtures import Cast

from gsomia.crypto import KeyDirectory, KeyRing, init_keystore
from gsomia.domain.agreement_events import event_from_dict
from gsomia.services import agreement_events, record_bodies
from gsomia.services.agreement_inbound import on_version_answer
from gsomia.services.context import Node
from gsomia.services.inbound import handle_messages, open_batch
from gsomia.services.messages import (
    AgreementAnswerMessage,
    AgreementEventMessage,
    AgreementVersionMessage,
    Payload,
    encode,
)
from gsomia.services.partners import Partners, Peer
from gsomia.services.peer_messages import sign_message
from gsomia.services.record_bodies import AgreementAnswerBody, AgreementEventBody, ReceiptBody

TISA, GSOMIA = "usa-jpn-kor-tisa-2014", "jpn-kor-gsomia-2016"


@pytest.fixture
def partners(tmp_path: Path) -> dict[str, KeyRing]:
    return {party: init_keystore(tmp_path / party.lower(), party, f"{party}-test", passphrase=b"partner keys")
            for party in ("JPN", "USA")}


@pytest.fixture
def kor(node: Node, partners: dict[str, KeyRing]) -> Node:
    """The KOR node knowing JPN's and USA's node keys, as peers.toml would tell it."""
    return node.with_partners(Partners({party: Peer(party, "https://127.0.0.1:1", ring.current.public, "00", b"")
                                        for party, ring in partners.items()}))


def _send(kor: Node, ring: KeyRing, message: Payload, number: int) -> ReceiptBody:
    """`message` from `ring`'s node to KOR's, as it comes over the wire; KOR's signed answer, read."""
    signed = sign_message(ring, f"msg-{ring.party}-{number}", message.kind, "KOR", encode(message), kor.clock())
    (answer,) = handle_messages(kor, open_batch(kor, [signed], ring.party))
    assert isinstance(answer, bytes), answer
    body, _ = record_bodies.read(answer, ReceiptBody, trusted=KeyDirectory([kor.keys.current.public]))
    return body


def _event(kor: Node, ring: KeyRing, agreement: str, event_id: str, origin: str | None = None) -> bytes:
    event = event_from_dict({"id": event_id, "agreement": agreement, "kind": "termination", "by": ring.party,
                             "given": "2026-06-01", "reference": f"{ring.party} note"}, kor.live_catalog.baseline)
    return record_bodies.sign(AgreementEventBody(
        event.id, agreement, "termination", ring.party, "2026-06-01", None, event.reference, None, None,
        origin or ring.party, f"OFF-{ring.party}", kor.clock().isoformat(), event.digest), signer=ring, at=kor.clock())


def _answer(kor: Node, ring: KeyRing, event_id: str, agreement: str, digest: str, reason: str) -> bytes:
    return record_bodies.sign(AgreementAnswerBody(event_id, agreement, digest, ring.party, False, reason,
                                                  f"OFF-{ring.party}", kor.clock().isoformat()),
                              signer=ring, at=kor.clock())


def test_R21_3_a_partner_s_event_is_held_as_proposed_and_a_rejection_passed_on_takes_it_out(
        kor: Node, partners: dict[str, KeyRing], cast: Cast) -> None:
    jpn, usa = partners["JPN"], partners["USA"]
    taken = _send(kor, jpn, AgreementEventMessage(_event(kor, jpn, TISA, "JPN-termination-1")), 1)
    assert taken.outcome == "accepted"
    officer = cast.officer
    (held,) = agreement_events.events(kor, officer, TISA)
    assert (held.record.state, held.record.origin, held.record.applied) == ("proposed", "JPN", False)
    again = _send(kor, jpn, AgreementEventMessage(_event(kor, jpn, TISA, "JPN-termination-1")), 2)
    assert again.outcome == "accepted"  # the same event again: nothing new
    agreement_events.confirm(kor, officer, "JPN-termination-1")
    applied = kor.catalog.version(TISA)
    assert applied.events == (("JPN-termination-1", held.record.digest),)
    # USA rejected it; JPN, whose event it is, passes USA's signed answer on: it counts nowhere now.
    rejection = _answer(kor, usa, "JPN-termination-1", TISA, held.record.digest, "no such note was given")
    assert _send(kor, jpn, AgreementAnswerMessage(rejection), 3).outcome == "accepted"
    (rejected,) = agreement_events.events(kor, officer, TISA)
    assert rejected.record.state == "rejected" and rejected.record.reason == "rejected by USA: no such note was given"
    assert kor.catalog.version(TISA).events == ()


def test_a_partner_s_version_is_kept_to_list_where_we_differ(kor: Node, partners: dict[str, KeyRing],
                                                              cast: Cast) -> None:
    ours = kor.catalog.version(GSOMIA)
    told = AgreementVersionMessage(GSOMIA, "f" * 64, ours.baseline, ("JPN-termination-9",), ("e" * 64,))
    assert _send(kor, partners["JPN"], told, 1).outcome == "accepted"
    (jpn,) = agreement_events.versions(kor, cast.officer, GSOMIA).partners
    assert (jpn.party, jpn.same, jpn.only_theirs, jpn.baseline_differs) == ("JPN", False, ("JPN-termination-9",),
                                                                           False)
    assert jpn.states == (("JPN-termination-9", "unknown here"),)


def test_a_version_s_answer_carries_the_receiver_s_version_and_the_sender_keeps_it(
        kor: Node, partners: dict[str, KeyRing], cast: Cast) -> None:
    """Told a version, a node answers with its own in the signed receipt: the sender learns what the partner holds
    without the partner telling it in a message of its own (which, the versions differing, would be answered…)."""
    ours = kor.catalog.version(GSOMIA)
    jpn = partners["JPN"]
    told = AgreementVersionMessage(GSOMIA, "f" * 64, ours.baseline, (), ())
    signed = sign_message(jpn, "msg-JPN-7", told.kind, "KOR", encode(told), kor.clock())
    (answer,) = handle_messages(kor, open_batch(kor, [signed], "JPN"))
    assert isinstance(answer, bytes)
    _, record = record_bodies.read(answer, ReceiptBody, trusted=KeyDirectory([kor.keys.current.public]))
    assert record.body["same"] is False
    assert record.body["version"] == {"digest": ours.digest, "baseline": ours.baseline,
                                      "event_ids": [i for i, _ in ours.events],
                                      "event_digests": [d for _, d in ours.events]}
    # The other way round: KOR told JPN its version, and JPN's answer said what JPN holds.
    theirs = {"digest": "a" * 64, "baseline": ours.baseline, "event_ids": ["JPN-termination-5"],
              "event_digests": ["e" * 64]}
    sent = AgreementVersionMessage(GSOMIA, ours.digest, ours.baseline, (), ())
    with kor.store.unit_of_work() as uow:
        assert on_version_answer(uow, "JPN", sent, {"same": False, "version": theirs}, kor.clock())
        assert not on_version_answer(uow, "JPN", sent, {"same": True}, kor.clock())  # says nothing it holds
        assert not on_version_answer(uow, "JPN", sent, {"version": {**theirs, "event_ids": []}}, kor.clock())
    (differs,) = agreement_events.versions(kor, cast.officer, GSOMIA).partners
    assert (differs.party, differs.digest, differs.same, differs.only_theirs) == ("JPN", "a" * 64, False,
                                                                                  ("JPN-termination-5",))


@pytest.mark.parametrize("case", ["signed by another node", "answer from a stranger", "version of another pair"])
def test_G4_G3_what_cannot_be_taken_is_refused_with_a_signed_answer(kor: Node, partners: dict[str, KeyRing],
                                                                     case: str) -> None:
    jpn, usa = partners["JPN"], partners["USA"]
    if case == "signed by another node":  # JPN's node passes on a record claiming KOR recorded it
        answer = _send(kor, jpn, AgreementEventMessage(_event(kor, jpn, GSOMIA, "KOR-termination-1", "KOR")), 1)
        assert answer.rules == ("G4",)
    elif case == "answer from a stranger":  # USA answers an event of the GSOMIA, which does not bind it
        record = _event(kor, jpn, GSOMIA, "JPN-termination-2")
        assert _send(kor, jpn, AgreementEventMessage(record), 1).outcome == "accepted"
        digest = record_bodies.read(record, AgreementEventBody, trusted=KeyDirectory([jpn.current.public]))[0].digest
        answer = _send(kor, usa, AgreementAnswerMessage(_answer(kor, usa, "JPN-termination-2", GSOMIA, digest,
                                                                "not ours to say")), 2)
        assert answer.rules == ("G3",)
    else:
        told = AgreementVersionMessage(GSOMIA, "f" * 64, "b" * 64, (), ())
        answer = _send(kor, usa, told, 1)
        assert answer.rules == ("G3",) and "does not bind KOR and USA" in " ".join(answer.reasons)
    assert answer.outcome == "refused" and answer.reasons  # every refusal says why
