"""The life of an agreement as live records: events recorded by the security officer are signed, audited and
applied at once (the shipped data stays the baseline), survive a restart, and reach a node's other processes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.services.handling_fixtures import PASSPHRASE, TOPIC, Cast, label

from gsomia.crypto import KeyDirectory, verify_record
from gsomia.data import load_catalog
from gsomia.domain.agreement_events import event_from_dict
from gsomia.domain.catalog import Catalog
from gsomia.domain.errors import DomainError
from gsomia.domain.life import Status
from gsomia.domain.officials import Official, Role
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Decision, Request
from gsomia.domain.schemes import Classification
from gsomia.services import agreement_events, audit
from gsomia.services.context import Node
from gsomia.services.errors import InvalidInput, NotFound, PermissionDenied
from gsomia.services.live_catalog import LiveCatalog
from gsomia.services.runtime import open_node
from gsomia.storage.agreements import PROPOSED, RECORDED, AgreementEventRecord

GSOMIA = "jpn-kor-gsomia-2016"
TISA = "usa-jpn-kor-tisa-2014"
SHIPPED = load_catalog()


def _without_notices(catalog: Catalog) -> Catalog:
    """The shipped data without the 2019 notices: the baseline the episode is recorded on."""
    return Catalog(catalog.schemes, [replace(a, notices=()) if a.id == GSOMIA else a for a in catalog.agreements])


def _projection(status: Status) -> tuple[object, ...]:
    """What a status says, but for the notices' ids and notes (an event's id is its own)."""
    return (status.state, status.condition, status.entered_into_force, status.terminates_on, status.term_ends,
            status.notice_deadline, tuple((n.notice.by, n.notice.given, n.state, n.takes_effect_on)
                                          for n in status.notices))


RELEASER = Official(party="KOR", clearance=Classification("KOR", "I"), clearance_expires=None,
                    need_to_know=frozenset({TOPIC}), roles=frozenset({Role.RELEASING_OFFICIAL}), id="kor-releaser")


def _release(node: Node, at: datetime, classification: str = "KOR:II") -> Decision:
    """What the policy says now of a release to JPN at `at` (a what-if, under the node's catalogue)."""
    return decide(Request(Action.RELEASE, at, RELEASER, label(node, classification), recipient="JPN"), node.catalog)


def test_R21_3_the_2019_to_2023_episode_recorded_as_events_gives_the_shipped_statuses(node: Node, cast: Cast) -> None:
    live = replace(node, live_catalog=LiveCatalog(_without_notices(SHIPPED)))
    officer = cast.officer
    termination = agreement_events.record_notice(
        live, officer, GSOMIA, by="KOR", kind="termination", given=date(2019, 8, 23), decided=date(2019, 8, 22),
        reference="MOFA note of 23 Aug 2019")
    agreement_events.record_notice(live, officer, GSOMIA, by="KOR", kind="suspension", given=date(2019, 11, 22),
                                   reference="conditional suspension, 22 Nov 2019")
    withdrawal = agreement_events.record_notice(live, officer, GSOMIA, by="KOR", kind="withdrawal",
                                                given=date(2023, 3, 21), reference="both notes withdrawn")
    assert withdrawal.record.notice == termination.record.id  # the party's latest notice, when none is named
    recorded, shipped = live.catalog.agreement(GSOMIA), SHIPPED.agreement(GSOMIA)

    @given(st.datetimes(min_value=datetime(2016, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.just(timezone.utc)))
    @settings(max_examples=300, deadline=None, database=None)
    def same_status(at: datetime) -> None:
        assert _projection(live.catalog.status(recorded, at)) == _projection(SHIPPED.status(shipped, at))

    same_status()


def test_R21_3_a_notice_applies_at_once_and_every_remembered_decision_is_forgotten(node: Node, cast: Cast) -> None:
    before_effect, after_effect = datetime(2027, 11, 1, tzinfo=timezone.utc), datetime(2027, 11, 24,
                                                                                         tzinfo=timezone.utc)
    old = node.catalog
    assert _release(node, after_effect).allowed and len(old.governing) > 0  # decided, and remembered
    view = agreement_events.record_notice(node, cast.officer, GSOMIA, by="JPN", kind="termination",
                                          given=date(2026, 11, 22), reference="note verbale 2026/11")
    assert view.record.state == RECORDED and view.record.origin == "KOR"
    assert node.catalog is not old and len(old.governing) == 0  # a new catalogue; the old one forgot
    status = node.catalog.status(node.catalog.agreement(GSOMIA), before_effect)
    assert status.condition == "in_force_notice_pending" and status.terminates_on == date(2027, 11, 23)
    assert _release(node, before_effect).allowed
    after = _release(node, after_effect)
    assert not after.allowed and "R21.4" in after.rules
    # Signed by the node, and audited with the officer's authority and what was recorded.
    trusted = KeyDirectory([node.keys.current.public])
    body = verify_record(view.record.record, trusted=trusted, expected_type="agreement-event").body
    assert body["digest"] == view.record.digest and body["recorded_by"] == cast.officer.official.id
    entry = audit.tail(node, cast.officer, 1)[0]
    assert entry.action == "agreement.termination" and entry.decision == "allow" and "R21.3" in entry.rules


def test_R6_e_an_event_recorded_by_an_official_who_is_not_a_security_officer_is_refused(node: Node,
                                                                                        cast: Cast) -> None:
    old = node.catalog
    with pytest.raises(PermissionDenied) as refused:
        agreement_events.record_notice(node, cast.reader, GSOMIA, by="KOR", kind="termination",
                                       given=date(2026, 11, 1), reference="not mine to give")
    assert "R6.e" in refused.value.rules and "security officer" in " ".join(refused.value.reasons)
    entry = audit.tail(node, cast.officer, 1)[0]  # refused, and audited like an allowed one
    assert (entry.action, entry.actor, entry.decision) == ("agreement.event", cast.reader.official.id, "deny")
    assert node.catalog is old and agreement_events.events(node, cast.officer, GSOMIA) == []


def test_R21_2_an_amendment_changes_the_terms_and_the_version(node: Node, cast: Cast) -> None:
    at = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
    top = _release(node, at, "KOR:I")
    assert not top.allowed and "R4.3" in top.rules
    before = node.catalog.version(GSOMIA)
    view = agreement_events.record_amendment(
        node, cast.officer, GSOMIA, given=date(2026, 11, 1), reference="exchange of notes, 1 Nov 2026",
        add_rows=[{"tier": "TOP_SECRET", "KOR": ["I"], "JPN": ["KIMITSU"]}], highest_tier="TOP_SECRET")
    assert view.amendment == {"add_rows": [{"tier": "TOP_SECRET", "JPN": ["KIMITSU"], "KOR": ["I"]}],
                              "highest_tier": "TOP_SECRET"}
    amended = node.catalog.agreement(GSOMIA)
    assert amended.version == SHIPPED.agreement(GSOMIA).version + 1
    after = node.catalog.version(GSOMIA)
    assert after.digest != before.digest and after.baseline == before.baseline
    assert after.events == ((view.record.id, view.record.digest),)
    assert _release(node, at, "KOR:I").allowed
    with pytest.raises(DomainError, match="in .*table already"):
        agreement_events.record_amendment(node, cast.officer, GSOMIA, given=date(2026, 11, 2), reference="again",
                                          add_rows=[{"tier": "TOP_SECRET", "KOR": ["I"], "JPN": ["KIMITSU"]}])


def test_the_version_of_an_agreement_that_rides_on_another_follows_it(node: Node, cast: Cast) -> None:
    tisa = node.catalog.version(TISA)
    agreement_events.record_notice(node, cast.officer, "usa-kor-gsomia-1987", by="USA", kind="termination",
                                   given=date(2026, 6, 1), reference="hypothetical")
    assert node.catalog.version(TISA).digest != tisa.digest  # T3: TISA's rules depend on it


@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"kind": "expiry"}, InvalidInput, "kind must be one of"),
    ({"kind": "amendment"}, InvalidInput, "recorded with `amend`"),
    ({"agreement_id": "nope"}, NotFound, "unknown agreement"),
    ({"by": "USA"}, DomainError, "USA is not a party"),
    ({"given": date(2027, 1, 1)}, InvalidInput, "after today"),
    ({"given": date(2015, 1, 1)}, DomainError, "before jpn-kor-gsomia-2016 was signed"),
    ({"decided": date(2026, 11, 20), "given": date(2026, 11, 10)}, DomainError, "decided 2026-11-20 must fall"),
    ({"reference": ""}, DomainError, "reference is missing"),
    ({"kind": "suspension"}, InvalidInput, "KOR has no notice of termination"),
])
def test_bad_events_name_the_problem_and_write_nothing(node: Node, cast: Cast, changes: dict[str, object],
                                                       error: type[Exception], message: str) -> None:
    arguments: dict[str, object] = {"agreement_id": GSOMIA, "by": "KOR", "kind": "termination",
                                    "given": date(2026, 11, 1), "reference": "note", **changes}
    agreement_id = str(arguments.pop("agreement_id"))
    with pytest.raises(error, match=message):
        agreement_events.record_notice(node, cast.officer, agreement_id, **arguments)  # type: ignore[arg-type]
    assert agreement_events.events(node, cast.officer, GSOMIA) == []


