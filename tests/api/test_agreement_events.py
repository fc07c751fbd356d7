"""The life of agreements over HTTP: the security officer records notices and amendments, which apply at once
to the node's statuses and decisions; bad input is a clear 4xx that writes nothing; others are refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient
from tests.api.helpers import TOPIC, Team, bearer

from gsomia.services.context import Node

GSOMIA = "jpn-kor-gsomia-2016"
TODAY = datetime.now(timezone(timedelta(hours=9))).date()


def _release_at(at: str) -> dict[str, Any]:
    return {"action": "release", "at": at, "recipient": "JPN",
            "subject": {"party": "KOR", "clearance": "KOR:II", "need_to_know": [TOPIC],
                        "roles": ["releasing_official"]},
            "item": {"originator": "KOR", "classification": "KOR:II", "releasable_to": ["KOR", "JPN"],
                     "topics": [TOPIC], "purpose": "missile warning"}}


def _anniversary_after(day: date) -> date:
    """The first 23 November whose notice deadline (R21.3: 90 days before 22 Nov) `day` meets."""
    year = day.year if day <= date(day.year, 8, 24) else day.year + 1
    return date(year, 11, 23)


def test_R21_3_a_notice_recorded_over_http_applies_to_status_and_decisions(client: TestClient, team: Team) -> None:
    officer = bearer(team.officer)
    ends = _anniversary_after(TODAY)
    before, after = f"{ends - timedelta(days=1)}T12:00:00+09:00", f"{ends}T12:00:00+09:00"
    assert client.post("/v1/decide", json=_release_at(after), headers=officer).json()["allowed"]
    recorded = client.post(f"/v1/agreements/{GSOMIA}/notices", headers=officer, json={
        "by": "KOR", "kind": "termination", "given": str(TODAY), "reference": "MOFA note 2026-77"})
    assert recorded.status_code == 201, recorded.text
    event = recorded.json()
    assert (event["state"], event["applied"], event["origin"], event["answers"]) == ("recorded", True, "KOR", [])
    status = client.get(f"/v1/agreements/{GSOMIA}/status", headers=officer, params={"at": before}).json()
    assert status["condition"] == "in_force_notice_pending" and status["terminates_on"] == str(ends)
    assert client.post("/v1/decide", json=_release_at(before), headers=officer).json()["allowed"]
    refused = client.post("/v1/decide", json=_release_at(after), headers=officer).json()
    assert not refused["allowed"] and "R21.4" in refused["rules"]
    listed = client.get(f"/v1/agreements/{GSOMIA}/events", headers=bearer(team.reader)).json()
    assert [e["id"] for e in listed] == [event["id"]]
    versions = client.get(f"/v1/agreements/{GSOMIA}/versions", headers=officer).json()
    assert versions["ours"]["events"] == [{"id": event["id"], "digest": event["digest"]}]
    assert versions["partners"] == [{"party": "JPN", "digest": None, "same": False, "baseline_differs": False,
                                     "only_ours": [], "only_theirs": [], "content_differs": [], "states_here": {},
                                     "told_at": None}]
    # Our own event is not ours to confirm: only a partner's proposed one is answered.
    assert client.post(f"/v1/agreement-events/{event['id']}/confirm", headers=officer).status_code == 409


def test_R21_2_an_amendment_over_http(client: TestClient, team: Team) -> None:
    amended = client.post(f"/v1/agreements/{GSOMIA}/amendments", headers=bearer(team.officer), json={
        "given": str(TODAY), "reference": "exchange of notes",
        "add_rows": [{"tier": "TOP_SECRET", "KOR": ["I"], "JPN": ["KIMITSU"]}], "highest_tier": "TOP_SECRET"})
    assert amended.status_code == 201, amended.text
    shown = client.get(f"/v1/agreements/{GSOMIA}", headers=bearer(team.reader)).json()
    assert shown["highest_tier"] == "TOP_SECRET" and shown["version"] == 2


def test_R6_e_a_reader_may_not_record_an_event(client: TestClient, team: Team, node: Node) -> None:
    refused = client.post(f"/v1/agreements/{GSOMIA}/notices", headers=bearer(team.reader), json={
        "by": "KOR", "kind": "termination", "given": str(TODAY), "reference": "not mine"})
    assert refused.status_code == 403 and refused.json()["error"]["rules"] == ["R6.e"]
    with node.store.unit_of_work(readonly=True) as uow:  # refused, and audited like an allowed one
        (entry,) = uow.audit.tail(1)
    assert (entry.action, entry.actor, entry.decision) == ("agreement.event", team.reader_id, "deny")


def test_bad_events_are_a_clear_4xx(client: TestClient, team: Team) -> None:
    officer = bearer(team.officer)
    before = client.get(f"/v1/agreements/{GSOMIA}/events", headers=officer).json()
    cases = [
        (f"/v1/agreements/{GSOMIA}/notices", {"by": "KOR", "kind": "expiry", "given": "2026-01-01",
                                              "reference": "x"}, 422, "kind"),
        (f"/v1/agreements/{GSOMIA}/notices", {"by": "KOR", "kind": "termination", "given": "2999-01-01",
                                              "reference": "x"}, 400, "after today"),
        (f"/v1/agreements/{GSOMIA}/notices", {"by": "USA", "kind": "termination", "given": "2026-01-01",
                                              "reference": "x"}, 400, "USA is not a party"),
        ("/v1/agreements/nope/notices", {"by": "KOR", "kind": "termination", "given": "2026-01-01",
                                         "reference": "x"}, 404, "unknown agreement"),
        (f"/v1/agreements/{GSOMIA}/amendments", {"given": "2026-01-01", "reference": "x",
                                                 "add_rows": [{"tier": "SECRET", "KOR": [7]}]}, 422, "KOR"),
        ("/v1/agreement-events/KOR-termination-0/reject", {"reason": "no"}, 404, "no agreement event"),
    ]
    for path, body, status, words in cases:
        answer = client.post(path, headers=officer, json=body)
        assert answer.status_code == status and words in answer.text, (path, answer.text)
    assert client.get(f"/v1/agreements/{GSOMIA}/events", headers=officer).json() == before
