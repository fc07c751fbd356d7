"""The cross-border commands beside running nodes: KOR and JPN serve on loopback (as `gsomia serve` would, in
threads), and the CLI works on their data directories, writing what their senders then deliver. USA is a
configured partner that is not running: what goes to it stays pending.

Exit codes as documented: 2 bad input (nothing written), 3 refused (rules and reasons printed), 4 not found,
5 conflict, 1 a delivery not settled in time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.running import invoke, serving
from tests.federation.harness import wait_for
from typer.testing import Result

from gsomia.demo.loopback import LoopbackNode


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LoopbackNode]]:
    with serving(tmp_path_factory.mktemp("cli-exchange"), "KOR", "JPN") as specs:
        yield specs


def run(node: LoopbackNode, who: str | None, *args: str, code: int = 0) -> Result:
    """As `who` of the node's staff (None: the local security officer)."""
    return invoke(node, node.tokens[who] if who else "", *args, code=code)


def cli(node: LoopbackNode, who: str | None, *args: str, code: int = 0) -> str:
    """What a person sees: standard output and error."""
    return run(node, who, *args, code=code).output


def as_json(node: LoopbackNode, who: str | None, *args: str, code: int = 0) -> Any:
    return json.loads(run(node, who, *args, "--json", code=code).stdout)


def originate(node: LoopbackNode, tmp_path: Path, rel: str = "USA,JPN", text: str = "TEL launch, 39.0N 125.7E") -> str:
    content = tmp_path / "report.txt"
    content.write_text(text)
    return cli(node, "releaser", "items", "originate", "--file", str(content), "--classification", "KOR:II",
               "--rel", rel, "--topics", "dprk-missile", "--purpose", "missile warning", "--quiet").strip()


def outbox_size(node: LoopbackNode) -> int:
    """The releases in the node's outbox (audit checkpoints, sent on their own every few seconds, left out)."""
    return sum(1 for message in as_json(node, "officer", "outbox") if message["kind"] == "item")


def test_a_release_is_queued_delivered_and_its_receipt_recorded(nodes: dict[str, LoopbackNode],
                                                                tmp_path: Path) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item = originate(kor, tmp_path)
    sent = as_json(kor, "releaser", "items", "release", item, "--to", "JPN", "--wait", "30")
    assert (sent["peer"], sent["state"]) == ("JPN", "delivered")
    listed = {m["message_id"]: m for m in as_json(kor, "officer", "outbox")}
    assert listed[sent["message_id"]]["state"] == "delivered"
    assert [m for m in as_json(jpn, "officer", "inbox") if m["message_id"] == sent["message_id"]][0]["outcome"] \
        == "accepted"
    history = as_json(kor, "releaser", "items", "history", item)
    assert [e["kind"] for e in history][-2:] == ["released", "receipt"] and history[-1]["counterparty"] == "JPN"
    table = cli(kor, "officer", "outbox", "--state", "delivered")
    assert sent["message_id"] in table and item in table  # ids whole, never cut


def test_a_refused_release_exits_3_with_its_rules_and_queues_nothing(nodes: dict[str, LoopbackNode],
                                                                     tmp_path: Path) -> None:
    kor = nodes["KOR"]
    item = originate(kor, tmp_path, rel="USA")
    before = outbox_size(kor)
    refused = cli(kor, "releaser", "items", "release", item, "--to", "JPN", code=3)
    assert "refused (G1" in refused and "REL TO" in refused
    assert outbox_size(kor) == before
    assert "not a configured partner" in cli(kor, "releaser", "items", "release", item, "--to", "AUS", code=4)
    assert "unknown item" in cli(kor, "releaser", "items", "release", "KOR-nope", "--to", "JPN", code=4)
    assert outbox_size(kor) == before


def test_a_delivery_not_settled_in_time_exits_1(nodes: dict[str, LoopbackNode], tmp_path: Path) -> None:
    kor = nodes["KOR"]
    item = originate(kor, tmp_path)
    stuck = cli(kor, "releaser", "items", "release", item, "--to", "USA", "--wait", "0.3", code=1)
    assert "still pending after 0.3 s" in stuck and "gsomia serve" in stuck


def test_release_many_stops_only_the_refused_ones_and_checks_the_file_first(nodes: dict[str, LoopbackNode],
                                                                            tmp_path: Path) -> None:
    kor = nodes["KOR"]
    good, usa_only = originate(kor, tmp_path), originate(kor, tmp_path, rel="USA")
    wanted = tmp_path / "releases.jsonl"
    wanted.write_text("\n".join(json.dumps(r) for r in (
        {"item_id": usa_only, "to": "JPN"}, {"item_id": good, "to": "jpn"}, {"item_id": "KOR-nope", "to": "JPN"})))
    before = outbox_size(kor)
    result = as_json(kor, "releaser", "items", "release-many", str(wanted), code=3)  # the first failure's code
    assert result["queued"] == 1
    first, second, third = result["outcomes"]
    assert first["error"]["rules"] == ["G1"] and second["message_id"] and "unknown item" in third["error"]["message"]
    assert outbox_size(kor) == before + 1
    wanted.write_text(json.dumps({"item_id": good, "to": "JPN"}) + "\n{not json\n")
    assert "line 2 is not JSON" in cli(kor, "releaser", "items", "release-many", str(wanted), code=2)
    wanted.write_text(json.dumps([{"item_id": good, "to": "JPN"}, {"item": good}]))
    assert "release 2 is not" in cli(kor, "releaser", "items", "release-many", str(wanted), code=2)
    assert outbox_size(kor) == before + 1  # a bad file writes nothing