def test_a_notice_act_must_fit_the_notice(node: Node, cast: Cast) -> None:
    def notice(by: str, kind: str, given: date, reference: str) -> None:
        agreement_events.record_notice(node, cast.officer, GSOMIA, by=by, kind=kind, given=given, reference=reference)

    steps: list[tuple[tuple[str, str, date, str], type[Exception] | None, str]] = [
        (("KOR", "termination", date(2026, 1, 10), "note 1"), None, ""),
        (("JPN", "withdrawal", date(2026, 2, 1), "not JPN's"), InvalidInput, "JPN has no notice"),
        (("KOR", "suspension", date(2026, 11, 1), "suspended"), None, ""),
        (("KOR", "suspension", date(2026, 11, 2), "again"), DomainError, "second suspension is not representable"),
        (("KOR", "lifting", date(2026, 10, 1), "before"), DomainError, "is not suspended on 2026-10-01"),
        (("JPN", "termination", date(2025, 1, 10), "JPN's, in force on 23 Nov 2025"), None, ""),
        (("JPN", "withdrawal", date(2026, 1, 5), "too late"), DomainError,
         "comes too late: notice .* took effect on 2025-11-23 \\(R21.4\\)"),
    ]
    for arguments, error, message in steps:
        if error is None:
            notice(*arguments)
            continue
        with pytest.raises(error, match=message):
            notice(*arguments)
    assert [v.record.kind for v in agreement_events.events(node, cast.officer, GSOMIA)] == [
        "termination", "suspension", "termination"]


