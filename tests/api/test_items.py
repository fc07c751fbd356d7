"""Items over HTTP: originate, list (filtered by the policy's read decision), show with markings, read,
copy, reclassify, destroy with a signed certificate, history; refusals as 403 with rules and reasons."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient
from tests.api.helpers import TOPIC, Team, bearer

from gsomia.services import audit, officials
from gsomia.services.context import Actor, Node


def _originate(client: TestClient, token: str, **changes: Any) -> dict[str, Any]:
    body = {"classification": "KOR:II", "releasable_to": ["KOR", "USA"], "topics": [TOPIC],
            "purpose": "missile warning", "content_text": "launch detected at 0412", **changes}
    response = client.post("/v1/items", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_originate_show_and_read(client: TestClient, team: Team) -> None:
    item = _originate(client, team.releaser, location="vault 2")
    assert (item["originator"], item["state"], item["location"], item["custodian"]) == (
        "KOR", "held", "vault 2", team.releaser_id)
    shown = client.get(f"/v1/items/{item['id']}", headers=bearer(team.releaser)).json()
    label = shown["label"]
    assert label["banner"] == "SECRET//REL TO USA, KOR"
    assert label["dual_marking"].startswith("KOR ")
    assert label["stanag4774"]["ConfidentialityInformation"]["Classification"] == "KOR:II"
    assert "ConfidentialityLabel" in label["stanag4774_xml"]
    read = client.get(f"/v1/items/{item['id']}/content", headers=bearer(team.reader),
                      params={"purpose": "missile warning"}).json()
    assert read["content_text"] == "launch detected at 0412"
    assert base64.b64decode(read["content_base64"]) == b"launch detected at 0412"


def test_binary_content_and_bad_content(client: TestClient, team: Team) -> None:
    binary = _originate(client, team.releaser, content_text=None,
                        content_base64=base64.b64encode(b"\xff\x00track").decode())
    read = client.get(f"/v1/items/{binary['id']}/content", headers=bearer(team.releaser)).json()
    assert (read["content_text"], base64.b64decode(read["content_base64"])) == (None, b"\xff\x00track")
    for changes in ({"content_base64": "bm90IGJhc2U2NA=="}, {"content_text": None}, {"content_base64": "***"},
                    {"classification": "JPN:HI"}, {"classification": "KOR:IX"}, {"purpose": " "}):
        response = client.post("/v1/items", headers=bearer(team.releaser), json={
            "classification": "KOR:II", "topics": [TOPIC], "purpose": "p", "content_text": "x", **changes})
        assert response.status_code in (400, 403, 422), (changes, response.text)
        assert response.json()["error"]["code"] in ("invalid_input", "refused", "validation_error")


def test_a_refused_read_is_403_with_rules_and_reasons_and_audited(client: TestClient, node: Node,
                                                                  team: Team) -> None:
    item = _originate(client, team.releaser)
    refused = client.get(f"/v1/items/{item['id']}/content", headers=bearer(team.outsider))
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "refused" and "R7.2" in error["rules"]
    assert any("no need-to-know for dprk-missile" in reason for reason in error["reasons"])
    assert "launch" not in refused.text
    officer = Actor(officials.authenticate(node, team.officer), "test")
    entry = next(e for e in reversed(audit.tail(node, officer, 20))
                 if e.action == "item.read" and e.subject == item["id"])
    assert (entry.actor, entry.via, entry.decision, entry.rules) == (team.outsider_id, "api", "deny",
                                                                     tuple(error["rules"]))
    wrong_purpose = client.get(f"/v1/items/{item['id']}/content", headers=bearer(team.reader),
                               params={"purpose": "targeting"})
    assert wrong_purpose.status_code == 403 and "R6.b" in wrong_purpose.json()["error"]["rules"]


def test_listing_shows_only_what_the_policy_would_let_one_read(client: TestClient, node: Node, team: Team) -> None:
    mine = _originate(client, team.releaser)
    logistics = _originate(client, team.outsider, topics=["logistics"], content_text="fuel")
    everything = {i["id"] for i in client.get("/v1/items", headers=bearer(team.officer)).json()}
    assert {mine["id"], logistics["id"]} <= everything
    releaser = {i["id"] for i in client.get("/v1/items", headers=bearer(team.releaser)).json()}
    outsider = {i["id"] for i in client.get("/v1/items", headers=bearer(team.outsider)).json()}
    assert mine["id"] in releaser and logistics["id"] not in releaser
    assert logistics["id"] in outsider and mine["id"] not in outsider
    filtered = client.get("/v1/items", headers=bearer(team.officer), params={"topic": "logistics", "limit": 1000})
    assert logistics["id"] in {i["id"] for i in filtered.json()}
    assert all("logistics" in i["topics"] for i in filtered.json())
    assert client.get("/v1/items", headers=bearer(team.officer), params={"state": "lost"}).status_code == 422
    # Nor is a label shown, or a history, to one who may not read the item (R7.2): refused and audited.
    for path in (f"/v1/items/{mine['id']}", f"/v1/items/{mine['id']}/history"):
        hidden = client.get(path, headers=bearer(team.outsider))
        assert hidden.status_code == 403 and "R7.2" in hidden.json()["error"]["rules"], hidden.text
    officer = Actor(officials.authenticate(node, team.officer), "test")
    refusals = [(e.action, e.decision) for e in audit.tail(node, officer, 2)]
    assert refusals == [("item.show", "deny"), ("item.history", "deny")]
    assert client.get(f"/v1/items/{mine['id']}", headers=bearer(team.releaser)).status_code == 200


def test_copy_reclassify_destroy_and_history(client: TestClient, team: Team) -> None:
    item = _originate(client, team.releaser)
    copied = client.post(f"/v1/items/{item['id']}/copies", headers=bearer(team.releaser),
                         json={"reason": "for the watch floor", "translate": True})
    assert copied.status_code == 201, copied.text
    derivative = copied.json()
    assert (derivative["derived_from"], derivative["classification"]) == (item["id"], "KOR:II")

    # The officer needs need-to-know for the topic to reclassify (R6.g, R7.2): the register says so first.
    officer = bearer(team.officer)
    refused = client.post(f"/v1/items/{item['id']}/reclassify", headers=officer, json={"classification": "KOR:I"})
    assert refused.status_code == 403 and "R7.2" in refused.json()["error"]["rules"]
    client.patch(f"/v1/officials/{team.officer_id}", headers=officer,
                 json={"need_to_know": [TOPIC], "reason": "reclassification review"}).raise_for_status()
    raised = client.post(f"/v1/items/{item['id']}/reclassify", headers=officer,
                         json={"classification": "KOR:I", "reason": "new source"})
    assert raised.status_code == 200, raised.text
    assert raised.json()["classification"] == "KOR:I"
    assert client.get(f"/v1/items/{derivative['id']}", headers=officer).json()["classification"] == "KOR:I"
    assert client.post(f"/v1/items/{item['id']}/reclassify", headers=officer,
                       json={"classification": "KOR:I"}).status_code == 409
    assert client.post(f"/v1/items/{item['id']}/reclassify", headers=officer,
                       json={"classification": "KOR:Z"}).status_code == 400

    destroyed = client.post(f"/v1/items/{item['id']}/destroy", headers=officer,
                            json={"method": "cross-cut shredding", "reason": "no longer needed"})
    assert destroyed.status_code == 200, destroyed.text
    assert len(base64.b64decode(destroyed.json()["certificate_base64"])) > 64
    gone = client.get(f"/v1/items/{item['id']}/content", headers=officer)
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "conflict"
    history = client.get(f"/v1/items/{item['id']}/history", headers=officer).json()
    assert [e["kind"] for e in history] == ["originated", "translated", "reclassified", "destroyed"]
    assert history[-1]["receipt"] is True and all(e["audit_seq"] for e in history)


def test_R7_2_a_reader_lists_and_views_what_the_policy_lets_them_read(client: TestClient, team: Team) -> None:
    mine = _originate(client, team.releaser, content_text="for readers with need-to-know")
    other = _originate(client, team.outsider, topics=["logistics"], content_text="outside their need-to-know")
    listed = client.get("/v1/items", headers=bearer(team.reader), params={"limit": 1000})
    assert listed.status_code == 200, listed.text
    ids = {i["id"] for i in listed.json()}
    assert mine["id"] in ids and other["id"] not in ids
    assert client.get(f"/v1/items/{mine['id']}", headers=bearer(team.reader)).status_code == 200
    assert client.get(f"/v1/items/{mine['id']}/history", headers=bearer(team.reader)).status_code == 200
    hidden = client.get(f"/v1/items/{other['id']}", headers=bearer(team.reader))
    assert hidden.status_code == 403 and "R7.2" in hidden.json()["error"]["rules"]

