"""The register of cleared officials (R6.e) over HTTP: kept by the security officer, every change audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.api.helpers import Team, bearer


def test_appoint_show_update_token_suspend_reinstate_revoke(client: TestClient, team: Team) -> None:
    officer = bearer(team.officer)
    made = client.post("/v1/officials", headers=officer, json={
        "name": "Jung Watch", "clearance": "KOR:III", "need_to_know": ["dprk-missile"], "roles": ["reader"],
        "expires": "2029-12-31T15:00:00Z", "reason": "watch officer"})
    assert made.status_code == 201, made.text
    new = made.json()
    assert (new["clearance"], new["status"], new["expires"]) == ("KOR:III", "active", "2029-12-31T15:00:00Z")
    official_id = new["id"]

    assert official_id in {o["id"] for o in client.get("/v1/officials", headers=officer).json()}
    assert client.get("/v1/officials", headers=officer, params={"status": "suspended"}).json() == []

    changed = client.patch(f"/v1/officials/{official_id}", headers=officer,
                           json={"clearance": "KOR:II", "reason": "promoted"}).json()
    assert (changed["clearance"], changed["expires"]) == ("KOR:II", "2029-12-31T15:00:00Z")  # expiry kept
    unlimited = client.patch(f"/v1/officials/{official_id}", headers=officer,
                             json={"expires": None, "reason": "indefinite"}).json()
    assert unlimited["expires"] is None and unlimited["clearance"] == "KOR:II"

    issued = client.post(f"/v1/officials/{official_id}/tokens", headers=officer, json={"reason": "API use"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert client.get("/v1/whoami", headers=bearer(token)).json()["id"] == official_id

    suspended = client.post(f"/v1/officials/{official_id}/suspend", headers=officer, json={"reason": "inquiry"})
    assert suspended.json()["status"] == "suspended"
    assert client.get("/v1/whoami", headers=bearer(token)).status_code == 401  # tokens stop at once (R7.1)
    again = client.post(f"/v1/officials/{official_id}/suspend", headers=officer, json={"reason": "twice"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert client.post(f"/v1/officials/{official_id}/reinstate", headers=officer,
                       json={"reason": "cleared"}).json()["status"] == "active"
    assert client.get("/v1/whoami", headers=bearer(token)).status_code == 401  # issue a new one
    assert client.post(f"/v1/officials/{official_id}/revoke", headers=officer,
                       json={"reason": "left"}).json()["status"] == "revoked"

    shown = client.get(f"/v1/officials/{official_id}", headers=officer).json()
    assert [c["action"] for c in shown["changes"]] == ["appoint", "update", "update", "suspend", "reinstate",
                                                       "revoke"]
    assert shown["changes"][0]["by"] == team.officer_id


def test_bad_appointments(client: TestClient, team: Team) -> None:
    officer = bearer(team.officer)
    foreign = client.post("/v1/officials", headers=officer,
                          json={"name": "Sato", "clearance": "JPN:HI", "reason": "wrong node"})
    assert foreign.status_code == 400 and "not a KOR classification" in foreign.json()["error"]["message"]
    naive = client.post("/v1/officials", headers=officer,
                        json={"name": "X", "clearance": "KOR:II", "reason": "r", "expires": "2030-01-01T00:00:00"})
    assert naive.status_code == 422
    blank = client.post("/v1/officials", headers=officer, json={"name": "X", "clearance": "KOR:II", "reason": ""})
    assert blank.status_code == 422


def test_only_the_security_officer_keeps_the_register(client: TestClient, team: Team) -> None:
    refused = client.post("/v1/officials", headers=bearer(team.releaser),
                          json={"name": "Self Made", "clearance": "KOR:I", "reason": "why not"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "refused"
    assert client.post(f"/v1/officials/{team.reader_id}/tokens", headers=bearer(team.reader),
                       json={"reason": "another"}).status_code == 403
    last = client.post(f"/v1/officials/{team.officer_id}/revoke", headers=bearer(team.officer),
                       json={"reason": "oops"})
    assert last.status_code == 409 and "last active security officer" in last.json()["error"]["message"]


def test_R6_e_an_officials_access_is_reviewed_item_by_item_over_http(client: TestClient, team: Team) -> None:
    made = client.post("/v1/items", headers=bearer(team.releaser), json={
        "classification": "KOR:II", "releasable_to": ["KOR"], "topics": ["dprk-missile"], "purpose": "missile warning",
        "content_text": "launch detected at 0412"})
    assert made.status_code == 201, made.text
    item_id = made.json()["id"]
    officer = bearer(team.officer)
    for who, readable in ((team.reader_id, True), (team.outsider_id, False)):
        review = client.get(f"/v1/officials/{who}/access", headers=officer)
        assert review.status_code == 200, review.text
        entry = next(i for i in review.json()["items"] if i["item_id"] == item_id)
        assert entry["allowed"] is readable and (readable or (entry["rules"] and entry["reasons"]))
        assert "launch detected" not in review.text  # no content
    assert client.get(f"/v1/officials/{team.reader_id}/access", headers=bearer(team.reader)).status_code == 403
    assert client.get("/v1/officials/OFF-nobody/access", headers=officer).status_code == 404
    assert client.get(f"/v1/officials/{team.reader_id}/access", headers=officer,
                      params={"limit": 0}).status_code == 422