def test_restart_keeps_every_event_and_the_catalogue_they_make(node: Node, cast: Cast, tmp_path: Path) -> None:
    view = agreement_events.record_notice(node, cast.officer, GSOMIA, by="KOR", kind="termination",
                                          given=date(2026, 8, 1), reference="kept")
    version = node.catalog.version(GSOMIA)
    with open_node(tmp_path, passphrase=PASSPHRASE) as again:
        assert again.catalog.version(GSOMIA) == version
        assert [v.record for v in agreement_events.events(again, cast.officer, GSOMIA)] == [view.record]
        assert again.catalog.agreement(GSOMIA).notices[-1].id == view.record.id


def test_another_process_s_event_applies_on_the_next_refresh(node: Node, cast: Cast, tmp_path: Path) -> None:
    with open_node(tmp_path, passphrase=PASSPHRASE) as beside:  # a CLI beside the running server
        assert not agreement_events.refresh(node)  # nothing changed: one small read, nothing rebuilt
        agreement_events.record_notice(beside, cast.officer, GSOMIA, by="KOR", kind="termination",
                                       given=date(2026, 8, 1), reference="from the CLI")
    old = node.catalog
    assert agreement_events.refresh(node)
    assert node.catalog is not old and node.catalog.version(GSOMIA) != old.version(GSOMIA)
    assert node.live_catalog.generation != 0 and not agreement_events.refresh(node)


