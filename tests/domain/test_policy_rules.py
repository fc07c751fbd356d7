"""One test (at least) per rule of the rule book that a decision can check; each names its rule id."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from domain_builders import (
    BEFORE_GSOMIA,
    CATALOG,
    MISSILE,
    NOW,
    c,
    consent,
    held_by,
    label,
    official,
    request,
    with_subject,
)

from gsomia.domain.agreements import Notice
from gsomia.domain.catalog import Catalog
from gsomia.domain.officials import OfficialStatus, Role
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request


def ask(req: Request) -> Decision:
    return decide(req, CATALOG)


def denied_by(req: Request, rule: str) -> Decision:
    decision = ask(req)
    assert not decision.allowed, decision
    assert rule in decision.rules, decision
    assert decision.reasons and all(r.strip() for r in decision.reasons)
    return decision


def allowed(req: Request) -> Decision:
    decision = ask(req)
    assert decision.allowed, decision
    assert decision.reasons
    return decision


# --- Japan–ROK GSOMIA, Art. 4 -----------------------------------------------------------------------

def test_release_kor_ii_to_jpn_under_the_gsomia() -> None:
    assert allowed(request()).agreement == "jpn-kor-gsomia-2016"


def test_R4_1_only_table_markings_are_in_scope() -> None:
    # BOEI is in the table; a marking outside the table of the governing agreement is refused.
    item = label("JPN", "JPN:HI", topics=MISSILE)
    assert allowed(request(subject=official("JPN"), item=item, recipient="KOR")).agreement == "jpn-kor-gsomia-2016"
    gsomia = CATALOG.agreement("jpn-kor-gsomia-2016")
    trimmed = replace(gsomia, equivalence=gsomia.equivalence[:1])
    assert trimmed.row_for(c("JPN:HI")) is None and gsomia.row_for(c("JPN:HI")) is not None


@pytest.mark.parametrize(("party", "top"), [("KOR", "KOR:I"), ("JPN", "JPN:KIMITSU")])
def test_R4_3_the_top_tier_is_excluded(party: str, top: str) -> None:
    to = "JPN" if party == "KOR" else "KOR"
    subject = official(party, clearance=top)
    req = request(subject=subject, item=label(party, top, topics=frozenset({"army"})), recipient=to)
    decision = denied_by(req, "R4.3")
    assert any("above the highest level" in r for r in decision.reasons)


def test_R4_3_level_ii_and_below_pass() -> None:
    allowed(request(item=label("KOR", "KOR:III")))


def test_R4_4_receipt_gives_the_dual_marking() -> None:
    node = official("JPN", roles=(Role.NODE,))
    decision = allowed(request(Action.RECEIVE, subject=node, item=label(), recipient=None))
    assert "JPN:GOKUHI" in decision.reasons[0] and "R4.4" in decision.rules


def test_R4_4_a_received_item_without_both_markings_is_invalid() -> None:
    reader = official("JPN", roles=(Role.READER,))
    denied_by(request(Action.READ, subject=reader, item=label(), recipient=None), "R4.4")
    allowed(request(Action.READ, subject=reader, item=held_by(label(), "JPN"), recipient=None))


def test_R4_5_copies_and_translations_carry_the_markings() -> None:
    reader = official("JPN", roles=(Role.READER,))
    for action in (Action.COPY, Action.TRANSLATE):
        decision = allowed(request(action, subject=reader, item=held_by(label(), "JPN"), recipient=None))
        assert "R4.5" in decision.rules and "Art.16" in decision.rules


def test_R4_6_legacy_boei_maps_to_secret() -> None:
    boei = CATALOG.schemes.parse("防衛秘密")
    assert boei == c("JPN:BOEI") and CATALOG.schemes.level(boei).tier.name == "SECRET"
    gsomia = CATALOG.agreement("jpn-kor-gsomia-2016")
    assert gsomia.equivalent(boei, "KOR") == c("KOR:II")


# --- Art. 6 protection principles --------------------------------------------------------------------

def test_R6_a_disclosure_to_a_third_party_needs_written_consent() -> None:
    holder = official("JPN")
    item = held_by(label(), "JPN")
    req = request(Action.DISCLOSE, subject=holder, item=item, recipient="USA")
    denied_by(req, "R6.a")
    allowed(replace(req, consents=(consent("KOR", "USA"),)))


def test_R6_a_consent_is_scoped_to_recipient_item_and_time() -> None:
    holder = official("JPN")
    req = request(Action.DISCLOSE, subject=holder, item=held_by(label(), "JPN"), recipient="USA", item_id="item-7")
    denied_by(replace(req, consents=(consent("KOR", "JPN"),)), "R6.a")                       # wrong recipient
    denied_by(replace(req, consents=(consent("JPN", "USA"),)), "R6.a")                       # not the originator
    denied_by(replace(req, consents=(consent("KOR", "USA", until=NOW - timedelta(1)),)), "R6.a")  # expired
    denied_by(replace(req, consents=(consent("KOR", "USA", topics=None, item_id="item-8"),)), "R6.a")
    allowed(replace(req, consents=(consent("KOR", "USA", topics=None, item_id="item-7"),)))


def test_R6_a_a_holder_cannot_release_another_partys_item() -> None:
    denied_by(request(subject=official("JPN"), item=held_by(label(), "JPN"), recipient="USA"), "R6.a")


def test_R6_b_purpose_is_required_and_access_outside_it_denied() -> None:
    denied_by(request(item=label(purpose="")), "R6.b")
    reader = official("JPN", roles=(Role.READER,))
    req = request(Action.READ, subject=reader, item=held_by(label(), "JPN"), recipient=None)
    allowed(replace(req, purpose="missile warning"))
    denied_by(replace(req, purpose="public relations"), "R6.b")


def test_R6_c_recipient_must_have_an_equivalent_level() -> None:
    gsomia = CATALOG.agreement("jpn-kor-gsomia-2016")
    rows = tuple(replace(r, codes={"KOR": r.codes["KOR"]}) for r in gsomia.equivalence)
    one_sided = replace(gsomia, equivalence=rows)
    catalog = Catalog(CATALOG.schemes, [one_sided])
    decision = decide(request(agreement="jpn-kor-gsomia-2016"), catalog)
    assert not decision.allowed and "R6.c" in decision.rules


def test_R6_d_the_rights_note_travels_with_the_label() -> None:
    item = label(rights_note="© KOR MND; no commercial use")
    received = held_by(item, "JPN")
    assert received.rights_note == item.rights_note
    assert item.canonical_bytes() != label().canonical_bytes()
    assert any(cat["TagName"] == "Rights" for cat in item.to_stanag4774()["ConfidentialityInformation"]["Category"])


def test_R6_e_only_active_appointed_officials_in_role() -> None:
    denied_by(with_subject(request(), status=OfficialStatus.SUSPENDED), "R6.e")
    denied_by(with_subject(request(), status=OfficialStatus.REVOKED), "R6.e")
    denied_by(with_subject(request(), roles=frozenset({Role.READER})), "R6.e")


def test_R6_g_only_the_provider_reclassifies() -> None:
    officer = official("KOR", roles=(Role.SECURITY_OFFICER,))
    allowed(request(Action.RECLASSIFY, subject=officer, recipient=None, new_classification=c("KOR:III")))
    jpn_officer = official("JPN", roles=(Role.SECURITY_OFFICER,))
    denied_by(request(Action.RECLASSIFY, subject=jpn_officer, item=held_by(label(), "JPN"), recipient=None,
                      new_classification=c("JPN:HI")), "R6.g")
    denied_by(request(Action.RECLASSIFY, subject=officer, recipient=None, new_classification=c("JPN:HI")), "R6.g")


def test_R6_h_and_Art13_the_recipient_destroys_with_a_record() -> None:
    officer = official("JPN", roles=(Role.SECURITY_OFFICER,))
    decision = allowed(request(Action.DESTROY, subject=officer, item=held_by(label(), "JPN"), recipient=None))
    assert {"R6.h", "Art.13"} <= set(decision.rules)
    denied_by(request(Action.DESTROY, subject=official("JPN", roles=(Role.READER,)), item=held_by(label(), "JPN"),
                      recipient=None), "R6.e")


# --- Art. 7 access ------------------------------------------------------------------------------------

def test_R7_1_no_role_or_rank_bypasses_clearance_or_need_to_know() -> None:
    officer = official("JPN", roles=(Role.SECURITY_OFFICER, Role.RELEASING_OFFICIAL, Role.READER),
                       need_to_know=frozenset({"logistics"}))
    decision = denied_by(request(Action.READ, subject=officer, item=held_by(label(), "JPN"), recipient=None), "R7.1")
    assert "R7.2" in decision.rules


def test_R7_2_clearance_at_or_above_the_equivalent_level() -> None:
    reader = official("JPN", clearance="JPN:HI", roles=(Role.READER,))
    denied_by(request(Action.READ, subject=reader, item=held_by(label(), "JPN"), recipient=None), "R7.2")
    allowed(request(Action.READ, subject=official("JPN", clearance="JPN:TOKUTEI", roles=(Role.READER,)),
                    item=held_by(label(), "JPN"), recipient=None))


def test_R7_2_an_expired_clearance_counts_for_nothing() -> None:
    expired = with_subject(request(), clearance_expires=NOW - timedelta(seconds=1))
    assert any("expired" in r for r in denied_by(expired, "R7.2").reasons)
    allowed(with_subject(request(), clearance_expires=NOW + timedelta(days=1)))


def test_R7_2_need_to_know_for_every_topic() -> None:
    denied_by(request(item=label(topics=frozenset({"dprk-missile", "dprk-nuclear"}))), "R7.2")
    denied_by(request(item=label(topics=frozenset())), "R7.2")


def test_R7_2_clearance_must_be_the_officials_own_national_one() -> None:
    denied_by(with_subject(request(), clearance=c("USA:TS")), "R7.2")


def test_R7_5_the_receiving_custodian_is_confirmed_before_handing_over() -> None:
    low = official("JPN", clearance="JPN:HI", roles=(Role.NODE,))
    denied_by(request(Action.RECEIVE, subject=low, recipient=None), "R7.2")
    assert "R7.5" in allowed(request(Action.RECEIVE, subject=official("JPN", roles=(Role.NODE,)), recipient=None)).rules


# --- Art. 21 life ------------------------------------------------------------------------------------

def test_R21_1_nothing_passes_before_entry_into_force() -> None:
    decision = denied_by(request(at=BEFORE_GSOMIA), "R21.1")
    assert "T4" in decision.rules   # and TISA offers no direct path


def test_R21_4_after_termination_no_new_release_but_still_protected() -> None:
    gsomia = CATALOG.agreement("jpn-kor-gsomia-2016")
    ended = replace(gsomia, notices=(Notice("n", "termination", "KOR", date(2019, 8, 23)),))
    catalog = Catalog(CATALOG.schemes, [ended if a.id == gsomia.id else a for a in CATALOG.agreements])
    after = datetime(2020, 1, 10, tzinfo=timezone.utc)
    release = decide(request(at=after), catalog)
    assert not release.allowed and "R21.4" in release.rules
    officer = official("JPN", roles=(Role.SECURITY_OFFICER,))
    destroy = decide(request(Action.DESTROY, subject=officer, item=held_by(label(), "JPN"), recipient=None, at=after),
                     catalog)
    assert destroy.allowed  # protection and destruction go on (R21.4, R6.h)


def test_2019_11_23_the_suspended_notice_does_not_stop_releases() -> None:
    allowed(request(at=datetime(2019, 11, 23, 3, tzinfo=timezone.utc)))


# --- US bilaterals (section 2) --------------------------------------------------------------------------

def test_us_bilaterals_carry_top_secret() -> None:
    usa = official("USA", clearance="USA:TS")
    decision = allowed(request(subject=usa, item=label("USA", "USA:TS", topics=MISSILE), recipient="KOR"))
    assert decision.agreement == "usa-kor-gsomia-1987"
    assert CATALOG.agreement("usa-jpn-gsomia-2007").equivalent(c("USA:TS"), "JPN") == c("JPN:KIMITSU")


# --- TISA (section 3) ------------------------------------------------------------------------------------

def test_T1_tisa_covers_only_dprk_nuclear_and_missile() -> None:
    req = request(at=BEFORE_GSOMIA, via="USA", item=label(topics=frozenset({"army"})),
                  subject=official(need_to_know=frozenset({"army"})), consents=(consent(topics=frozenset({"army"})),))
    denied_by(req, "T1")


def test_T2_any_form_is_labelled_the_same() -> None:
    # T2: oral, visual, electronic or documentary: the label does not depend on the form.
    assert "form" not in label().to_dict()


def test_T3_tisa_rides_on_the_bilaterals_being_in_force() -> None:
    bilateral = CATALOG.agreement("usa-kor-gsomia-1987")
    not_yet = replace(bilateral, life=replace(bilateral.life, notifications={}, entry_into_force=date(2030, 1, 1)))
    catalog = Catalog(CATALOG.schemes, [not_yet if a.id == bilateral.id else a for a in CATALOG.agreements])
    req = request(at=BEFORE_GSOMIA, via="USA", consents=(consent(),))
    assert "T3" in decide(req, catalog).rules


def test_T4_before_the_gsomia_kor_and_jpn_share_only_through_the_us() -> None:
    denied_by(request(at=BEFORE_GSOMIA), "T4")


def test_T5_the_hub_passes_kor_information_to_jpn_only_with_kor_approval() -> None:
    hub = official("USA", roles=(Role.NODE,))
    item = held_by(label(), "USA")
    relay = request(Action.RELAY, subject=hub, item=item, recipient="JPN", at=BEFORE_GSOMIA)
    denied_by(relay, "T5")
    denied_by(replace(relay, consents=(consent("JPN", "JPN"),)), "T5")
    assert allowed(replace(relay, consents=(consent("KOR", "JPN"),))).agreement == "usa-jpn-kor-tisa-2014"


def test_T5_release_via_the_hub_needs_the_originators_written_consent() -> None:
    req = request(at=BEFORE_GSOMIA, via="USA")
    denied_by(req, "T5")
    assert allowed(replace(req, consents=(consent(),))).agreement == "usa-jpn-kor-tisa-2014"


def test_T6_the_hub_holds_relayed_items_under_its_own_equivalent() -> None:
    hub = official("USA", roles=(Role.NODE,))
    decision = allowed(request(Action.RELAY, subject=hub, item=held_by(label(), "USA"), recipient="JPN",
                               at=BEFORE_GSOMIA, consents=(consent(),)))
    assert "USA:S" in decision.reasons[0] and "T6" in decision.rules


def test_T7_tisa_is_an_arrangement_not_a_treaty() -> None:
    tisa = CATALOG.agreement("usa-jpn-kor-tisa-2014")
    assert not tisa.binding and tisa.rides_on
    # Where the binding GSOMIA applies, it governs rather than the arrangement.
    assert CATALOG.between("KOR", "JPN")[0].id == "jpn-kor-gsomia-2016"


def test_receipt_through_the_hub_needs_the_relay_path_and_consent() -> None:
    node = official("JPN", roles=(Role.NODE,))
    req = request(Action.RECEIVE, subject=node, recipient=None, via="USA", at=BEFORE_GSOMIA)
    denied_by(req, "T5")
    allowed(replace(req, consents=(consent(),)))


def test_default_deny_when_no_agreement_binds_the_parties() -> None:
    catalog = Catalog(CATALOG.schemes, [CATALOG.agreement("usa-jpn-gsomia-2007")])
    decision = decide(request(), catalog)
    assert not decision.allowed and "G3" in decision.rules


def test_releasability_is_checked() -> None:
    denied_by(request(item=label(releasable_to=("USA",))), "G1")


def test_releasability_holds_through_the_hub_too() -> None:
    """A relay or a receipt through the hub never takes an item to a party outside its REL TO (G1)."""
    item = held_by(label(releasable_to=("KOR", "USA")), "USA")
    hub = official("USA", roles=(Role.NODE,))
    relay = request(Action.RELAY, subject=hub, item=item, recipient="JPN", at=BEFORE_GSOMIA, consents=(consent(),))
    denied_by(relay, "G1")
    node = official("JPN", roles=(Role.NODE,))
    receipt = request(Action.RECEIVE, subject=node, item=label(releasable_to=("KOR", "USA")), recipient=None,
                      via="USA", at=BEFORE_GSOMIA, consents=(consent(),))
    denied_by(receipt, "G1")
