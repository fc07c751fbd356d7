"""What a receiving node checks of an item a partner delivered, all in the policy (decide_receive), and
which messages a node takes from a partner at all (decide_peer, decide_unreadable)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

from domain_builders import BEFORE_GSOMIA, CATALOG, NOW, consent, label, official, request

from gsomia.domain.agreements import Notice
from gsomia.domain.catalog import Catalog
from gsomia.domain.officials import Role
from gsomia.domain.policy import decide, decide_peer, decide_unreadable
from gsomia.domain.requests import Action, Decision, Request

JPN_NODE = official("JPN", roles=(Role.NODE,))
USA_NODE = official("USA", roles=(Role.NODE,))


def receipt(**kw: object) -> Request:
    fields: dict[str, object] = {"subject": JPN_NODE, "recipient": "JPN", "sender": "KOR", "signer": "KOR"}
    fields.update(kw)
    return request(Action.RECEIVE, **fields)  # type: ignore[arg-type]


def refused_by(req: Request, rule: str) -> Decision:
    decision = decide(req, CATALOG)
    assert not decision.allowed and rule in decision.rules, decision
    assert all(reason.strip() for reason in decision.reasons)
    return decision


def test_a_direct_item_from_its_originator_is_received() -> None:
    decision = decide(receipt(), CATALOG)
    assert decision.allowed and "provided by KOR" in decision.reasons[0]


def test_R6_a_the_sealed_item_must_be_signed_by_its_originator_or_whoever_provided_it() -> None:
    refused_by(receipt(signer="USA"), "R6.a")


def test_G1_an_item_for_another_party_is_taken_only_by_its_hub() -> None:
    refused_by(receipt(recipient="USA"), "G1")  # for USA, sent to JPN, and JPN is no hub for it
    hub = receipt(subject=USA_NODE, recipient="JPN", via="USA", at=BEFORE_GSOMIA, consents=(consent(),))
    assert decide(hub, CATALOG).allowed  # the US hub takes it on its way to JPN (the relay is decided apart)


def test_T4_an_item_said_to_come_through_a_hub_must_come_from_that_hub() -> None:
    through = receipt(via="USA", sender="USA", at=BEFORE_GSOMIA, consents=(consent(),))
    assert decide(through, CATALOG).allowed
    refused_by(receipt(via="USA", sender="KOR", at=BEFORE_GSOMIA, consents=(consent(),)), "T4")


def test_R6_a_a_holder_passing_on_anothers_item_needs_the_originators_written_consent() -> None:
    disclosed = receipt(subject=USA_NODE, recipient="USA", sender="JPN", signer="JPN")
    refused_by(disclosed, "R6.a")
    with_consent = receipt(subject=USA_NODE, recipient="USA", sender="JPN", signer="JPN",
                           consents=(consent(to="USA"),), item_id="KOR-1")
    assert decide(with_consent, CATALOG).allowed


def test_without_the_delivery_facts_the_item_is_taken_as_from_its_hub_or_originator() -> None:
    """The feed's gate asks without sender or signer: provided by the hub if there is one, else the originator."""
    node = official("JPN", roles=(Role.NODE,))
    assert decide(request(Action.RECEIVE, subject=node, item=label(), recipient=None), CATALOG).allowed


def test_R21_1_no_message_is_taken_from_a_partner_before_any_agreement_with_it_is_in_force() -> None:
    assert not decide_peer("JPN", "KOR", BEFORE_GSOMIA.replace(year=2013), CATALOG).allowed
    decision = decide_peer("JPN", "KOR", NOW, CATALOG)
    assert decision.allowed and decision.agreement == "jpn-kor-gsomia-2016"


def test_R21_4_after_termination_notices_about_items_held_still_pass() -> None:
    """Terminated (KOR's 2019 notice, had it not been suspended): destruction certificates, recalls and
    compromise reports about items already held still flow; every new item is refused on its own."""
    gsomia = CATALOG.agreement("jpn-kor-gsomia-2016")
    ended = replace(gsomia, notices=(Notice("n", "termination", "KOR", date(2019, 8, 23)),))
    catalog = Catalog(CATALOG.schemes, [ended if a.id == gsomia.id else a for a in CATALOG.agreements
                                        if a.id != "usa-jpn-kor-tisa-2014"])
    after = datetime(2020, 1, 10, tzinfo=timezone.utc)
    decision = decide_peer("JPN", "KOR", after, catalog)
    assert decision.allowed and "R21.4" in decision.rules
    assert not decide(receipt(at=after), catalog).allowed


def test_G3_no_message_passes_between_parties_no_agreement_binds() -> None:
    decision = decide_peer("JPN", "AUS", NOW, CATALOG)
    assert not decision.allowed and decision.rules == ("G3",)


def test_G4_a_message_that_cannot_be_understood_is_refused_for_good() -> None:
    decision = decide_unreadable("recall", "the recall payload has no item_ref")
    assert not decision.allowed and decision.rules == ("G4",) and "item_ref" in decision.reasons[0]
