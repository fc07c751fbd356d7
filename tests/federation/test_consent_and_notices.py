"""Disclosure needs the originator's written consent (R6.a); compromise reports (R17.1); recall and
certified destruction (R6.h, Art. 13); mutual audit checkpoints."""

from __future__ import annotations

from typing import Any

import pytest
from tests.federation.harness import RunningNode, delivered, items_of, originate, wait_for

from gsomia.services import handling, officials
from gsomia.services.context import Actor


def _received(node: RunningNode, origin_ref: str) -> dict[str, Any]:
    return wait_for(lambda: [i for i in items_of(node) if i.get("origin_ref") == origin_ref], "receipt")[0]


def _release(kor: RunningNode, text: str) -> str:
    item_id = originate(kor, text)
    released = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN"})
    assert released.status_code == 202, released.text
    wait_for(lambda: delivered(kor, released.json()["message_id"]), "delivery")
    return item_id


def test_R6_a_disclosure_refused_until_the_originator_consents(nodes: dict[str, RunningNode]) -> None:
    kor, jpn, usa = nodes["KOR"], nodes["JPN"], nodes["USA"]
    item_id = _release(kor, "impact predicted 40.9N 138.2E")
    held = _received(jpn, item_id)
    refused = jpn.client("analyst").post(f"/v1/items/{held['id']}/disclose", json={"to": "USA"})
    assert refused.status_code == 403 and "R6.a" in refused.json()["error"]["rules"]
    asked = jpn.client("analyst").post(f"/v1/items/{held['id']}/consent-requests",
                                       json={"to": "USA", "purpose": "combined air defence"})
    assert asked.status_code == 202, asked.text
    consent_id = asked.json()["id"]
    pending = wait_for(lambda: [c for c in kor.client("officer").get("/v1/consents").json()
                                if c["id"] == consent_id and c["state"] == "requested"], "the request at KOR")
    assert pending[0]["to"] == "USA"
    not_officer = kor.client("releaser").post(f"/v1/consents/{consent_id}/grant", json={})
    assert not_officer.status_code == 403
    granted = kor.client("officer").post(f"/v1/consents/{consent_id}/grant", json={"reason": "approved"})
    assert granted.status_code == 200, granted.text
    wait_for(lambda: [c for c in jpn.client("officer").get("/v1/consents").json()
                      if c["id"] == consent_id and c["state"] == "granted"], "the consent at JPN")
    disclosed = jpn.client("analyst").post(f"/v1/items/{held['id']}/disclose", json={"to": "USA"})
    assert disclosed.status_code == 202, disclosed.text
    at_usa = _received(usa, item_id)
    assert at_usa["national_marking"] == "USA:S"


def test_R17_1_compromise_reaches_the_originator_then_the_result(nodes: dict[str, RunningNode]) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item_id = _release(kor, "sensor track 17")
    held = _received(jpn, item_id)
    reported = jpn.client("officer").post(f"/v1/items/{held['id']}/compromise",
                                          json={"description": "laptop lost in transit"})
    assert reported.status_code == 202, reported.text
    report_id = reported.json()["id"]
    at_kor = wait_for(lambda: [r for r in kor.client("officer").get("/v1/reports").json() if r["id"] == report_id],
                      "the report at KOR")
    assert at_kor[0]["direction"] == "received" and at_kor[0]["result"] is None
    wait_for(lambda: [r for r in jpn.client("officer").get("/v1/reports").json()
                      if r["id"] == report_id and r["notified_at"]], "KOR's acknowledgement")
    jpn.client("officer").post(f"/v1/reports/{report_id}/result", json={"result": "found; no access; retraining"})
    wait_for(lambda: [r for r in kor.client("officer").get("/v1/reports").json()
                      if r["id"] == report_id and r["result"]], "the result at KOR")


def test_R6_h_recall_then_destruction_certificate_back_to_the_originator(nodes: dict[str, RunningNode]) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item_id = _release(kor, "obsolete assessment")
    held = _received(jpn, item_id)
    recalled = kor.client("officer").post(f"/v1/items/{item_id}/recall", json={"reason": "superseded"})
    assert recalled.status_code == 202 and recalled.json() == ["JPN"]

    def recall_seen() -> bool:
        history = jpn.client("officer").get(f"/v1/items/{held['id']}/history").json()
        events = history if isinstance(history, list) else history["events"]
        return any(e["kind"] == "recall-requested" for e in events)

    wait_for(recall_seen, "the recall at JPN")
    destroyed = jpn.client("officer").post(f"/v1/items/{held['id']}/destroy",
                                           json={"method": "cryptographic erasure", "reason": "recalled by KOR"})
    assert destroyed.status_code in (200, 201), destroyed.text

    def certificate_at_kor() -> bool:
        history = kor.client("officer").get(f"/v1/items/{item_id}/history").json()
        events = history if isinstance(history, list) else history["events"]
        return any(e["kind"] == "destroyed-by" and e.get("counterparty") == "JPN" for e in events)

    wait_for(certificate_at_kor, "the destruction certificate at KOR")


