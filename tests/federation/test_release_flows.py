"""KOR, JPN and USA nodes exchanging items over mutual TLS: every step decided, audited on both sides."""

from __future__ import annotations

from tests.federation.harness import RunningNode, delivered, items_of, originate, wait_for


def test_release_and_receipt_under_the_gsomia(nodes: dict[str, RunningNode]) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item_id = originate(kor, "launch detected 39.0N 125.7E at 05:12Z, heading east")
    released = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN"})
    assert released.status_code == 202, released.text
    message = wait_for(lambda: delivered(kor, released.json()["message_id"]), "delivery to JPN")
    assert message["state"] == "delivered"
    held = wait_for(lambda: [i for i in items_of(jpn) if i.get("origin_ref") == item_id], "JPN holding the item")
    assert held[0]["national_marking"] == "JPN:GOKUHI"  # R4.4 dual marking
    content = jpn.client("analyst").get(f"/v1/items/{held[0]['id']}/content")
    assert content.status_code == 200, content.text
    history = kor.client("officer").get(f"/v1/items/{item_id}/history").json()
    assert any(e["kind"] == "receipt" for e in (history if isinstance(history, list) else history["events"]))
