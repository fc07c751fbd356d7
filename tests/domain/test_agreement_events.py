"""Agreement events as data: applied to the shipped baseline by a pure function, each agreement's version a
digest of its baseline and its events, and a receipt decided under another version refused (G5)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from typing import Any

import pytest
from domain_builders import CATALOG, NOW, label, official
from hypothesis import given, settings
from hypothesis import strategies as st

from gsomia.domain.agreement_events import (
    AgreementEvent,
    apply_events,
    build_catalog,
    decide_recording,
    event_from_dict,
)
from gsomia.domain.catalog import Catalog
from gsomia.domain.errors import DomainError, UnknownAgreement
from gsomia.domain.life import status_at
from gsomia.domain.officials import Role
from gsomia.domain.policy import decide
from gsomia.domain.requests import Action, Request

GSOMIA = "jpn-kor-gsomia-2016"
BASELINE = Catalog(CATALOG.schemes, [replace(a, notices=()) if a.id == GSOMIA else a for a in CATALOG.agreements])


def event(**fields: Any) -> AgreementEvent:
    data = {"id": "e1", "agreement": GSOMIA, "kind": "termination", "by": "KOR", "given": "2019-08-23",
            "reference": "note", **fields}
    return event_from_dict(data, BASELINE)


EPISODE = (event(decided="2019-08-22", reference="MOFA note, 23 Aug 2019"),
           event(id="e2", kind="suspension", given="2019-11-22", notice="e1", reference="suspended"),
           event(id="e3", kind="withdrawal", given="2023-03-21", notice="e1", reference="withdrawn"))


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2016, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(timezone.utc)),
       st.permutations(EPISODE))
def test_R21_3_the_2019_episode_as_events_gives_the_shipped_statuses(at: datetime,
                                                                     events: list[AgreementEvent]) -> None:
    recorded = apply_events(BASELINE.agreement(GSOMIA), events)  # in whatever order they come
    ours, shipped = status_at(recorded, at), status_at(CATALOG.agreement(GSOMIA), at)
    assert (ours.condition, ours.terminates_on, [n.state for n in ours.notices]) == (
        shipped.condition, shipped.terminates_on, [n.state for n in shipped.notices])


def test_a_version_is_the_baseline_and_the_events_whatever_their_order() -> None:
    one, other = build_catalog(BASELINE, EPISODE), build_catalog(BASELINE, reversed(EPISODE))
    assert one.version(GSOMIA) == other.version(GSOMIA)
    assert one.version(GSOMIA).digest != BASELINE.version(GSOMIA).digest
    assert one.version(GSOMIA).baseline == BASELINE.version(GSOMIA).baseline != CATALOG.version(GSOMIA).baseline
    assert one.version("usa-kor-gsomia-1987") == BASELINE.version("usa-kor-gsomia-1987")
    assert build_catalog(BASELINE, ()).version(GSOMIA) == BASELINE.version(GSOMIA)


def _receive(catalog: Catalog, decided_under: tuple[str, str] | None) -> Request:
    return Request(Action.RECEIVE, NOW, official("JPN", roles=(Role.NODE,)), label(), recipient="JPN",
                   sender="KOR", decided_under=decided_under)


def test_G5_a_receipt_decided_under_another_version_of_the_agreement_is_refused() -> None:
    theirs = build_catalog(BASELINE, EPISODE[:1])  # KOR's node applies a notice JPN's does not
    same = decide(_receive(BASELINE, (GSOMIA, BASELINE.version(GSOMIA).digest)), BASELINE)
    assert same.allowed and same.agreement == GSOMIA
    other = decide(_receive(BASELINE, (GSOMIA, theirs.version(GSOMIA).digest)), BASELINE)
    assert not other.allowed and other.rules == ("G5",)
    reason = other.reason
    assert f"version {theirs.version(GSOMIA).short}" in reason and BASELINE.version(GSOMIA).short in reason
    assert "the shipped text alone" in reason and "nothing is decided here under other rules" in reason
    elsewhere = decide(_receive(BASELINE, ("usa-jpn-gsomia-2007", BASELINE.version("usa-jpn-gsomia-2007")
                                           .digest)), BASELINE)
    assert not elsewhere.allowed and "which does not bind KOR and JPN here" in elsewhere.reason
    unknown = decide(_receive(BASELINE, ("aus-kor-2030", "0" * 64)), BASELINE)
    assert not unknown.allowed and "aus-kor-2030, which does not bind" in unknown.reason
    unsaid = decide(_receive(BASELINE, ("", "")), BASELINE)  # a message that names no version
    assert not unsaid.allowed and unsaid.rules == ("G5",) and "nothing is decided here on a guess" in unsaid.reason
    assert decide(_receive(BASELINE, None), BASELINE).allowed  # asked without a message (a what-if, the feed)


def test_R21_2_an_amendment_adds_rows_and_raises_the_version_number() -> None:
    amended = apply_events(BASELINE.agreement(GSOMIA), [event(
        id="a1", kind="amendment", given="2026-11-01",
        amendment={"add_rows": [{"tier": "TOP_SECRET", "KOR": ["군사I급비밀"], "JPN": ["KIMITSU"]}],
                   "highest_tier": "TOP_SECRET"})])
    assert amended.version == 2 and amended.equivalent(CATALOG.schemes.parse("KOR:I"), "JPN") is not None


@pytest.mark.parametrize(("fields", "message"), [
    ({"kind": "renewal"}, "kind must be one of"),
    ({"by": "USA"}, "USA is not a party"),
    ({"given": "23 Aug 2019"}, "is not a date"),
    ({"given": "2099-01-01T00:00:00"}, "is not a date"),
    ({"given": "3001-01-01"}, "too far ahead"),
    ({"id": "x" * 65}, "an id is 1 to 64"),
    ({"kind": "suspension"}, "names the notice it concerns"),
    ({"notice": "e0"}, "names the notice it concerns"),
    ({"kind": "amendment"}, "only an amendment, says what it changes"),
    ({"kind": "amendment", "amendment": {}}, "adds rows to the equivalence table or changes the highest level"),
    ({"kind": "amendment", "amendment": {"highest_tier": "COSMIC"}}, "unknown tier"),
    ({"kind": "amendment", "amendment": {"add_rows": [{"tier": "SECRET", "USA": ["S"]}]}}, "USA, not a party"),
    ({"kind": "amendment", "amendment": {"add_rows": [{"tier": "SECRET", "KOR": "II"}]}}, "not a list of codes"),
    ({"kind": "amendment", "amendment": {"remove_rows": []}}, "add_rows and highest_tier, nothing else"),
])
def test_an_event_that_cannot_be_read_names_the_problem(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(DomainError, match=message):
        event(**fields)


def test_an_event_of_an_unknown_agreement_is_refused_by_name() -> None:
    with pytest.raises(UnknownAgreement, match="known: jpn-kor-gsomia-2016"):
        event(agreement="kor-aus-2030")


def test_R6_e_only_an_active_security_officer_of_the_node_s_party_records_an_event() -> None:
    agreement = BASELINE.agreement(GSOMIA)
    officer = official("KOR", roles=(Role.SECURITY_OFFICER,))
    assert decide_recording(officer, "KOR", agreement, "a termination", "R21.3").allowed
    reader = decide_recording(official("KOR", roles=(Role.READER,)), "KOR", agreement, "a termination", "R21.3")
    assert not reader.allowed and reader.rules == ("R6.e",)
    foreign = decide_recording(replace(officer, party="JPN", clearance=CATALOG.schemes.parse("JPN:GOKUHI")), "KOR",
                               agreement, "a termination", "R21.3")
    assert not foreign.allowed and "G2" in foreign.rules
    outsider = decide_recording(replace(officer, party="USA", clearance=CATALOG.schemes.parse("USA:S")), "USA",
                                agreement, "a termination", "R21.3")
    assert not outsider.allowed and outsider.rules == ("G3",)
    assert date(2016, 11, 23) == agreement.life.signed