def test_only_a_partner_s_proposed_event_is_answered(node: Node, cast: Cast) -> None:
    view = agreement_events.record_notice(node, cast.officer, GSOMIA, by="KOR", kind="termination",
                                          given=date(2026, 8, 1), reference="ours")
    with pytest.raises(InvalidInput, match="only a partner's proposed event"):
        agreement_events.confirm(node, cast.officer, view.record.id)
    with pytest.raises(NotFound):
        agreement_events.reject(node, cast.officer, "KOR-termination-000000000000", "no such event")
    with pytest.raises(InvalidInput, match="say why"):
        agreement_events.reject(node, cast.officer, view.record.id, " ")
    assert timedelta(0) <= node.clock() - view.record.recorded_at < timedelta(seconds=1)


def _proposed_by_jpn(node: Node, event_id: str, kind: str, given: date, notice: str | None = None) -> None:
    """A partner's event as the inbound handler stores it (its signed record is not read again)."""
    event = event_from_dict({"id": event_id, "agreement": GSOMIA, "kind": kind, "by": "JPN", "given": given,
                             "reference": f"JPN {kind}", "notice": notice}, node.live_catalog.baseline)
    with node.store.unit_of_work() as uow:
        uow.agreements.add(AgreementEventRecord(
            event.id, GSOMIA, kind, "JPN", given, None, event.reference, notice, None, "JPN", "OFF-jpn",
            node.clock(), event.digest, b"signed by JPN", PROPOSED))


def test_R21_3_a_partner_s_events_apply_once_confirmed_in_their_order(node: Node, cast: Cast) -> None:
    _proposed_by_jpn(node, "JPN-termination-1", "termination", date(2026, 8, 1))
    _proposed_by_jpn(node, "JPN-suspension-1", "suspension", date(2026, 11, 1), notice="JPN-termination-1")
    assert node.catalog.version(GSOMIA) == SHIPPED.version(GSOMIA)  # proposed: not applied
    with pytest.raises(InvalidInput, match="still proposed here: confirm JPN-termination-1 first"):
        agreement_events.confirm(node, cast.officer, "JPN-suspension-1")
    with pytest.raises(PermissionDenied, match="security officer"):
        agreement_events.confirm(node, cast.reader, "JPN-termination-1")
    confirmed = agreement_events.confirm(node, cast.officer, "JPN-termination-1")
    assert confirmed.record.state == "confirmed" and confirmed.answers[0].confirmed
    pending = node.catalog.status(node.catalog.agreement(GSOMIA), datetime(2026, 11, 22, tzinfo=timezone.utc))
    assert pending.condition == "in_force_notice_pending"
    rejected = agreement_events.reject(node, cast.officer, "JPN-suspension-1", "no such note received")
    assert (rejected.record.state, rejected.record.reason) == ("rejected", "no such note received")
    assert node.catalog.version(GSOMIA).events == (("JPN-termination-1", confirmed.record.digest),)
    with node.store.unit_of_work(readonly=True) as uow:  # each answer goes back to JPN's node, signed
        kinds = [(m.peer, m.kind) for m in uow.exchange.outbox(limit=10)]
    assert kinds.count(("JPN", "agreement-answer")) == 2
