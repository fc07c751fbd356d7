"""The life of an agreement shared between running nodes: KOR's security officer records a notice of
termination; JPN holds it as proposed, and until JPN's officer confirms it the two nodes hold different
versions of the GSOMIA, so KOR's release is refused by JPN with the reason (G5); once confirmed, both decide
alike, releases flow, and from the date the notice takes effect both refuse (R21.4). A rejection goes back
with its reason and takes the event out on both sides. A restart keeps everything; an event written by
another process (the CLI beside the server) applies on the running node too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, delivered, originate, start, stop_all, wait_for

from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.services import agreement_events
from gsomia.services.context import Actor
from gsomia.services.officials import authenticate
from gsomia.services.runtime import open_node

GSOMIA = "jpn-kor-gsomia-2016"
MISSILE = ["dprk-missile"]


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LoopbackNode]:
    base: Path = tmp_path_factory.mktemp("agreement-events")
    return create_federation(base, passphrase=PASSPHRASE, parties=("KOR", "JPN"), feed_links=())


@pytest.fixture(scope="module")
def nodes(specs: dict[str, LoopbackNode]) -> Iterator[dict[str, RunningNode]]:
    running = {party: start(spec) for party, spec in specs.items()}
    yield running
    stop_all(running)


def _today(node: RunningNode) -> date:
    return node.node.clock().astimezone(node.node.catalog.agreement(GSOMIA).timezone).date()


def _events(node: RunningNode) -> dict[str, dict[str, Any]]:
    response = node.client("officer").get(f"/v1/agreements/{GSOMIA}/events")
    assert response.status_code == 200, response.text
    return {e["id"]: e for e in response.json()}


def _versions(node: RunningNode) -> dict[str, Any]:
    return dict(node.client("officer").get(f"/v1/agreements/{GSOMIA}/versions").json())


def _release(kor: RunningNode, text: str) -> dict[str, Any]:
    item_id = originate(kor, text)
    released = kor.client("releaser").post(f"/v1/items/{item_id}/release", json={"to": "JPN"})
    assert released.status_code == 202, released.text
    return wait_for(lambda: delivered(kor, released.json()["message_id"]), "the partner's answer", timeout=30)


def _what_if(node: RunningNode, at: str) -> dict[str, Any]:
    """Would this node's releasing official's release to the other party at `at` be allowed?"""
    party, other = node.spec.party, "JPN" if node.spec.party == "KOR" else "KOR"
    request = {"action": "release", "at": at, "recipient": other,
               "subject": {"party": party, "clearance": {"KOR": "KOR:II", "JPN": "JPN:GOKUHI"}[party],
                           "need_to_know": MISSILE, "roles": ["releasing_official"]},
               "item": {"originator": party, "classification": {"KOR": "KOR:II", "JPN": "JPN:GOKUHI"}[party],
                        "releasable_to": ["KOR", "JPN"], "topics": MISSILE, "purpose": "missile warning"}}
    return dict(node.client("releaser").post("/v1/decide", json=request).json())


def test_G5_started_nodes_tell_each_other_their_versions_without_waiting_for_a_change(
        nodes: dict[str, RunningNode]) -> None:
    for node in nodes.values():
        wait_for(lambda node=node: _versions(node)["partners"][0]["same"],  # type: ignore[misc]
                 f"{node.spec.party} knowing its partner holds the same version", timeout=30)


def test_a_notice_confirmed_by_the_partner_changes_both_nodes_decisions_when_it_takes_effect(
        nodes: dict[str, RunningNode]) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    today = _today(kor)
    recorded = kor.client("officer").post(f"/v1/agreements/{GSOMIA}/notices", json={
        "by": "KOR", "kind": "termination", "given": str(today), "reference": "MOFA note verbale (test)"})
    assert recorded.status_code == 201, recorded.text
    event_id = recorded.json()["id"]
    ends = date.fromisoformat(kor.client("officer").get(f"/v1/agreements/{GSOMIA}/status").json()["terminates_on"])
    proposed = wait_for(lambda: _events(jpn).get(event_id), "the proposal at JPN")
    assert (proposed["state"], proposed["applied"], proposed["origin"]) == ("proposed", False, "KOR")
    assert jpn.client("officer").get(f"/v1/agreements/{GSOMIA}/status").json()["condition"] == "in_force"

    # G5: until JPN's officer confirms, the nodes hold different versions; JPN refuses, saying why.
    refused = _release(kor, "released while the versions differ")
    assert refused["state"] == "refused"
    history = kor.client("officer").get(f"/v1/items/{refused['item_id']}/history").json()
    said = [e for e in (history if isinstance(history, list) else history["events"]) if e["kind"] == "refused-by"]
    assert said and "JPN holds version" in said[0]["detail"] and "hold different versions" in said[0]["detail"]
    audit = kor.client("officer").get("/v1/audit/entries", params={"limit": 1000}).json()
    entries = audit if isinstance(audit, list) else audit["entries"]
    answered = [e for e in entries if e["action"] == "peer.item.refused"]
    assert answered and answered[-1]["rules"] == ["G5"]

    # R6.e: JPN's releasing official may not confirm it; JPN's security officer does.
    not_officer = jpn.client("releaser").post(f"/v1/agreement-events/{event_id}/confirm")
    assert not_officer.status_code == 403 and "R6.e" in not_officer.json()["error"]["rules"]
    confirmed = jpn.client("officer").post(f"/v1/agreement-events/{event_id}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "confirmed", confirmed.text
    wait_for(lambda: [a for a in _events(kor)[event_id]["answers"] if a["party"] == "JPN" and a["confirmed"]],
             "JPN's confirmation at KOR")
    wait_for(lambda: _versions(kor)["partners"][0]["same"] and _versions(jpn)["partners"][0]["same"],
             "both nodes knowing they hold the same version")
    assert _release(kor, "released under the same version")["state"] == "delivered"

    # Both nodes decide alike on each side of the date it takes effect.
    before, after = f"{ends - timedelta(days=1)}T12:00:00+09:00", f"{ends}T12:00:00+09:00"
    for node in (kor, jpn):
        assert _what_if(node, before)["allowed"], node.spec.party
        late = _what_if(node, after)
        assert not late["allowed"] and "R21.4" in late["rules"], (node.spec.party, late)


def test_a_rejection_goes_back_with_its_reason_and_the_event_counts_nowhere(nodes: dict[str, RunningNode]) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    amended = kor.client("officer").post(f"/v1/agreements/{GSOMIA}/amendments", json={
        "given": str(_today(kor)), "reference": "draft exchange of notes",
        "add_rows": [{"tier": "TOP_SECRET", "KOR": ["I"], "JPN": ["KIMITSU"]}], "highest_tier": "TOP_SECRET"})
    assert amended.status_code == 201, amended.text
    event_id = amended.json()["id"]
    assert kor.client("officer").get(f"/v1/agreements/{GSOMIA}").json()["highest_tier"] == "TOP_SECRET"
    wait_for(lambda: _events(jpn).get(event_id), "the proposal at JPN")
    rejected = jpn.client("officer").post(f"/v1/agreement-events/{event_id}/reject",
                                          json={"reason": "no such exchange of notes has taken place"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected", rejected.text
    back = wait_for(lambda: _events(kor)[event_id]["state"] == "rejected" and _events(kor)[event_id],
                    "the rejection at KOR")
    assert back["reason"] == "rejected by JPN: no such exchange of notes has taken place" and not back["applied"]
    # The catalogue is installed as the rejection's commit is durable (on_commit): a reader on another thread may
    # see the committed event a moment (that fsync) before. Every write after it is decided under the new one.
    wait_for(lambda: kor.client("officer").get(f"/v1/agreements/{GSOMIA}").json()["highest_tier"] == "SECRET",
             "KOR applying the agreement as it was")
    wait_for(lambda: _versions(kor)["partners"][0]["same"], "KOR knowing JPN holds its version again")


def test_a_restart_keeps_everything_and_another_process_s_event_applies(specs: dict[str, LoopbackNode],
                                                                        nodes: dict[str, RunningNode]) -> None:
    kor = nodes["KOR"]
    before = (_events(kor), _versions(kor)["ours"])
    kor.signal_stop()
    kor.join()
    kor = nodes["KOR"] = start(specs["KOR"])
    assert (_events(kor), _versions(kor)["ours"]) == before
    assert kor.client("officer").get(f"/v1/agreements/{GSOMIA}/status").json()["condition"] == \
        "in_force_notice_pending"
    # The CLI beside the running server: its own node over the same store.
    with open_node(specs["KOR"].data, passphrase=PASSPHRASE) as beside:
        chief = Actor(authenticate(beside, specs["KOR"].tokens["chief"], via="cli-token"), "cli-token")
        agreement_events.record_notice(beside, chief, GSOMIA, by="KOR", kind="withdrawal",
                                       given=datetime.fromisoformat(str(_today(kor))).date(),
                                       reference="the notice withdrawn")
    wait_for(lambda: kor.client("officer").get(f"/v1/agreements/{GSOMIA}/status").json()["condition"] == "in_force",
             "the running server applying the CLI's event", timeout=10)
