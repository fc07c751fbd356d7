"""Batched delivery: messages travel to a partner in one POST and are recorded there in one transaction,
yet each is verified, decided, answered and audited on its own; one message's fault or refusal never
touches another's records; an item's notices leave in the order they were written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import cbor2
import httpx
import pytest
from tests.federation.harness import PASSPHRASE, RunningNode, delivered, originate, start, stop_all, wait_for

from gsomia.crypto import verify_record
from gsomia.demo.loopback import LoopbackNode, create_federation
from gsomia.federation.peer_app import MAX_BATCH_MESSAGES
from gsomia.federation.sender import BATCH_CONTENT_TYPE, BATCH_PATH
from gsomia.node import NodeTLS
from gsomia.services import inbound
from gsomia.services.context import Node
from gsomia.services.messages import AuditCheckpointMessage, ReclassificationMessage, encode
from gsomia.services.partners import load_partners
from gsomia.services.peer_messages import PeerMessage, ProtocolError, sign_message, sign_messages
from gsomia.storage.unit_of_work import UnitOfWork


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningNode]]:
    base: Path = tmp_path_factory.mktemp("batches")
    specs: dict[str, LoopbackNode] = create_federation(base, passphrase=PASSPHRASE, parties=("KOR", "JPN"))
    running = {party: start(spec) for party, spec in specs.items()}
    yield running
    stop_all(running)


def _post_batch(sender: RunningNode, to: RunningNode, body: bytes) -> httpx.Response:
    context = NodeTLS.of(sender.node, PASSPHRASE).client
    with httpx.Client(verify=context, timeout=10) as client:
        return client.post(to.spec.peer_url + BATCH_PATH, content=body, headers={"content-type": BATCH_CONTENT_TYPE})


def _checkpoint_message(kor: RunningNode, message_id: str) -> bytes:
    """A message whose handler refuses it (the record inside does not verify): a signed refusal."""
    return sign_message(kor.node.keys, message_id, "audit-checkpoint", "JPN", encode(AuditCheckpointMessage(b"junk")),
                        kor.node.clock())


def _audit(node: RunningNode) -> list[dict[str, object]]:
    listing = node.client("officer").get("/v1/audit/entries", params={"limit": 1000}).json()
    return list(listing if isinstance(listing, list) else listing["entries"])


def test_a_batch_is_answered_message_by_message(pair: dict[str, RunningNode]) -> None:
    kor, jpn = pair["KOR"], pair["JPN"]
    genuine = _checkpoint_message(kor, "msg-batch-0001")
    forged = bytearray(_checkpoint_message(kor, "msg-batch-0002"))
    forged[-5] ^= 0x01  # the signature no longer verifies
    answer = _post_batch(kor, jpn, cbor2.dumps([genuine, bytes(forged), genuine]))
    assert answer.status_code == 200
    first, second, third = cbor2.loads(answer.content)
    assert isinstance(first, bytes) and third == first  # the same message twice in a batch: one answer
    assert second["status"] == 401 and "signature" in second["error"]
    refusals = [e for e in _audit(jpn) if e.get("action") == "peer.message" and "signature" in str(e.get("reasons"))]
    assert refusals, "the forged message's refusal is audited on the side that refused"


def test_messages_signed_together_are_answered_by_receipts_signed_together(pair: dict[str, RunningNode]) -> None:
    """One signature per batch each way (a Merkle root, RFC 9942 style); every message and every receipt
    still verifies alone, so a receipt kept as evidence or passed on by a hub stands by itself."""
    kor, jpn = pair["KOR"], pair["JPN"]
    junk = encode(AuditCheckpointMessage(b"junk"))
    messages = sign_messages(kor.node.keys, [(f"msg-together-{n}", "audit-checkpoint", "JPN", junk) for n in range(5)],
                             kor.node.clock())
    assert len({cbor2.loads(m).value[3] for m in messages}) == 1
    receipts = cbor2.loads(_post_batch(kor, jpn, cbor2.dumps(messages)).content)
    assert len({cbor2.loads(r).value[3] for r in receipts}) == 1
    directory = load_partners(kor.spec.data).directory
    for n, receipt in enumerate(receipts):
        record = verify_record(receipt, trusted=directory, expected_type="receipt")
        assert record.signer.party == "JPN" and record.body["message_id"] == f"msg-together-{n}"


@pytest.mark.parametrize("body", [b"\xff\x00 not cbor", cbor2.dumps({"a": 1}), cbor2.dumps([1, 2]), cbor2.dumps([]),
                                  cbor2.dumps([b"x"] * (MAX_BATCH_MESSAGES + 1))])
def test_a_malformed_batch_is_refused_whole_with_a_reason(pair: dict[str, RunningNode], body: bytes) -> None:
    answer = _post_batch(pair["KOR"], pair["JPN"], body)
    assert answer.status_code == 400
    assert "batch" in answer.json()["error"]


def test_a_fault_in_one_message_leaves_the_others_recorded(pair: dict[str, RunningNode],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    kor, jpn = pair["KOR"], pair["JPN"]

    handle = inbound.dispatch

    def broken_for_reclassifications(node: Node, uow: UnitOfWork, message: PeerMessage, now: datetime) -> object:
        if isinstance(message.body, ReclassificationMessage):
            raise RuntimeError("a bug in a handler")
        return handle(node, uow, message, now)

    faulty = sign_message(kor.node.keys, "msg-fault-0001", "reclassification", "JPN",
                          encode(ReclassificationMessage("nothing", "KOR", "KOR:II", "a fault")), kor.node.clock())
    fine = _checkpoint_message(kor, "msg-fault-0002")
    monkeypatch.setattr(inbound, "dispatch", broken_for_reclassifications)
    answers = inbound.handle_messages(jpn.node, inbound.open_batch(jpn.node, [faulty, fine], "KOR"))
    assert isinstance(answers[0], ProtocolError) and answers[0].status == 500
    assert isinstance(answers[1], bytes)
    with jpn.node.store.unit_of_work(readonly=True) as uow:
        assert uow.exchange.seen("msg-fault-0001") is None  # not remembered: the retry is handled afresh
        assert uow.exchange.seen("msg-fault-0002") is not None


def test_releases_piled_up_while_the_partner_was_down_arrive_once_each(pair: dict[str, RunningNode]) -> None:
    kor, jpn = pair["KOR"], pair["JPN"]
    jpn.signal_stop()
    jpn.join()  # JPN down: the releases pile up in KOR's outbox, then leave together
    items = [originate(kor, f"batched {n}") for n in range(40)]
    releaser = kor.client("releaser")
    messages = [releaser.post(f"/v1/items/{i}/release", json={"to": "JPN"}).json()["message_id"] for i in items]
    pair["JPN"] = jpn = start(jpn.spec)
    for message_id in messages:
        assert wait_for(lambda m=message_id: delivered(kor, m), "every receipt", timeout=60)["state"] == "delivered"
    held = [i["origin_ref"] for i in jpn.client("officer").get("/v1/items", params={"limit": 1000}).json()
            if i.get("origin_ref") in items]
    assert sorted(held) == sorted(items)  # each once


def test_an_official_releases_several_items_at_once_each_decided_on_its_own(pair: dict[str, RunningNode]) -> None:
    kor, jpn = pair["KOR"], pair["JPN"]
    releasable = originate(kor, "for JPN")
    not_for_jpn = kor.client("releaser").post("/v1/items", json={
        "classification": "KOR:II", "releasable_to": ["USA", "KOR"], "topics": ["dprk-missile"],
        "purpose": "missile warning", "content_text": "not for JPN"}).json()["id"]
    answer = kor.client("releaser").post("/v1/releases", json={"releases": [
        {"item_id": releasable, "to": "JPN"}, {"item_id": not_for_jpn, "to": "JPN"},
        {"item_id": "KOR-no-such-item", "to": "JPN"}]})
    assert answer.status_code == 200
    body = answer.json()
    queued, refused, unknown = body["outcomes"]
    assert body["queued"] == 1 and queued["status"] == 202 and queued["message_id"]
    assert refused["status"] == 403 and refused["error"]["code"] == "refused" and refused["error"]["rules"]
    assert unknown["status"] == 404 and unknown["message_id"] is None
    assert wait_for(lambda: delivered(kor, queued["message_id"]), "the receipt")["state"] == "delivered"
    decisions = [e for e in _audit(kor) if e.get("action") == "item.release"
                 and e.get("subject") in (releasable, not_for_jpn)]
    assert sorted(e["decision"] for e in decisions) == ["allow", "deny"]  # both audited, in the same transaction
    assert not [i for i in jpn.client("officer").get("/v1/items").json() if i.get("origin_ref") == not_for_jpn]


def test_each_answer_of_a_batch_is_audited_and_noted_against_its_item(pair: dict[str, RunningNode]) -> None:
    """The sender records a batch's answers together (one audit append, one insert of item events):
    still one entry per answer, and each item's receipt event points at its own entry (R6.f)."""
    kor = pair["KOR"]
    refs = [originate(kor, f"batch answer {n}") for n in range(6)]
    answer = kor.client("releaser").post("/v1/releases", json={"releases": [{"item_id": r, "to": "JPN"}
                                                                             for r in refs]})
    assert answer.status_code == 200 and answer.json()["queued"] == 6
    for outcome in answer.json()["outcomes"]:
        wait_for(lambda m=outcome["message_id"]: delivered(kor, m), "the receipts")
    entries = {e["seq"]: e for e in _audit(kor)}
    for ref in refs:
        history = kor.client("releaser").get(f"/v1/items/{ref}/history").json()
        receipts = [e for e in history if e["kind"] == "receipt"]
        assert len(receipts) == 1, history
        entry = entries[receipts[0]["audit_seq"]]
        assert (entry["action"], entry["subject"]) == ("peer.item.accepted", ref)


def test_a_batch_of_releases_is_bounded_and_validated(pair: dict[str, RunningNode]) -> None:
    releaser = pair["KOR"].client("releaser")
    assert releaser.post("/v1/releases", json={"releases": []}).status_code == 422
    too_many = [{"item_id": f"KOR-{n}", "to": "JPN"} for n in range(201)]
    assert releaser.post("/v1/releases", json={"releases": too_many}).status_code == 422
    assert releaser.post("/v1/releases", json={"releases": [{"item_id": "x", "to": "Japan!"}]}).status_code == 422
