"""Agreements and their life (Art. 21), and the policy's what-if, over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.api.helpers import TOPIC, Team, bearer

TISA = "usa-jpn-kor-tisa-2014"
KOR_JPN = "jpn-kor-gsomia-2016"


def test_list_show_and_status(client: TestClient, team: Team) -> None:
    headers = bearer(team.reader)
    listed = client.get("/v1/agreements", headers=headers, params={"at": "2024-01-01T00:00:00Z"}).json()
    assert {a["id"] for a in listed} >= {TISA, KOR_JPN}
    assert all(a["status"]["in_force"] for a in listed)
    tisa = client.get(f"/v1/agreements/{TISA}", headers=headers).json()
    assert (tisa["binding"], tisa["scope_topics"], tisa["relays"][0]["from"]) == (False, ["dprk-missile",
                                                                                         "dprk-nuclear"], "KOR")
    assert tisa["equivalence"][0]["KOR"] == ["I"]
    # KOR's 2019 notice of termination, suspended on 22 Nov 2019 (R21.4 / Art. 21).
    pending = client.get(f"/v1/agreements/{KOR_JPN}/status", headers=headers, params={"at": "2019-09-01"}).json()
    assert pending["condition"] == "in_force_notice_pending" and pending["notices"][0]["by"] == "KOR"
    later = client.get(f"/v1/agreements/{KOR_JPN}/status", headers=headers, params={"at": "2024-01-01"}).json()
    assert later["condition"] == "in_force"


def _request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "action": "read", "at": "2026-11-22T12:00:00Z",
        "subject": {"party": "KOR", "clearance": "KOR:II", "need_to_know": [TOPIC], "roles": ["reader"]},
        "item": {"originator": "KOR", "classification": "KOR:II", "releasable_to": ["KOR", "USA"],
                 "topics": [TOPIC], "purpose": "missile warning"},
    }
    return {**request, **changes}


def test_decide_one_and_many(client: TestClient, team: Team) -> None:
    headers = bearer(team.reader)
    allowed = client.post("/v1/decide", json=_request(), headers=headers).json()
    assert allowed["allowed"] is True and "R7.2" in allowed["rules"]
    release = _request(action="release", recipient="JPN",
                       subject={"party": "KOR", "clearance": "KOR:II", "need_to_know": [TOPIC],
                                "roles": ["releasing_official"]})
    both = client.post("/v1/decide", json=[_request(), release], headers=headers).json()
    assert [d["allowed"] for d in both] == [True, False]
    assert "JPN is not in the item's releasability" in " ".join(both[1]["reasons"])
    assert set(both[1]) == {"allowed", "rules", "reasons", "agreement"}


def test_decide_bad_requests(client: TestClient, team: Team) -> None:
    headers = bearer(team.reader)
    bad = client.post("/v1/decide", json=_request(action="teleport"), headers=headers)
    assert bad.status_code == 422 and "'originate', 'release'" in " ".join(bad.json()["error"]["reasons"])
    second = client.post("/v1/decide", json=[_request(), _request(at="whenever")], headers=headers)
    assert second.status_code == 422 and "[PolicyRequest].1.at" in " ".join(second.json()["error"]["reasons"])
    assert client.post("/v1/decide", json=_request(extra=1), headers=headers).status_code == 422
    assert client.post("/v1/decide", json=_request(agreement="nope"), headers=headers).status_code == 400