def test_disclosure_needs_the_originators_consent_asked_and_granted_by_cli(nodes: dict[str, LoopbackNode],
                                                                          tmp_path: Path) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item = originate(kor, tmp_path)
    as_json(kor, "releaser", "items", "release", item, "--to", "JPN", "--wait", "30")
    held = wait_for(lambda: [i for i in as_json(jpn, "officer", "items", "list") if i["origin_ref"] == item],
                    "JPN's copy")[0]["id"]
    refused = cli(jpn, "analyst", "items", "disclose", held, "--to", "USA", code=3)
    assert "R6.a" in refused
    asked = as_json(jpn, "analyst", "consents", "request", held, "--to", "USA", "--purpose", "combined air defence")
    assert (asked["by"], asked["to"], asked["state"]) == ("KOR", "USA", "requested")
    wait_for(lambda: [c for c in as_json(kor, None, "consents", "list", "--state", "requested")
                      if c["id"] == asked["id"]], "the request at KOR")
    assert "R6.e" in cli(kor, "releaser", "consents", "grant", asked["id"], code=3)  # the security officer's
    granted = as_json(kor, None, "consents", "grant", asked["id"], "--reason", "combined air defence")
    assert granted["state"] == "granted"
    assert "already granted" in cli(kor, None, "consents", "refuse", asked["id"], code=5)
    assert "no consent request" in cli(kor, None, "consents", "grant", "consent-nope", code=4)
    wait_for(lambda: [c for c in as_json(jpn, None, "consents", "list", "--state", "granted")
                      if c["id"] == asked["id"]], "the consent at JPN")
    disclosed = as_json(jpn, "analyst", "items", "disclose", held, "--to", "USA")
    assert (disclosed["peer"], disclosed["state"]) == ("USA", "pending")  # USA is not running


def test_compromise_report_its_result_and_a_recall(nodes: dict[str, LoopbackNode], tmp_path: Path) -> None:
    kor, jpn = nodes["KOR"], nodes["JPN"]
    item = originate(kor, tmp_path)
    as_json(kor, "releaser", "items", "release", item, "--to", "JPN", "--wait", "30")
    held = wait_for(lambda: [i for i in as_json(jpn, "officer", "items", "list") if i["origin_ref"] == item],
                    "JPN's copy")[0]["id"]
    report = as_json(jpn, "officer", "items", "compromise", held, "--description", "courier bag opened")
    assert (report["direction"], report["originator"]) == ("sent", "KOR")
    wait_for(lambda: [r for r in as_json(kor, None, "reports", "list") if r["id"] == report["id"]], "the report")
    answered = as_json(jpn, "officer", "reports", "result", report["id"], "--result", "bag resealed; courier retrained")
    assert answered["result"] == "bag resealed; courier retrained"
    assert "no compromise report" in cli(jpn, "officer", "reports", "result", "report-nope", "--result", "x", code=4)
    recalled = as_json(kor, None, "items", "recall", item, "--reason", "possibly compromised")
    assert recalled["holders"] == ["JPN"]
    assert report["id"] in cli(kor, None, "reports", "list")


def test_standing_consent_and_checkpoint_exchange(nodes: dict[str, LoopbackNode]) -> None:
    kor = nodes["KOR"]
    given = as_json(kor, None, "consents", "standing", "--to", "JPN", "--topic", "dprk-missile", "--purpose",
                    "TISA relay of missile warnings", "--until", "2099-01-01T00:00:00Z")
    assert (given["state"], given["topics"]) == ("granted", ["dprk-missile"])
    assert "R6.e" in cli(kor, "releaser", "consents", "standing", "--to", "JPN", "--topic", "x", "--purpose", "p",
                         code=3)
    assert "--until" in cli(kor, None, "consents", "standing", "--to", "JPN", "--topic", "x", "--purpose", "p",
                            "--until", "someday", code=2)
    sent = as_json(kor, "officer", "audit", "exchange")
    assert sent["sent_to"] == ["JPN", "USA"] and sent["count"] > 0
    kinds = [m["kind"] for m in as_json(kor, "officer", "outbox")]
    assert kinds.count("audit-checkpoint") >= 2


def test_whoami_and_health(nodes: dict[str, LoopbackNode]) -> None:
    kor = nodes["KOR"]
    me = as_json(kor, "releaser", "whoami")
    assert me["roles"] == ["reader", "releasing_official"] and me["via"] == "cli-token"
    health = as_json(kor, None, "health")
    assert health["serving"] and health["partners"] == ["JPN", "USA"]
    assert "not serving" in cli(nodes["USA"], None, "health", code=1)
    assert "refused" in cli(kor, "analyst", "audit", "entries", code=3)  # the trail is the security officer's
    page = as_json(kor, "officer", "audit", "entries", "--limit", "2")
    assert len(page["entries"]) == 2 and page["next"] == page["entries"][-1]["seq"]