def test_mutual_audit_checkpoints_and_every_chain_verifies(nodes: dict[str, RunningNode]) -> None:
    for node in nodes.values():
        sent = node.client("officer").post("/v1/audit/checkpoints/exchange")
        assert sent.status_code == 202, sent.text
    for node in nodes.values():
        wait_for(lambda n=node: not [m for m in n.client("officer").get("/v1/outbox", params={"state": "pending"})
                                     .json()], "every message delivered")
        report = node.client("officer").get("/v1/audit/verify")
        assert report.status_code == 200 and report.json()["ok"] is True, report.text
    with nodes["KOR"].node.store.unit_of_work(readonly=True) as uow:
        assert {p for p, *_ in uow.exchange.peer_checkpoints()} == {"JPN", "USA"}


def test_R6_g_a_change_of_classification_reaches_the_holder(nodes: dict[str, RunningNode]) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item_id = _release(kor, "assessment, later downgraded")
    held = _received(jpn, item_id)
    assert held["national_marking"] == "JPN:GOKUHI"
    changed = kor.client("officer").post(f"/v1/items/{item_id}/reclassify",
                                         json={"classification": "KOR:III", "reason": "sources declassified"})
    assert changed.status_code == 200, changed.text

    def downgraded() -> list[dict[str, Any]]:
        return [i for i in items_of(jpn) if i.get("origin_ref") == item_id and i["classification"] == "KOR:III"]

    now = wait_for(downgraded, "the new marking at JPN")[0]
    assert now["national_marking"] == "JPN:HI"
    content = jpn.client("analyst").get(f"/v1/items/{held['id']}/content")
    assert content.status_code == 200 and "downgraded" in content.text  # re-sealed under the new label


def test_R6_h_a_destruction_and_its_certificate_to_the_provider_are_one_transaction(
        nodes: dict[str, RunningNode], monkeypatch: pytest.MonkeyPatch) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item_id = _release(kor, "destroyed at JPN")
    held = _received(jpn, item_id)
    officer = Actor(officials.authenticate(jpn.node, jpn.spec.tokens["officer"]), "test")

    def outbox_down(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("the outbox cannot be written")

    monkeypatch.setattr("gsomia.services.exchange_common.enqueue", outbox_down)
    with pytest.raises(RuntimeError):
        handling.destroy(jpn.node, officer, held["id"], method="shredding", reason="no longer needed")
    with jpn.node.store.unit_of_work(readonly=True) as uow:
        item = uow.items.get(held["id"])
        assert item is not None and item.state != "destroyed" and item.sealed_content  # nothing half done
    monkeypatch.undo()
    handling.destroy(jpn.node, officer, held["id"], method="shredding", reason="no longer needed")
    with jpn.node.store.unit_of_work(readonly=True) as uow:
        sent = [m for m in uow.exchange.outbox(limit=1000) if m.item_id == held["id"]]
    assert [m.kind for m in sent] == ["destruction-certificate"] and sent[0].peer == "KOR"


def test_R6_g_a_change_of_classification_and_its_notices_are_one_transaction(
        nodes: dict[str, RunningNode], monkeypatch: pytest.MonkeyPatch) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item_id = _release(kor, "to be downgraded from the CLI's code path")
    _received(jpn, item_id)
    officer = Actor(officials.authenticate(kor.node, kor.spec.tokens["officer"]), "test")
    lower = kor.node.schemes.parse("KOR:III")

    def outbox_down(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("the outbox cannot be written")

    monkeypatch.setattr("gsomia.services.exchange_common.enqueue", outbox_down)
    with pytest.raises(RuntimeError):
        handling.reclassify(kor.node, officer, item_id, lower, reason="sources declassified")
    with kor.node.store.unit_of_work(readonly=True) as uow:
        item = uow.items.get(item_id)
        assert item is not None and item.classification == "KOR:II"  # nothing half done
    monkeypatch.undo()
    handling.reclassify(kor.node, officer, item_id, lower, reason="sources declassified")  # what the CLI calls
    wait_for(lambda: [i for i in items_of(jpn) if i.get("origin_ref") == item_id and i["classification"] == "KOR:III"],
             "the new marking at JPN")
