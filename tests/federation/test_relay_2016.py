"""Before the 2016 GSOMIA: KOR and JPN share only through the US hub, with KOR's written consent (T4, T5, T6)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from tests.federation.harness import (
    PASSPHRASE,
    RunningNode,
    delivered,
    forged_release,
    items_of,
    originate,
    start,
    stop_all,
    wait_for,
)

from gsomia.demo.loopback import create_federation

NOVEMBER_2016 = datetime(2016, 11, 1, 3, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def nodes_2016(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningNode]]:
    base: Path = tmp_path_factory.mktemp("federation-2016")
    specs = create_federation(base, passphrase=PASSPHRASE, clock_start=NOVEMBER_2016)
    running = {party: start(spec) for party, spec in specs.items()}
    yield running
    stop_all(running)


def test_T4_no_direct_release_before_the_gsomia(nodes_2016: dict[str, RunningNode]) -> None:
    kor = nodes_2016["KOR"]
    item_id = originate(kor, "launch detected")
    refused = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert "R21.1" in error["rules"] and "T4" in error["rules"]
    entries = kor.client("officer").get("/v1/audit/entries", params={"limit": 500}).json()
    listing = entries if isinstance(entries, list) else entries["entries"]
    assert any(e["action"] == "item.release" and e["decision"] == "deny" for e in listing)


def test_T5_relay_through_usa_with_kor_consent(nodes_2016: dict[str, RunningNode]) -> None:
    kor, usa, jpn = nodes_2016["KOR"], nodes_2016["USA"], nodes_2016["JPN"]
    item_id = originate(kor, "trajectory: apogee 950 km, impact Sea of Japan")
    without = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN", "via": "USA"})
    assert without.status_code == 403 and "T5" in without.json()["error"]["rules"]
    consent = kor.client("officer").post("/v1/consents", json={
        "to": "JPN", "topics": ["dprk-missile"], "purpose": "TISA relay of missile warnings"})
    assert consent.status_code == 201, consent.text
    released = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN", "via": "USA"})
    assert released.status_code == 202, released.text
    wait_for(lambda: delivered(kor, released.json()["message_id"]), "delivery to the hub")
    at_hub = wait_for(lambda: [i for i in items_of(usa) if i.get("origin_ref") == item_id], "USA holding it")
    assert at_hub[0]["national_marking"] == "USA:S"  # T6: the hub's own equivalent
    at_jpn = wait_for(lambda: [i for i in items_of(jpn) if i.get("origin_ref") == item_id], "JPN holding it")
    assert at_jpn[0]["national_marking"] == "JPN:GOKUHI"
    assert jpn.client("analyst").get(f"/v1/items/{at_jpn[0]['id']}/content").text.find("apogee") >= 0
    # the final receipt reaches the originator through the hub (R6.f distribution control)
    def receipts() -> list[dict[str, object]]:
        history = kor.client("officer").get(f"/v1/items/{item_id}/history").json()
        events = history if isinstance(history, list) else history["events"]
        return [e for e in events if e["kind"] == "receipt" and e.get("counterparty") == "JPN"]
    wait_for(receipts, "JPN's receipt at KOR")


def test_R21_1_the_receiver_refuses_a_direct_item_before_the_gsomia(nodes_2016: dict[str, RunningNode]) -> None:
    """An item pushed straight to JPN in 2016 (no agreement in force allows KOR→JPN directly) is refused by JPN."""
    import httpx

    from gsomia.federation.sender import CONTENT_TYPE, PEER_PATH
    from gsomia.node import NodeTLS

    kor, jpn = nodes_2016["KOR"], nodes_2016["JPN"]
    item_id = originate(kor, "pushed directly")
    context = NodeTLS.of(kor.node, PASSPHRASE).client
    with httpx.Client(verify=context, timeout=10) as client:
        answer = client.post(jpn.spec.peer_url + PEER_PATH, content=forged_release(kor, item_id, "JPN"),
                             headers={"content-type": CONTENT_TYPE})
    assert answer.status_code == 200
    assert not [i for i in items_of(jpn) if i.get("origin_ref") == item_id]
    listing = jpn.client("officer").get("/v1/audit/entries", params={"limit": 1000}).json()
    entries = listing if isinstance(listing, list) else listing["entries"]
    denied = [e for e in entries if e["action"] == "item.receive" and e["decision"] == "deny"]
    assert denied and {"R21.1", "T4"} <= set(denied[-1]["rules"])
